/* SPDX-License-Identifier: MIT */
/*
 * docker-archive tars (docker save, podman save, skopeo docker-archive:): manifest.json
 * lists each image's config file and layer files by name. The config is stored as is,
 * layers are stored as they are in the archive (uncompressed, or gzip/zstd in newer
 * docker) and an OCI manifest is written for them. Only names manifest.json references
 * are looked at, resolved inside the archive.
 */
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "import-internal.h"
#include "unpack.h"

static bool tag_matches(const char *have, const char *want)
{
	if (!strcmp(have, want))
		return true;
	berth_err ignore = {0};
	_cleanup_free_ char *a = import_normalise_ref(have, &ignore);
	berr_clear(&ignore);
	_cleanup_free_ char *b = import_normalise_ref(want, &ignore);
	return a && b && !strcmp(a, b);
}

static char *list_tags(json_t *images)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	size_t i;
	json_t *img;
	json_array_foreach(images, i, img)
	{
		if (i >= 20) {
			fputs(", ...", f);
			break;
		}
		const char *t =
		    json_string_value(json_array_get(json_object_get(img, "RepoTags"), 0));
		fprintf(f, "%s%.100s", i ? ", " : "", t ? t : "(untagged)");
	}
	fclose(f);
	return out;
}

/* Pick the image from manifest.json; *tag gets the RepoTag that names it (or NULL). */
static int select_image(import_job *job, json_t *images, json_t **out, const char **tag,
			berth_err *e)
{
	size_t n = json_array_size(images);
	*tag = NULL;
	if (!json_is_array(images) || n == 0)
		return berr(e, -EBADMSG,
			    "The manifest.json of %s lists no images; it is not a docker archive",
			    job->path);
	size_t i;
	json_t *img;
	json_array_foreach(images, i, img)
	{
		if (!json_is_object(img))
			return berr(e, -EBADMSG,
				    "The manifest.json of %s has an entry that is not an object; "
				    "the archive is corrupt",
				    job->path);
		json_t *tags = json_object_get(img, "RepoTags");
		if (!job->name) {
			if (n == 1) {
				*out = img;
				*tag = json_string_value(json_array_get(tags, 0));
				return 0;
			}
			continue;
		}
		size_t k;
		json_t *t;
		json_array_foreach(tags, k, t)
		{
			const char *s = json_string_value(t);
			if (s && tag_matches(s, job->name)) {
				*out = img;
				*tag = s;
				return 0;
			}
		}
	}
	_cleanup_free_ char *names = list_tags(images);
	if (job->name)
		return berr(e, -ENOENT, "%s has no image named '%s'; it has: %s", job->path,
			    job->name, names ? names : "(out of memory)");
	return berr(e, -EINVAL, "%s holds %zu images (%s); pick one with %s:NAME", job->path, n,
		    names ? names : "(out of memory)", job->path);
}

static const char *layer_media_type(layer_compression c)
{
	switch (c) {
	case COMPRESSION_GZIP:
		return MT_OCI_LAYER_GZIP;
	case COMPRESSION_ZSTD:
		return MT_OCI_LAYER_ZSTD;
	default:
		return MT_OCI_LAYER;
	}
}

