/* SPDX-License-Identifier: MIT */
/*
 * Resource limits for PID 1. Raising a hard limit needs CAP_SYS_RESOURCE in the initial
 * user namespace, which a machine never has and some hosts withhold even from root (this
 * one caps RLIMIT_NOFILE at 20000; podman fails there asking for 1048576). So every wanted
 * limit is clamped to the current hard limit: lowering is always allowed, raising never
 * attempted.
 */
#include "runtime-internal.h"

#include <errno.h>
#include <sys/resource.h>

/* What systemd itself gives services: a select()-safe soft limit, a high hard limit. */
const rt_rlimit rt_default_rlimits[] = {{RLIMIT_NOFILE, 1024, 524288}};
const size_t rt_n_default_rlimits = sizeof(rt_default_rlimits) / sizeof(rt_default_rlimits[0]);

bool rt_rlimit_clamp(const rt_rlimit *want, uint64_t cur_hard, rt_rlimit *out)
{
	*out = *want;
	if (out->hard > cur_hard)
		out->hard = cur_hard;
	if (out->soft > out->hard)
		out->soft = out->hard;
	return out->hard != want->hard || out->soft != want->soft;
}

static const char *rlimit_name(int res)
{
	switch (res) {
	case RLIMIT_NOFILE:
		return "RLIMIT_NOFILE";
	case RLIMIT_NPROC:
		return "RLIMIT_NPROC";
	case RLIMIT_MEMLOCK:
		return "RLIMIT_MEMLOCK";
	case RLIMIT_CORE:
		return "RLIMIT_CORE";
	case RLIMIT_STACK:
		return "RLIMIT_STACK";
	default:
		return "a resource limit";
	}
}

int rt_rlimits_apply(const rt_rlimit *l, size_t n, berth_err *e)
{
	for (size_t i = 0; i < n; i++) {
		struct rlimit cur;
		if (getrlimit(l[i].resource, &cur) < 0)
			return berr_errno(e, -errno, "Cannot read %s", rlimit_name(l[i].resource));
		rt_rlimit got;
		rt_rlimit_clamp(&l[i], cur.rlim_max == RLIM_INFINITY ? UINT64_MAX : cur.rlim_max,
				&got);
		struct rlimit nl = {
		    .rlim_cur = got.soft == UINT64_MAX ? RLIM_INFINITY : (rlim_t)got.soft,
		    .rlim_max = got.hard == UINT64_MAX ? RLIM_INFINITY : (rlim_t)got.hard,
		};
		if (setrlimit(l[i].resource, &nl) < 0)
			return berr_errno(e, -errno, "Cannot set %s to %llu/%llu",
					  rlimit_name(l[i].resource), (unsigned long long)got.soft,
					  (unsigned long long)got.hard);
	}
	return 0;
}
