/* SPDX-License-Identifier: MIT */
/*
 * Taking the wait of the first cgroup move off a machine's start.
 *
 * Moving a process by writing cgroup.procs takes the kernel's cgroup threadgroup lock for
 * writing, and the first writer after a quiet spell waits for an RCU grace period: 10 to
 * 20 ms on a virtualised host, once per burst of moves (later writes within a grace period
 * are immediate). A start has about as much work of its own to do before its first move
 * (reading the machine's config, finding its init, writing its state), so a thread makes a
 * move that changes nothing, the caller's own process into its own cgroup, in the
 * meantime, and the start's moves come after it at no cost.
 *
 * Only for the v1 hierarchies: on cgroup2 the machine's init is created in its cgroup by
 * clone3(CLONE_INTO_CGROUP), which moves nothing and so never waits (spawn.c).
 */
#include "runtime-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static void *warm_up(void *arg)
{
	(void)arg;
	rt_cgroup own;
	berth_err e = {0};
	/* With no parent, the paths are <own cgroup>/berth-<name>: the own cgroup is their
	 * parent directory. */
	if (rt_cgroup_open("warmup", NULL, &own, &e) < 0)
		return NULL;
	for (size_t i = 0; i < own.n; i++) {
		if (own.h[i].v2)
			continue;
		char *slash = strrchr(own.h[i].path, '/');
		if (!slash)
			continue;
		char procs[sizeof(own.h[i].path) + 16];
		snprintf(procs, sizeof(procs), "%.*s/cgroup.procs", (int)(slash - own.h[i].path),
			 own.h[i].path);
		/* "0" is the writing process: it stays where it is. A failure (a regular user
		 * may not write there) only means no head start. */
		rt_write_file(procs, "0");
		break;
	}
	return NULL;
}

/* The thread runs on a stack of ours, unmapped once it is joined: glibc would keep a stack
 * of its own making for the next thread, and its pages would stay in a long-lived caller
 * (the monitor) for nothing. */
#define WARMUP_STACK (256 * 1024)

void rt_cgroup_warmup_start(rt_cgroup_warmup *w)
{
	w->started = false;
	w->stack = mmap(NULL, WARMUP_STACK, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (w->stack == MAP_FAILED) {
		w->stack = NULL;
		return;
	}
	pthread_attr_t attr;
	if (pthread_attr_init(&attr) == 0) {
		if (pthread_attr_setstack(&attr, w->stack, WARMUP_STACK) == 0)
			w->started = pthread_create(&w->thread, &attr, warm_up, NULL) == 0;
		pthread_attr_destroy(&attr);
	}
	if (!w->started) {
		munmap(w->stack, WARMUP_STACK);
		w->stack = NULL;
	}
}

void rt_cgroup_warmup_finish(rt_cgroup_warmup *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	if (w->stack)
		munmap(w->stack, WARMUP_STACK);
	w->started = false;
	w->stack = NULL;
}
