/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "cleanup.h"
#include "cli.h"
#include "machine.h"

static const char usage[] =
    "Usage: berth stats [OPTIONS] [NAME]\n"
    "\n"
    "Show what the running machine NAME (default: the default machine) uses now: memory\n"
    "(in all, anonymous and page cache), CPU time and processes, with their limits.\n"
    "\n"
    "Options:\n"
    "  --json       print the numbers (bytes, microseconds) as JSON\n"
    "  -h, --help   print this help\n";

int cmd_stats(berth_ctx *ctx, int argc, char **argv)
{
	int pr = cli_parse_common(ctx, argc, argv, "stats", usage);
	if (pr >= 0)
		return pr;
	if (argc - optind > 1)
		return cli_usage(ctx, "stats", "'stats' takes one machine name");
	berth_err e = {0};
	_cleanup_free_ char *name = NULL;
	rt_stats st;
	if (machine_resolve_name(ctx, optind < argc ? argv[optind] : NULL, &name, &e) < 0 ||
	    machine_stats(ctx, name, &st, &e) < 0)
		return cli_fail(ctx, &e);
	if (ctx->json) {
		json_t *j = json_pack(
		    "{s:s,s:{s:I,s:I,s:I,s:I},s:{s:I,s:I},s:{s:I,s:I}}", "name", name, "memory",
		    "usage", (json_int_t)st.memory, "anon", (json_int_t)st.anon, "file",
		    (json_int_t)st.file, "limit", (json_int_t)st.memory_limit, "cpu", "usage_usec",
		    (json_int_t)st.cpu_usec, "limit_millis", (json_int_t)st.cpu_millis, "pids",
		    "current", (json_int_t)st.pids, "limit", (json_int_t)st.pids_limit);
		cli_print_json(j);
		json_decref(j);
		return 0;
	}
	char a[32], b[32], c[32], d[32], cpus[32], pl[32];
	if (st.cpu_millis > 0)
		snprintf(cpus, sizeof(cpus), "%.2f", (double)st.cpu_millis / 1000);
	else
		snprintf(cpus, sizeof(cpus), "none");
	if (st.pids_limit > 0)
		snprintf(pl, sizeof(pl), "%lld", (long long)st.pids_limit);
	else
		snprintf(pl, sizeof(pl), "none");
	printf("%-12s %s\n", "machine", name);
	printf("%-12s %s (anon %s, page cache %s), limit %s\n", "memory",
	       cli_human_size((double)st.memory, a, sizeof(a)),
	       cli_human_size((double)st.anon, b, sizeof(b)),
	       cli_human_size((double)st.file, c, sizeof(c)),
	       st.memory_limit > 0 ? cli_human_size((double)st.memory_limit, d, sizeof(d))
				   : "none");
	printf("%-12s %.2fs used, limit %s CPUs\n", "cpu", (double)st.cpu_usec / 1e6, cpus);
	printf("%-12s %llu, limit %s\n", "processes", (unsigned long long)st.pids, pl);
	return 0;
}
