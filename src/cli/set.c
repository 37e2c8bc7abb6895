/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "machine.h"

static const char usage[] =
    "Usage: berth set [NAME] KEY=VALUE...\n"
    "\n"
    "Change the limits of the machine NAME (default: the default machine). A running\n"
    "machine gets them at once, without a restart; they are saved for the next start.\n"
    "What it shares of the host (home, mounts) is saved and applies at the next start.\n"
    "\n"
    "Keys:\n"
    "  memory=SIZE   memory limit, e.g. 2G or 512M; 0 or none removes it\n"
    "  cpus=N        CPUs, e.g. 2 or 0.5; 0 or none removes the limit\n"
    "  pids=N        process limit; 0 or none removes it\n"
    "  home=MODE     share the host user's home rw, ro or not at all (none)\n"
    "  mount=SRC:DST[:ro]  share host path SRC at DST (replaces a mount at DST)\n"
    "  unmount=DST   stop sharing the mount at DST (or of host path DST)\n"
    "\n"
    "Options:\n"
    "  -q, --quiet   print nothing\n"
    "  -h, --help    print this help\n";

typedef struct set_request {
	rt_limits limits;
	bool any_limit, any_sharing;
	machine_sharing_change share;
	host_mount add[HOST_MOUNTS_MAX];
	char *remove[HOST_MOUNTS_MAX];
} set_request;

/* home=, mount=, unmount=: 1 when kv is one of them (0 when not, -1 after an error). */
static int parse_sharing(const berth_ctx *ctx, const char *kv, set_request *q)
{
	const char *v = strchr(kv, '=') + 1;
	size_t kl = (size_t)(v - 1 - kv);
	if (kl == 4 && !strncmp(kv, "home", 4)) {
		if (home_mode_parse(v, &q->share.home) < 0) {
			cli_usage(ctx, "set", "home= is rw, ro or none, not '%s'", v);
			return -1;
		}
		q->share.home_set = true;
	} else if (kl == 5 && !strncmp(kv, "mount", 5)) {
		berth_err e = {0};
		if (q->share.n_add == HOST_MOUNTS_MAX) {
			cli_usage(ctx, "set", "A machine takes at most %d mounts", HOST_MOUNTS_MAX);
			return -1;
		}
		if (host_mount_parse(v, &q->add[q->share.n_add], &e) < 0) {
			cli_fail(ctx, &e);
			return -1;
		}
		q->share.n_add++;
	} else if (kl == 7 && !strncmp(kv, "unmount", 7)) {
		if (v[0] != '/' || q->share.n_remove == HOST_MOUNTS_MAX) {
			cli_usage(ctx, "set",
				  "unmount= wants the absolute path of a mount, not '%s'", v);
			return -1;
		}
		q->remove[q->share.n_remove++] = (char *)v;
	} else {
		return 0;
	}
	q->any_sharing = true;
	return 1;
}

static int parse_pair(const berth_ctx *ctx, const char *kv, rt_limits *l)
{
	const char *eq = strchr(kv, '=');
	if (!eq)
		return cli_usage(ctx, "set", "'%s' is not KEY=VALUE", kv);
	size_t kl = (size_t)(eq - kv);
	const char *v = eq + 1;
	bool none = !strcmp(v, "none") || !strcmp(v, "max");
	if (kl == 6 && !strncmp(kv, "memory", 6)) {
		if (none)
			l->memory = 0;
		else if (machine_parse_size(v, &l->memory) < 0)
			return cli_usage(ctx, "set", "memory= wants a size such as 2G, not '%s'",
					 v);
	} else if (kl == 4 && !strncmp(kv, "cpus", 4)) {
		if (none)
			l->cpu_millis = 0;
		else if (machine_parse_cpus(v, &l->cpu_millis) < 0)
			return cli_usage(ctx, "set",
					 "cpus= wants a number such as 2 or 0.5, not '%s'", v);
	} else if (kl == 4 && !strncmp(kv, "pids", 4)) {
		char *end;
		long long n = none ? 0 : strtoll(v, &end, 10);
		if (!none && (*end || end == v || n < 0))
			return cli_usage(ctx, "set", "pids= wants a number, not '%s'", v);
		l->pids = n;
	} else {
		return cli_usage(ctx, "set",
				 "'%.*s' is not a setting; use memory, cpus, pids, home, mount or "
				 "unmount",
				 (int)kl, kv);
	}
	return 0;
}

int cmd_set(berth_ctx *ctx, int argc, char **argv)
{
	int pr = cli_parse_common(ctx, argc, argv, "set", usage);
	if (pr >= 0)
		return pr;
	const char *given = NULL;
	if (optind < argc && !strchr(argv[optind], '='))
		given = argv[optind++];
	if (optind >= argc)
		return cli_usage(ctx, "set", "'set' needs at least one KEY=VALUE");
	_cleanup_free_ set_request *q = calloc(1, sizeof(*q));
	if (!q)
		return cli_usage(ctx, "set", "Out of memory");
	q->limits = RT_LIMITS_UNCHANGED;
	for (int i = optind; i < argc; i++) {
		if (!strchr(argv[i], '='))
			return cli_usage(ctx, "set", "'%s' is not KEY=VALUE", argv[i]);
		int s = parse_sharing(ctx, argv[i], q);
		if (s < 0)
			return BERTH_EXIT_FAILURE;
		if (s == 0) {
			if (parse_pair(ctx, argv[i], &q->limits))
				return BERTH_EXIT_FAILURE;
			q->any_limit = true;
		}
	}
	q->share.add = q->add;
	q->share.remove = q->remove;
	berth_err e = {0};
	_cleanup_free_ char *name = NULL;
	bool applied = false, running = false;
	if (machine_resolve_name(ctx, given, &name, &e) < 0)
		return cli_fail(ctx, &e);
	/* Sharing first: it only edits config.json, and refuses before any limit changes. */
	if (q->any_sharing && machine_set_sharing(ctx, name, &q->share, &running, &e) < 0)
		return cli_fail(ctx, &e);
	if (q->any_limit && machine_set_limits(ctx, name, &q->limits, &applied, &e) < 0)
		return cli_fail(ctx, &e);
	bool next_start = q->any_sharing && running;
	if (ctx->json) {
		json_t *j = json_pack("{s:s,s:b,s:b}", "name", name, "applied", applied,
				      "next_start", next_start);
		cli_print_json(j);
		json_decref(j);
	} else if (!ctx->quiet) {
		printf("%s: saved%s%s\n", name,
		       applied ? " and applied to the running machine" : "",
		       next_start ? "; home and mounts change at the next start (berth restart "
				    "to apply them now)"
				  : "");
	}
	return 0;
}
