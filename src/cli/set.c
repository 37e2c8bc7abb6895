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
    "\n"
    "Keys:\n"
    "  memory=SIZE   memory limit, e.g. 2G or 512M; 0 or none removes it\n"
    "  cpus=N        CPUs, e.g. 2 or 0.5; 0 or none removes the limit\n"
    "  pids=N        process limit; 0 or none removes it\n"
    "\n"
    "Options:\n"
    "  -q, --quiet   print nothing\n"
    "  -h, --help    print this help\n";

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
		return cli_usage(ctx, "set", "'%.*s' is not a setting; use memory, cpus or pids",
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
	rt_limits l = RT_LIMITS_UNCHANGED;
	for (int i = optind; i < argc; i++)
		if (parse_pair(ctx, argv[i], &l))
			return BERTH_EXIT_FAILURE;
	berth_err e = {0};
	_cleanup_free_ char *name = NULL;
	bool applied = false;
	if (machine_resolve_name(ctx, given, &name, &e) < 0 ||
	    machine_set_limits(ctx, name, &l, &applied, &e) < 0)
		return cli_fail(ctx, &e);
	if (ctx->json) {
		json_t *j = json_pack("{s:s,s:b}", "name", name, "applied", applied);
		cli_print_json(j);
		json_decref(j);
	} else if (!ctx->quiet) {
		printf("%s: saved%s\n", name, applied ? " and applied to the running machine" : "");
	}
	return 0;
}
