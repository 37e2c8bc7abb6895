/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "cli.h"

static const char usage[] =
    "Usage: berth image prune [--json]\n"
    "\n"
    "Delete blobs, unpacked layers, partial downloads and scratch files that no image name\n"
    "and no machine uses. Waits for other berth processes using the store to finish.\n"
    "\n"
    "Options:\n"
    "  --json       print what was freed as JSON\n"
    "  -h, --help   print this help\n";

int cmd_image_prune(berth_ctx *ctx, int argc, char **argv)
{
	int pr = cli_parse_common(ctx, argc, argv, "image prune", usage);
	if (pr >= 0)
		return pr;
	if (optind < argc)
		return cli_usage(ctx, "image prune", "'image prune' takes no arguments");
	berth_store s;
	if (cli_open_store(ctx, &s))
		return BERTH_EXIT_FAILURE;
	berth_err e = {0};
	prune_report rep;
	int r = store_prune(&s, true, &rep, &e);
	store_close(&s);
	if (r < 0)
		return cli_fail(ctx, &e);
	if (ctx->json) {
		json_t *j = json_pack("{s:I,s:I,s:I}", "blobs", (json_int_t)rep.blobs, "layers",
				      (json_int_t)rep.layers, "bytes", (json_int_t)rep.bytes);
		cli_print_json(j);
		json_decref(j);
	} else if (!ctx->quiet) {
		char size[32];
		printf("Deleted %llu blobs and %llu layers, freed %s\n",
		       (unsigned long long)rep.blobs, (unsigned long long)rep.layers,
		       cli_human_size((double)rep.bytes, size, sizeof(size)));
	}
	return 0;
}
