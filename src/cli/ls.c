/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "cli.h"
#include "machine.h"

static const char usage[] =
    "Usage: berth ls [OPTIONS]\n"
    "\n"
    "List running machines (all machines with -a). The default machine is marked '*'.\n"
    "\n"
    "Options:\n"
    "  -a, --all    list stopped machines too\n"
    "  --json       print a JSON array of {name, status, image, init, default, ...}\n"
    "  -q, --quiet  print only the names\n"
    "  -h, --help   print this help\n";

int cmd_ls(berth_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	bool all = false;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "hqa", opts, NULL)) != -1) {
		if (c == 'a') {
			all = true;
			continue;
		}
		int r = cli_other_opt(ctx, c, "ls", usage);
		if (r >= 0)
			return r;
	}
	if (optind < argc)
		return cli_usage(ctx, "ls", "'ls' takes no arguments");
	berth_err e = {0};
	_cleanup_strv_ char **names = NULL;
	if (machine_list(ctx, &names, &e) < 0)
		return cli_fail(ctx, &e);
	_cleanup_free_ char *def = NULL;
	machine_default_get(ctx, &def, &e);
	berr_clear(&e);
	_cleanup_json_ json_t *arr = json_array();
	if (!ctx->json && !ctx->quiet)
		printf("%-2s%-24s %-10s %-10s %-20s %s\n", "", "NAME", "STATUS", "INIT", "STARTED",
		       "IMAGE");
	for (char **n = names; n && *n; n++) {
		machine_info info;
		if (machine_info_load(ctx, *n, &info, &e) < 0) {
			berr_clear(&e);
			continue;
		}
		/* A monitor that died left the machine's processes and cgroup: clean up now. */
		if (info.stale && machine_reap_stale(ctx, *n, &e) < 0) {
			berth_warn(ctx, "%s", e.msg);
			berr_clear(&e);
		}
		bool running = info.status == MACHINE_RUNNING || info.status == MACHINE_STARTING ||
			       info.status == MACHINE_STOPPING;
		if (!all && !running)
			continue;
		bool is_def = def && !strcmp(def, *n);
		char started[32] = "-";
		if (info.started_at > 0) {
			time_t t = (time_t)info.started_at;
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(started, sizeof(started), "%FT%TZ", &tm);
		}
		const char *init = info.init_kind == RT_INIT_NONE && !info.init_path[0]
				       ? "none"
				       : rt_init_name(info.init_kind);
		if (ctx->json) {
			json_array_append_new(
			    arr,
			    json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:i,s:s}", "name", *n, "status",
				      machine_status_name(info.status), "image", info.image,
				      "image_digest", info.image_digest, "init", init, "default",
				      is_def, "init_pid", (int)info.init_pid, "started", started));
		} else if (ctx->quiet) {
			printf("%s\n", *n);
		} else {
			printf("%-2s%-24s %-10s %-10s %-20s %s\n", is_def ? "*" : "", *n,
			       machine_status_name(info.status), init, started, info.image);
		}
	}
	if (ctx->json)
		cli_print_json(arr);
	return 0;
}
