/* SPDX-License-Identifier: MIT */
/*
 * The capability bounding set of a machine's processes.
 *
 * Machine root has every capability in its user namespace, but several only mean something
 * for the host (loading modules, raw I/O, the clock, the kernel log). Keeping them only
 * makes an init try things that fail: systemd starts sys-kernel-debug.mount because
 * ConditionCapability=CAP_SYS_RAWIO holds, and the mount fails. So the bounding set is
 * systemd-nspawn's default set (systemd-nspawn(1), --capability), plus CAP_NET_ADMIN when
 * the machine has its own network namespace.
 */
#include "runtime-internal.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>

static const int keep[] = {
    CAP_AUDIT_CONTROL,
    CAP_AUDIT_WRITE,
    CAP_CHOWN,
    CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH,
    CAP_FOWNER,
    CAP_FSETID,
    CAP_IPC_OWNER,
    CAP_KILL,
    CAP_LEASE,
    CAP_LINUX_IMMUTABLE,
    CAP_MKNOD,
    CAP_NET_BIND_SERVICE,
    CAP_NET_BROADCAST,
    CAP_NET_RAW,
    CAP_SETFCAP,
    CAP_SETGID,
    CAP_SETPCAP,
    CAP_SETUID,
    CAP_SYS_ADMIN,
    CAP_SYS_BOOT,
    CAP_SYS_CHROOT,
    CAP_SYS_NICE,
    CAP_SYS_PTRACE,
    CAP_SYS_RESOURCE,
    CAP_SYS_TTY_CONFIG,
};

bool rt_cap_kept(int cap, bool own_net)
{
	if (cap == CAP_NET_ADMIN)
		return own_net;
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (keep[i] == cap)
			return true;
	return false;
}

int rt_caps_bound(bool own_net)
{
	for (int cap = 0; cap <= 63; cap++) {
		if (rt_cap_kept(cap, own_net))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break; /* past the last capability this kernel knows */
			return -errno;
		}
	}
	return 0;
}
