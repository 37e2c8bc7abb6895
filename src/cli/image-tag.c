/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "image.h"
#include "ref.h"

static const char usage[] =
    "Usage: berth image tag IMAGE NAME...\n"
    "\n"
    "Give the image IMAGE (a name, digest or id) the additional names NAME.\n"
    "\n"
    "Options:\n"
    "  -h, --help   print this help\n";

int cmd_image_tag(berth_ctx *ctx, int argc, char **argv)
{
	int pr = cli_parse_common(ctx, argc, argv, "image tag", usage);
	if (pr >= 0)
		return pr;
	if (argc - optind < 2)
		return cli_usage(ctx, "image tag", "'image tag' needs an image and a new name");
	berth_store s;
	if (cli_open_store(ctx, &s))
		return BERTH_EXIT_FAILURE;
	berth_err e = {0};
	_cleanup_free_ char *digest = NULL;
	stored_image img = {0};
	int rc = 0;
	if (store_resolve(&s, argv[optind], &digest, NULL, &e) < 0 ||
	    stored_image_load(&s, digest, &img, &e) < 0) {
		store_close(&s);
		return cli_fail(ctx, &e);
	}
	for (int i = optind + 1; i < argc && rc == 0; i++) {
		berth_ref ref = {0};
		if (ref_parse(argv[i], &ref, &e) < 0) {
			rc = cli_fail(ctx, &e);
			break;
		}
		if (ref.digest) {
			ref_free(&ref);
			berr(&e, -EINVAL, "The new name %s has a digest; a name to tag must not",
			     argv[i]);
			rc = cli_fail(ctx, &e);
			break;
		}
		_cleanup_free_ char *full = ref_format(&ref);
		ref_free(&ref);
		if (store_tag(&s, full, digest, img.manifest.media_type, img.manifest_size, &e) <
		    0) {
			rc = cli_fail(ctx, &e);
			break;
		}
		if (!ctx->quiet && !ctx->json)
			printf("%s\n", full);
	}
	stored_image_free(&img);
	store_close(&s);
	return rc;
}
