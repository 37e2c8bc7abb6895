/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "cli.h"
#include "machine.h"

static const char usage[] =
    "Usage: berth rm [OPTIONS] NAME...\n"
    "\n"
    "Remove machines: their writable layer (everything changed in them), console log and\n"
    "state, and their hold on the image they were made from.\n"
    "\n"
    "Options:\n"
    "  -f, --force  remove running machines too (they are killed first)\n"
    "  -q, --quiet  print nothing\n"
    "  -h, --help   print this help\n";

int cmd_rm(berth_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	bool force = false;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "hqf", opts, NULL)) != -1) {
		if (c == 'f') {
			force = true;
			continue;
		}
		int r = cli_other_opt(ctx, c, "rm", usage);
		if (r >= 0)
			return r;
	}
	if (optind >= argc)
		return cli_usage(ctx, "rm", "'rm' needs the name of a machine to remove");
	int rc = 0;
	for (int i = optind; i < argc; i++) {
		berth_err e = {0};
		if (machine_remove(ctx, argv[i], force, &e) < 0)
			rc = cli_fail(ctx, &e);
		else if (!ctx->quiet && !ctx->json)
			printf("%s\n", argv[i]);
	}
	return rc;
}
