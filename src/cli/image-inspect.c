/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "image.h"
#include "layers.h"

static const char usage[] =
    "Usage: berth image inspect IMAGE...\n"
    "\n"
    "Print a JSON array with, for each image: its names, manifest digest (and sourceDigest,\n"
    "the digest the registry serves it by, which differs when berth stored a Docker\n"
    "manifest as OCI), config, layers (digest, diff id, chain id, compressed and unpacked\n"
    "sizes) and total sizes.\n"
    "IMAGE is a name (debian:bookworm), a digest (sha256:...) or an id prefix.\n"
    "\n"
    "Options:\n"
    "  -h, --help   print this help\n";

static json_t *names_of(json_t *index, const char *digest)
{
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

static json_t *layer_json(berth_store *s, const char *chain)
{
	char path[DIGEST_HEX_LEN + 16];
	snprintf(path, sizeof(path), "%s/layer.json", digest_hex(chain));
	_cleanup_close_ int fd = openat(s->layers_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	return json_loadfd(fd, 0, NULL);
}

static int inspect_one(berth_store *s, json_t *index, const char *name, json_t *out, berth_err *e)
{
	_cleanup_free_ char *digest = NULL;
	int r = store_resolve(s, name, &digest, NULL, e);
	if (r < 0)
		return r;
	stored_image img;
	r = stored_image_load(s, digest, &img, e);
	if (r < 0)
		return r;
	char(*chains)[DIGEST_STR_LEN] = NULL;
	r = image_chain_ids(&img.config, &chains, e);
	if (r < 0) {
		stored_image_free(&img);
		return r;
	}
	json_t *layers = json_array();
	json_int_t unpacked_total = 0;
	bool all_unpacked = true;
	for (size_t i = 0; i < img.manifest.n_layers; i++) {
		const oci_descriptor *l = &img.manifest.layers[i];
		json_t *lj =
		    json_pack("{s:s,s:s,s:I,s:s,s:s}", "digest", l->digest, "mediaType",
			      l->media_type ? l->media_type : "", "size", (json_int_t)l->size,
			      "diffID", img.config.diff_ids[i], "chainID", chains[i]);
		_cleanup_json_ json_t *meta = layer_json(s, chains[i]);
		json_int_t ub = json_integer_value(json_object_get(meta, "unpackedBytes"));
		json_object_set_new(lj, "unpacked", json_boolean(meta != NULL));
		if (meta) {
			json_object_set_new(lj, "unpackedSize", json_integer(ub));
			unpacked_total += ub;
		} else {
			all_unpacked = false;
		}
		json_array_append_new(layers, lj);
	}
	free(chains);
	json_t *cfg = img.config.raw;
	json_t *j = json_pack(
	    "{s:o,s:s,s:s,s:I,s:I,s:s*,s:s*,s:s*,s:o,s:{s:s,s:I},s:o,s:I,s:I}", "names",
	    names_of(index, digest), "digest", digest, "mediaType",
	    img.manifest.media_type ? img.manifest.media_type : MT_OCI_MANIFEST, "manifestSize",
	    (json_int_t)img.manifest_size, "size", (json_int_t)stored_image_size(&img), "os",
	    img.config.os, "architecture", img.config.arch, "created",
	    json_string_value(json_object_get(cfg, "created")), "config",
	    json_deep_copy(json_object_get(cfg, "config") ? json_object_get(cfg, "config")
							  : json_object()),
	    "configDescriptor", "digest", img.manifest.config.digest, "size",
	    (json_int_t)img.manifest.config.size, "layers", layers, "layerCount",
	    (json_int_t)img.manifest.n_layers, "unpackedSize", (json_int_t)unpacked_total);
	if (!all_unpacked)
		json_object_set_new(j, "unpackedSize", json_null());
	/* The digest the registry (or archive) knows the image by: the stored one unless berth
	 * converted the manifest to OCI. */
	const char *src = store_index_source_digest(index, digest);
	json_object_set_new(j, "sourceDigest", json_string(src ? src : digest));
	stored_image_free(&img);
	if (!j)
		return berr(e, -ENOMEM, "Out of memory");
	json_array_append_new(out, j);
	return 0;
}

int cmd_image_inspect(berth_ctx *ctx, int argc, char **argv)
{
	int pr = cli_parse_common(ctx, argc, argv, "image inspect", usage);
	if (pr >= 0)
		return pr;
	if (optind >= argc)
		return cli_usage(ctx, "image inspect", "Name at least one image to inspect");
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
	int rc = 0;
	for (int i = optind; i < argc; i++) {
		berth_err ie = {0};
		if (inspect_one(&s, index, argv[i], out, &ie) < 0)
			rc = cli_fail(ctx, &ie);
	}
	store_close(&s);
	if (json_array_size(out))
		cli_print_json(out);
	return rc;
}
