/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "cleanup.h"
#include "cli.h"
#include "machine.h"

static const char usage[] =
    "Usage: berth inspect [NAME]\n"
    "\n"
    "Print everything about the machine NAME (default: the default machine) as JSON: its\n"
    "configuration, current state, paths on the host, limits and init.\n"
    "\n"
    "Options:\n"
    "  -h, --help   print this help\n";

int cmd_inspect(berth_ctx *ctx, int argc, char **argv)
{
	int pr = cli_parse_common(ctx, argc, argv, "inspect", usage);
	if (pr >= 0)
		return pr;
	if (argc - optind > 1)
		return cli_usage(ctx, "inspect", "'inspect' takes one machine name");
	berth_err e = {0};
	_cleanup_free_ char *name = NULL;
	_cleanup_json_ json_t *j = NULL;
	if (machine_resolve_name(ctx, optind < argc ? argv[optind] : NULL, &name, &e) < 0 ||
	    machine_inspect(ctx, name, &j, &e) < 0)
		return cli_fail(ctx, &e);
	cli_print_json(j);
	return 0;
}
