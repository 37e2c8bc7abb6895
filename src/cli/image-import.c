/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "import.h"

static const char usage[] =
    "Usage: berth image import [OPTIONS] PATH[:NAME]\n"
    "\n"
    "Import an image from a file or directory, found out by content:\n"
    "  * an OCI image layout directory (oci-layout, index.json, blobs/)\n"
    "  * an OCI archive: such a layout in a tar (skopeo oci-archive:, podman save\n"
    "    --format oci-archive)\n"
    "  * a docker archive (docker save, podman save, skopeo docker-archive:)\n"
    "  * a root filesystem tar, plain or compressed with gzip or zstd; it becomes a\n"
    "    one-layer image for this host's platform\n"
    "Archives may be gzip or zstd compressed. Every blob is verified against its digest.\n"
    "\n"
    "When the layout or archive holds several images, PATH:NAME picks the one named NAME\n"
    "(its org.opencontainers.image.ref.name or docker RepoTag).\n"
    "\n"
    "The image is named --tag REF, else the name the archive gives it (a docker RepoTag,\n"
    "or a full reference in the OCI ref.name annotation), else\n"
    "localhost/import-<first 12 digits of the manifest digest>:latest.\n"
    "\n"
    "Options:\n"
    "  -t, --tag REF  name the imported image REF\n"
    "  --json         print {\"reference\": ..., \"digest\": ...}\n"
    "  -q, --quiet    print only the manifest digest\n"
    "  --debug        print diagnostics to stderr\n"
    "  -h, --help     print this help\n";

int cmd_image_import(berth_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"tag", required_argument, NULL, 't'},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	const char *tag = NULL;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "hqt:", opts, NULL)) != -1) {
		if (c == 't') {
			tag = optarg;
			continue;
		}
		int r = cli_other_opt(ctx, c, "image import", usage);
		if (r >= 0)
			return r;
	}
	if (argc - optind != 1)
		return cli_usage(ctx, "image import",
				 "'image import' needs exactly one PATH (an OCI layout, an OCI or "
				 "docker archive, or a root filesystem tar)");
	berth_store s;
	if (cli_open_store(ctx, &s))
		return BERTH_EXIT_FAILURE;
	berth_err e = {0};
	char digest[DIGEST_STR_LEN];
	_cleanup_free_ char *ref = NULL;
	int r = image_import(ctx, &s, argv[optind], tag, digest, &ref, &e);
	store_close(&s);
	if (r < 0)
		return cli_fail(ctx, &e);
	if (ctx->json) {
		_cleanup_json_ json_t *j =
		    json_pack("{s:s,s:s}", "reference", ref, "digest", digest);
		if (!j) {
			berr(&e, -ENOMEM, "Out of memory");
			return cli_fail(ctx, &e);
		}
		cli_print_json(j);
	} else if (ctx->quiet) {
		printf("%s\n", digest);
	} else {
		printf("Imported %s\nDigest: %s\n", ref, digest);
	}
	return 0;
}
