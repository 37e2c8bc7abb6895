/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "image.h"
#include "manifest.h"
#include "pull.h"
#include "ref.h"

static const char usage[] =
    "Usage: berth image pull [OPTIONS] REFERENCE\n"
    "\n"
    "Pull an image from a registry into the store, unpack its layers and name it.\n"
    "REFERENCE is normalised as docker does: 'debian' is docker.io/library/debian:latest.\n"
    "Prints the image's manifest digest.\n"
    "\n"
    "Options:\n"
    "  --platform OS/ARCH[/VARIANT]  platform to pull from a multi-platform image\n"
    "                                (default: this host's)\n"
    "  --tls-verify=false            skip TLS certificate checks and allow plain HTTP\n"
    "                                (plain HTTP is always allowed for localhost)\n"
    "  -q, --quiet                   print only the digest\n"
    "  --json                        print {reference, digest, platform} as JSON\n"
    "  --debug                       print diagnostics to stderr\n"
    "  -h, --help                    print this help\n"
    "\n"
    "Credentials come from $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json or\n"
    "~/.docker/config.json. A trusted CA for a private registry can be given with\n"
    "$SSL_CERT_FILE.\n";

#define OPT_PLATFORM 0x2001
#define OPT_TLS_VERIFY 0x2002

static int parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "yes")) {
		*out = true;
		return 0;
	}
	if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "no")) {
		*out = false;
		return 0;
	}
	return -1;
}

int cmd_image_pull(berth_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"platform", required_argument, NULL, OPT_PLATFORM},
	    {"tls-verify", optional_argument, NULL, OPT_TLS_VERIFY},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	pull_opts o = {.tls_verify = true};
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
		switch (c) {
		case OPT_PLATFORM:
			o.platform = optarg;
			break;
		case OPT_TLS_VERIFY:
			if (!optarg)
				o.tls_verify = true;
			else if (parse_bool(optarg, &o.tls_verify) < 0)
				return cli_usage(ctx, "image pull",
						 "--tls-verify takes true or false, not '%s'",
						 optarg);
			break;
		default: {
			int r = cli_other_opt(ctx, c, "image pull", usage);
			if (r >= 0)
				return r;
		}
		}
	}
	if (argc - optind != 1)
		return cli_usage(ctx, "image pull",
				 argc - optind < 1 ? "'image pull' needs an image reference"
						   : "'image pull' takes one image reference");
	berth_err e = {0};
	if (o.platform) {
		char *os = NULL, *arch = NULL, *variant = NULL;
		int k = platform_parse(o.platform, &os, &arch, &variant, &e);
		free(os);
		free(arch);
		free(variant);
		if (k < 0)
			return cli_usage(ctx, "image pull", "%s", e.msg);
	}
	berth_ref ref = {0};
	if (ref_parse(argv[optind], &ref, &e) < 0)
		return cli_fail(ctx, &e);
	berth_store s;
	if (cli_open_store(ctx, &s)) {
		ref_free(&ref);
		return BERTH_EXIT_FAILURE;
	}
	char digest[DIGEST_STR_LEN];
	int k = image_pull(ctx, &s, &ref, &o, digest, &e);
	_cleanup_free_ char *platform = NULL;
	if (k == 0 && ctx->json) {
		/* The platform of what was stored, from its config. */
		stored_image img = {0};
		k = stored_image_load(&s, digest, &img, &e);
		if (k == 0 &&
		    asprintf(&platform, "%s/%s%s%s", img.config.os ? img.config.os : "unknown",
			     img.config.arch ? img.config.arch : "unknown",
			     img.config.variant ? "/" : "",
			     img.config.variant ? img.config.variant : "") < 0)
			platform = NULL;
		stored_image_free(&img);
	}
	store_close(&s);
	if (k < 0) {
		ref_free(&ref);
		return cli_fail(ctx, &e);
	}
	_cleanup_free_ char *name = ref_format(&ref);
	ref_free(&ref);
	if (ctx->json) {
		_cleanup_json_ json_t *j =
		    json_pack("{s:s,s:s,s:s}", "reference", name ? name : argv[optind], "digest",
			      digest, "platform", platform ? platform : "unknown");
		if (j)
			cli_print_json(j);
	} else {
		printf("%s\n", digest);
	}
	return 0;
}