static int add_layers(import_job *job, tar_scan *ts, json_t *layers, const image_config *cfg,
		      json_t *out, berth_err *e)
{
	size_t n = json_array_size(layers);
	if (n > IMPORT_MAX_LAYERS)
		return berr(e, -E2BIG,
			    "The manifest.json of %s lists %zu layers, more than the %d berth "
			    "accepts",
			    job->path, n, IMPORT_MAX_LAYERS);
	if (!json_is_array(layers) || n != cfg->n_diff_ids)
		return berr(e, -EBADMSG,
			    "The manifest.json of %s lists %zu layers but the image config has %zu "
			    "diff ids; the archive is corrupt",
			    job->path, n, cfg->n_diff_ids);
	for (size_t i = 0; i < n; i++) {
		const char *name = json_string_value(json_array_get(layers, i));
		if (!name)
			return berr(e, -EBADMSG,
				    "Layer %zu in the manifest.json of %s is not a file name",
				    i + 1, job->path);
		char who[64];
		snprintf(who, sizeof(who), "Layer %zu of manifest.json", i + 1);
		tar_entry *te = NULL;
		int r = tar_lookup(ts, job->path, who, name, &te, e);
		if (r < 0)
			return r;
		layer_compression c = compression_sniff(te->head, te->head_len);
		if (c == COMPRESSION_NONE && strcmp(te->digest, cfg->diff_ids[i]) != 0)
			return berr(e, -EBADMSG,
				    "Layer %zu ('%.200s') in %s hashes to %s, but the image config "
				    "says its diff id is %s; the archive is corrupt",
				    i + 1, name, job->path, te->digest, cfg->diff_ids[i]);
		r = tar_commit_entry(job, te, e);
		if (r < 0)
			return r;
		json_t *d = json_pack("{s:s,s:s,s:I}", "mediaType", layer_media_type(c), "digest",
				      te->digest, "size", (json_int_t)te->size);
		if (!d || json_array_append_new(out, d) < 0)
			return berr(e, -ENOMEM, "Out of memory");
	}
	return 0;
}

int import_docker_archive(import_job *job, tar_scan *ts, berth_err *e)
{
	json_error_t jerr;
	_cleanup_json_ json_t *images =
	    json_loadb(ts->manifest_json, ts->manifest_json_len, 0, &jerr);
	if (!images)
		return berr(e, -EBADMSG, "The manifest.json of %s is not valid JSON (line %d: %s)",
			    job->path, jerr.line, jerr.text);
	json_t *img = NULL;
	const char *tag = NULL;
	int r = select_image(job, images, &img, &tag, e);
	if (r < 0)
		return r;
	if (tag) {
		berth_err te = {0};
		job->archive_name = import_normalise_ref(tag, &te);
		if (!job->archive_name)
			berth_warn(job->ctx,
				   "%s names its image '%.200s', which is not a valid "
				   "reference; leaving it unnamed",
				   job->path, tag);
	}

	const char *cfg_name = json_string_value(json_object_get(img, "Config"));
	if (!cfg_name)
		return berr(e, -EBADMSG, "The manifest.json of %s names no Config file", job->path);
	tar_entry *cte = NULL;
	r = tar_lookup(ts, job->path, "The Config of manifest.json", cfg_name, &cte, e);
	if (r < 0)
		return r;
	if (cte->size > MANIFEST_MAX_SIZE)
		return berr(e, -EFBIG, "The image config '%.200s' in %s is larger than %d bytes",
			    cfg_name, job->path, MANIFEST_MAX_SIZE);
	r = tar_commit_entry(job, cte, e);
	if (r < 0)
		return r;
	_cleanup_free_ char *cbuf = NULL;
	size_t clen = 0;
	r = store_read_blob(job->s, cte->digest, MANIFEST_MAX_SIZE, &cbuf, &clen, e);
	if (r < 0)
		return r;
	image_config cfg = {0};
	r = config_parse(cbuf, clen, &cfg, e);
	if (r < 0)
		return berr_prefix(e, "The image config '%.200s' in %s", cfg_name, job->path);

	_cleanup_json_ json_t *layers = json_array();
	_cleanup_json_ json_t *m = NULL;
	r = layers ? add_layers(job, ts, json_object_get(img, "Layers"), &cfg, layers, e)
		   : berr(e, -ENOMEM, "Out of memory");
	config_free(&cfg);
	if (r < 0)
		return r;
	m = json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:O}", "schemaVersion", 2, "mediaType",
		      MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG, "digest", cte->digest,
		      "size", (json_int_t)cte->size, "layers", layers);
	_cleanup_free_ char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
	if (!text)
		return berr(e, -ENOMEM, "Out of memory");
	char digest[DIGEST_STR_LEN];
	r = store_write_blob(job->s, text, strlen(text), NULL, digest, e);
	if (r < 0)
		return r;
	return import_set_manifest(job, digest, MT_OCI_MANIFEST, (int64_t)strlen(text), e);
}
