/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "image.h"
#include "ref.h"

static const char usage[] = "Usage: berth image ls [--json] [-q]\n"
			    "\n"
			    "List the images in the store with their names, ids and sizes.\n"
			    "\n"
			    "Options:\n"
			    "  --json       print a JSON array\n"
			    "  -q, --quiet  print image ids only\n"
			    "  -h, --help   print this help\n";

/* Split a normalised reference into repository and tag/digest for display. */
static void split_ref(const char *ref, char *repo, size_t rlen, char *tag, size_t tlen)
{
	const char *at = strchr(ref, '@');
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(ref, ':');
	size_t end = at ? (size_t)(at - ref) : strlen(ref);
	if (colon && (!slash || colon > slash) && (size_t)(colon - ref) < end) {
		snprintf(repo, rlen, "%.*s", (int)(colon - ref), ref);
		snprintf(tag, tlen, "%.*s", (int)(end - (size_t)(colon - ref) - 1), colon + 1);
	} else {
		snprintf(repo, rlen, "%.*s", (int)end, ref);
		snprintf(tag, tlen, "<none>");
	}
}

int cmd_image_ls(berth_ctx *ctx, int argc, char **argv)
{
	int pr = cli_parse_common(ctx, argc, argv, "image ls", usage);
	if (pr >= 0)
		return pr;
	if (optind < argc)
		return cli_usage(ctx, "image ls", "'image ls' takes no arguments");

	berth_store s;
	if (cli_open_store(ctx, &s))
		return BERTH_EXIT_FAILURE;
	berth_err e = {0};
	_cleanup_json_ json_t *index = NULL;
	{
		_cleanup_close_ int lk = store_lock(&s, false, &e);
		if (lk < 0 || store_index_load(&s, &index, &e) < 0) {
			store_close(&s);
			return cli_fail(ctx, &e);
		}
	}
	_cleanup_json_ json_t *out = json_array();
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(index, "manifests"), i, m)
	{
		const char *digest = json_string_value(json_object_get(m, "digest"));
		json_t *ann = json_object_get(m, "annotations");
		const char *ref = json_string_value(json_object_get(ann, ANNOTATION_REF_NAME));
		const char *created = json_string_value(json_object_get(ann, ANNOTATION_CREATED));
		if (!digest || !digest_valid(digest) || !ref)
			continue;
		stored_image img;
		berth_err ie = {0};
		int64_t size = -1;
		const char *platform_os = NULL, *platform_arch = NULL;
		bool ok = stored_image_load(&s, digest, &img, &ie) == 0;
		if (ok) {
			size = stored_image_size(&img);
			platform_os = img.config.os;
			platform_arch = img.config.arch;
		}
		char repo[512], tag[256];
		split_ref(ref, repo, sizeof(repo), tag, sizeof(tag));
		json_t *row = json_pack("{s:s,s:s,s:s,s:s,s:s*,s:I,s:s*,s:s*}", "reference", ref,
					"repository", repo, "tag", tag, "digest", digest, "created",
					created, "size", (json_int_t)size, "os", platform_os,
					"architecture", platform_arch);
		if (!ok)
			json_object_set_new(row, "error", json_string(ie.msg));
		if (ok)
			stored_image_free(&img);
		json_array_append_new(out, row);
	}
	store_close(&s);

	if (ctx->json) {
		cli_print_json(out);
		return 0;
	}
	if (ctx->quiet) {
		json_array_foreach(out, i, m)
		{
			const char *d = json_string_value(json_object_get(m, "digest"));
			printf("%.12s\n", digest_hex(d));
		}
		return 0;
	}
	printf("%-48s %-16s %-12s %-20s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
	json_array_foreach(out, i, m)
	{
		char size[32];
		json_int_t sz = json_integer_value(json_object_get(m, "size"));
		const char *created = json_string_value(json_object_get(m, "created"));
		printf("%-48s %-16s %-12.12s %-20s %s\n",
		       json_string_value(json_object_get(m, "repository")),
		       json_string_value(json_object_get(m, "tag")),
		       digest_hex(json_string_value(json_object_get(m, "digest"))),
		       created ? created : "",
		       sz >= 0 ? cli_human_size((double)sz, size, sizeof(size)) : "(damaged)");
	}
	return 0;
}
