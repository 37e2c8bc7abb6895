/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "ref.h"

static const char usage[] =
    "Usage: berth image rm [-f] IMAGE...\n"
    "\n"
    "Remove image names. IMAGE given by name removes that name; given by digest or id it\n"
    "removes every name of that image. Blobs and layers nothing else uses are deleted.\n"
    "An image a machine uses keeps its last name unless --force is given (the machine\n"
    "keeps its data either way).\n"
    "\n"
    "Options:\n"
    "  -f, --force  remove names even when a machine uses the image\n"
    "  -h, --help   print this help\n";

/* Names in index.json that point at digest. */
static json_t *names_for(berth_store *s, const char *digest, berth_err *e)
{
	_cleanup_json_ json_t *index = NULL;
	_cleanup_close_ int lk = store_lock(s, false, e);
	if (lk < 0 || store_index_load(s, &index, e) < 0)
		return NULL;
	json_t *names = json_array();
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(index, "manifests"), i, m)
	{
		const char *d = json_string_value(json_object_get(m, "digest"));
		const char *n = json_string_value(
		    json_object_get(json_object_get(m, "annotations"), ANNOTATION_REF_NAME));
		if (d && n && !strcmp(d, digest))
			json_array_append_new(names, json_string(n));
	}
	return names;
}

static int rm_one(const berth_ctx *ctx, berth_store *s, const char *name, bool force, berth_err *e)
{
	_cleanup_free_ char *digest = NULL, *matched = NULL;
	int r = store_resolve(s, name, &digest, &matched, e);
	if (r < 0)
		return r;
	/* By name: just that name. By digest or id: every name of the image. */
	bool by_name = false;
	berth_ref ref = {0};
	berth_err ignored = {0};
	if (matched && ref_parse(name, &ref, &ignored) == 0) {
		_cleanup_free_ char *full = ref_format(&ref);
		by_name = full && !strcmp(full, matched);
		ref_free(&ref);
	}
	_cleanup_json_ json_t *names = names_for(s, digest, e);
	if (!names)
		return e->code ? e->code : berr(e, -ENOMEM, "Out of memory");
	size_t removing = by_name ? 1 : json_array_size(names);
	if (!force && removing >= json_array_size(names)) {
		_cleanup_strv_ char **holders = NULL;
		r = store_hold_list(s, digest, &holders, e);
		if (r < 0)
			return r;
		if (r > 0)
			return berr(e, -EBUSY,
				    "Image %s is used by %s; remove that first, or use --force to "
				    "remove the name anyway (the data stays until nothing uses it)",
				    name, holders[0]);
	}
	if (by_name) {
		r = store_untag(s, matched, e);
		if (r < 0)
			return r;
		if (!ctx->quiet && !ctx->json)
			printf("Untagged: %s\n", matched);
		return 0;
	}
	size_t i;
	json_t *n;
	json_array_foreach(names, i, n)
	{
		r = store_untag(s, json_string_value(n), e);
		if (r < 0)
			return r;
		if (!ctx->quiet && !ctx->json)
			printf("Untagged: %s\n", json_string_value(n));
	}
	return 0;
}

int cmd_image_rm(berth_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'}, CLI_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
	bool force = false;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "fhq", opts, NULL)) != -1) {
		if (c == 'f') {
			force = true;
			continue;
		}
		int r = cli_other_opt(ctx, c, "image rm", usage);
		if (r >= 0)
			return r;
	}
	if (optind >= argc)
		return cli_usage(ctx, "image rm", "Name at least one image to remove");
	berth_store s;
	if (cli_open_store(ctx, &s))
		return BERTH_EXIT_FAILURE;
	int rc = 0;
	for (int i = optind; i < argc; i++) {
		berth_err e = {0};
		if (rm_one(ctx, &s, argv[i], force, &e) < 0)
			rc = cli_fail(ctx, &e);
	}
	/* Free what nothing uses any more, unless another berth is busy with the store
	 * (then the next `image prune` does it). */
	prune_report rep;
	berth_err pe = {0};
	int r = store_prune(&s, false, &rep, &pe);
	if (r < 0 && r != -EAGAIN)
		rc = cli_fail(ctx, &pe);
	store_close(&s);
	return rc;
}
