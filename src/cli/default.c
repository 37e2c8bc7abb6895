/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "cleanup.h"
#include "cli.h"
#include "machine.h"

static const char usage[] =
    "Usage: berth default [NAME]\n"
    "       berth default --clear\n"
    "\n"
    "Print the default machine, the one verbs use when their NAME is left out, or make\n"
    "NAME the default. The first machine created becomes the default.\n"
    "\n"
    "Options:\n"
    "  --clear      have no default machine\n"
    "  --json       print {\"default\": NAME or null}\n"
    "  -h, --help   print this help\n";

int cmd_default(berth_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"clear", no_argument, NULL, 'C'},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	bool clear = false;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
		if (c == 'C') {
			clear = true;
			continue;
		}
		int r = cli_other_opt(ctx, c, "default", usage);
		if (r >= 0)
			return r;
	}
	if (argc - optind > 1 || (clear && optind < argc))
		return cli_usage(ctx, "default", "'default' takes at most one machine name");
	berth_err e = {0};
	if (clear)
		return machine_default_set(ctx, NULL, &e) < 0 ? cli_fail(ctx, &e) : 0;
	if (optind < argc) {
		const char *name = argv[optind];
		if (machine_name_valid(name, &e) < 0)
			return cli_fail(ctx, &e);
		if (!machine_exists(ctx, name)) {
			berr(&e, -ENOENT,
			     "There is no machine called '%s'; 'berth ls -a' lists them", name);
			return cli_fail(ctx, &e);
		}
		return machine_default_set(ctx, name, &e) < 0 ? cli_fail(ctx, &e) : 0;
	}
	_cleanup_free_ char *def = NULL;
	if (machine_default_get(ctx, &def, &e) < 0)
		return cli_fail(ctx, &e);
	if (ctx->json) {
		json_t *j = json_pack("{s:s?}", "default", def);
		cli_print_json(j);
		json_decref(j);
		return 0;
	}
	if (!def) {
		berr(&e, -ENOENT,
		     "There is no default machine; choose one with 'berth default NAME'");
		return cli_fail(ctx, &e);
	}
	printf("%s\n", def);
	return 0;
}
