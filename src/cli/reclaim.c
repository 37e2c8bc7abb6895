/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "cleanup.h"
#include "cli.h"
#include "machine.h"

static const char usage[] =
    "Usage: berth reclaim [OPTIONS] [NAME]\n"
    "\n"
    "Give back the memory the running machine NAME (default: the default machine) can do\n"
    "without now, mostly page cache, and print how much was freed. The machine keeps\n"
    "running; its limits do not change.\n"
    "\n"
    "Options:\n"
    "  --json       print {\"name\": ..., \"freed\": BYTES}\n"
    "  -q, --quiet  print only the bytes freed\n"
    "  -h, --help   print this help\n";

int cmd_reclaim(berth_ctx *ctx, int argc, char **argv)
{
	int pr = cli_parse_common(ctx, argc, argv, "reclaim", usage);
	if (pr >= 0)
		return pr;
	if (argc - optind > 1)
		return cli_usage(ctx, "reclaim", "'reclaim' takes one machine name");
	berth_err e = {0};
	_cleanup_free_ char *name = NULL;
	uint64_t freed = 0;
	if (machine_resolve_name(ctx, optind < argc ? argv[optind] : NULL, &name, &e) < 0 ||
	    machine_reclaim(ctx, name, &freed, &e) < 0)
		return cli_fail(ctx, &e);
	if (ctx->json) {
		json_t *j = json_pack("{s:s,s:I}", "name", name, "freed", (json_int_t)freed);
		cli_print_json(j);
		json_decref(j);
	} else if (ctx->quiet) {
		printf("%llu\n", (unsigned long long)freed);
	} else {
		char h[32];
		printf("Reclaimed %s from machine %s\n",
		       cli_human_size((double)freed, h, sizeof(h)), name);
	}
	return 0;
}
