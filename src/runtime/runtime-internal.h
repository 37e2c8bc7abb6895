/* SPDX-License-Identifier: MIT */
#pragma once
/* Helpers shared by the runtime's files; not part of the public API (runtime.h). */
#include <linux/sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "runtime.h"

/* Write a whole string to a file (O_WRONLY|O_CLOEXEC, no O_CREAT, no O_TRUNC): kernel
 * interfaces such as cgroup and /proc files. Returns 0 or a negative errno. */
int rt_write_file(const char *path, const char *s);
/* Read a small file into buf (NUL-terminated). Returns the length or a negative errno. */
ssize_t rt_read_file(const char *path, char *buf, size_t size);

/* Replace path by a file holding text, atomically (a temporary file beside it renamed over
 * it, so a symlink at path is replaced, never written through), with mode and owner.
 * Returns 0 or a negative errno; nothing is left behind on failure. */
int rt_write_file_atomic(const char *path, const char *text, size_t len, mode_t mode, uid_t uid,
			 gid_t gid);

/* mkdir -p with mode for missing components (absolute path). */
int rt_mkdir_p(const char *path, mode_t mode);

/*
 * Build the machine's root as a detached mount (fsopen/open_tree), for the parent side when
 * the runtime writes the id maps itself: every layer and the upper directory are attached
 * through idmapped mounts of userns_fd, so on-disk id 0 is the machine's root. With
 * userns_fd < 0 (inside the user namespace, caller not root) the same mount is built
 * without idmaps. Returns the mount fd or a negative errno.
 */
int rt_rootfs_build(const rt_rootfs *r, int userns_fd, berth_err *e);

/* Child side: everything between "namespaces exist" and "exec PID 1": attach root_fd (a
 * detached mount) at r->mountpoint, set up /dev, /proc, /sys, cgroups, /run, /tmp,
 * /run/host, binds, then pivot_root. *notify_fd gets the bound notify socket when
 * c->notify. */
int rt_mounts_setup(const rt_config *c, const rt_cgroup *cg, int root_fd, int *notify_fd,
		    berth_err *e);

/* Mount the machine's view of the cgroup hierarchies under root/sys/fs/cgroup (called in
 * the child after unshare(CLONE_NEWCGROUP)). */
int rt_cgroup_mount_inside(const rt_cgroup *cg, const char *root, berth_err *e);

/* Fork a process in a new user namespace with the given maps and return an fd of that
 * namespace (the process is gone when this returns). */
int rt_userns_fd(const rt_idmap *m, berth_err *e);

/* clone3(args); with cgroup_fd >= 0 (a cgroup2 directory), first right into that cgroup
 * with CLONE_INTO_CGROUP, which unlike a move afterwards never waits for the kernel's cgroup
 * lock (see cgroup-warmup.c). Where that is refused (kernels before 5.7, or a host that
 * allows only a move) it clones without it. *in_cgroup says which. Returns as clone3. */
long rt_clone3(struct clone_args *args, int cgroup_fd, bool *in_cgroup);

/* The path (inside the hierarchy) of a process's cgroup in hierarchy h, from the text of
 * its /proc/PID/cgroup. Returns 0 or -ENOENT. */
int rt_cgroup_proc_path(const char *proc_cgroup, const rt_cg_hier *h, char *out, size_t size);

/* pidfd helpers through syscall(2), for libcs without wrappers. */
int rt_pidfd_open(pid_t pid);
int rt_pidfd_send_signal(int pidfd, int sig);

/* Whether a capability stays in a machine's bounding set (caps.c), and drop the others
 * from the calling process's bounding set. */
bool rt_cap_kept(int cap, bool own_net);
int rt_caps_bound(bool own_net);
