/* SPDX-License-Identifier: MIT */
/*
 * OCI / Docker schema 2 manifests, indexes (manifest lists) and image configs.
 * Every document comes from a registry or an archive and is treated as hostile:
 * bounded in size, strictly typed, digests validated, sizes bounded.
 * Choosing an entry of an index by platform is in platform.c.
 */
#include "manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "digest.h"

#define MT_DOCKER_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"
#define MT_OCI_LAYER_ND "application/vnd.oci.image.layer.nondistributable.v1.tar"
#define MT_OCI_LAYER_ND_GZIP "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define MT_OCI_LAYER_ND_ZSTD "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define MT_DOCKER_LAYER_ZSTD "application/vnd.docker.image.rootfs.diff.tar.zstd"

/* Largest layer size a manifest may claim (1 TiB); anything above is corrupt or hostile. */
#define LAYER_MAX_SIZE ((int64_t)1 << 40)
/* Longest media type string kept. */
#define MEDIA_TYPE_MAX 255
/* How much of a hostile string an error message quotes. */
#define QUOTE_MAX 100

/* A hostile string made safe to quote in a message: at most QUOTE_MAX bytes, anything but
 * printable ASCII shown as '?', so documents cannot put escape sequences on a terminal. */
typedef struct quoted {
	char s[QUOTE_MAX + 4];
} quoted;

static quoted quote(const char *in)
{
	quoted q;
	size_t n = 0;
	for (; in && in[n] && n < QUOTE_MAX; n++)
		q.s[n] = in[n] >= 0x20 && in[n] < 0x7f ? in[n] : '?';
	if (in && in[n])
		q.s[n++] = '.', q.s[n++] = '.', q.s[n++] = '.';
	q.s[n] = 0;
	return q;
}

/* Compare a media type, ignoring parameters (";charset=...") and case, as HTTP does. */
static bool mt_eq(const char *mt, const char *want)
{
	size_t n = strcspn(mt, "; \t");
	return n == strlen(want) && strncasecmp(mt, want, n) == 0;
}

static bool mt_is_schema1(const char *mt)
{
	return mt && (mt_eq(mt, MT_DOCKER_SCHEMA1) || mt_eq(mt, MT_DOCKER_SCHEMA1_SIGNED));
}

manifest_kind manifest_kind_from_media_type(const char *mt)
{
	if (!mt)
		return MANIFEST_UNKNOWN;
	if (mt_eq(mt, MT_OCI_MANIFEST) || mt_eq(mt, MT_DOCKER_MANIFEST))
		return MANIFEST_IMAGE;
	if (mt_eq(mt, MT_OCI_INDEX) || mt_eq(mt, MT_DOCKER_LIST))
		return MANIFEST_INDEX;
	return MANIFEST_UNKNOWN;
}

/* Kind of a document's own mediaType field: exact, as the specs write them. */
static manifest_kind kind_exact(const char *mt)
{
	if (!mt)
		return MANIFEST_UNKNOWN;
	if (strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_MANIFEST) == 0)
		return MANIFEST_IMAGE;
	if (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0)
		return MANIFEST_INDEX;
	return MANIFEST_UNKNOWN;
}

static json_t *load(const char *buf, size_t len, const char *what, berth_err *e)
{
	if (!buf)
		len = 0;
	if (len > MANIFEST_MAX_SIZE) {
		berr(e, -E2BIG,
		     "The %s is %zu bytes, more than the %d bytes berth accepts; the registry or "
		     "archive is serving something corrupt or hostile.",
		     what, len, MANIFEST_MAX_SIZE);
		return NULL;
	}
	json_error_t je;
	json_t *j = json_loadb(buf ? buf : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!j) {
		berr(e, -EBADMSG, "The %s is not valid JSON (%s at line %d); the image is corrupt.",
		     what, je.text, je.line);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		berr(e, -EBADMSG, "The %s is JSON but not an object; the image is corrupt.", what);
		return NULL;
	}
	return j;
}

manifest_kind manifest_detect(const char *buf, size_t len, const char *content_type)
{
	berth_err ignore = {0};
	_cleanup_json_ json_t *j = buf ? load(buf, len, "manifest", &ignore) : NULL;
	const char *mt = j ? json_string_value(json_object_get(j, "mediaType")) : NULL;
	manifest_kind k = kind_exact(mt);
	if (k != MANIFEST_UNKNOWN)
		return k;
	/* Schema 1 is reported as an image manifest so manifest_parse() can explain that
	 * it is unsupported. */
	if (mt_is_schema1(mt))
		return MANIFEST_IMAGE;
	k = manifest_kind_from_media_type(content_type);
	if (k != MANIFEST_UNKNOWN)
		return k;
	if (mt_is_schema1(content_type))
		return MANIFEST_IMAGE;
	if (!j || mt)
		return MANIFEST_UNKNOWN;
	bool has_manifests = json_is_array(json_object_get(j, "manifests"));
	bool has_layers = json_is_array(json_object_get(j, "layers")) ||
			  json_is_object(json_object_get(j, "config")) ||
			  json_is_array(json_object_get(j, "fsLayers"));
	if (has_manifests && !has_layers)
		return MANIFEST_INDEX;
	if (has_layers && !has_manifests)
		return MANIFEST_IMAGE;
	return MANIFEST_UNKNOWN;
}

static int schema1_error(berth_err *e)
{
	return berr(e, -EPROTONOSUPPORT,
		    "The image uses the Docker schema 1 manifest format, which berth does not "
		    "support; re-push the image with a current tool (docker push, podman push or "
		    "skopeo copy) to convert it to schema 2 or OCI.");
}

static int check_schema_version(json_t *j, const char *what, berth_err *e)
{
	json_t *v = json_object_get(j, "schemaVersion");
	if (!v)
		return berr(
		    e, -EBADMSG,
		    "The %s has no schemaVersion field; it is not an OCI or Docker schema 2 "
		    "document.",
		    what);
	if (!json_is_integer(v))
		return berr(e, -EBADMSG, "The %s has a schemaVersion that is not a number.", what);
	json_int_t n = json_integer_value(v);
	if (n == 1)
		return schema1_error(e);
	if (n != 2)
		return berr(e, -EPROTONOSUPPORT,
			    "The %s has schemaVersion %lld; berth understands only version 2.",
			    what, (long long)n);
	return 0;
}

/* Optional string member: absent -> NULL, non-string -> error. */
static int get_opt_string(json_t *obj, const char *key, const char *what, const char **out,
			  berth_err *e)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return berr(e, -EBADMSG, "The %s has a '%s' field that is not a string.", what,
			    key);
	*out = json_string_value(v);
	return 0;
}

static void descriptor_free(oci_descriptor *d)
{
	free(d->media_type);
	free(d->digest);
	free(d->os);
	free(d->arch);
	free(d->variant);
	memset(d, 0, sizeof(*d));
}

static int dup_into(char **dst, const char *src, berth_err *e)
{
	if (!src)
		return 0;
	*dst = strdup(src);
	if (!*dst)
		return berr(e, -ENOMEM, "Out of memory reading an image manifest.");
	return 0;
}

static int check_digest_string(const char *d, const char *what, berth_err *e)
{
	if (digest_valid(d))
		return 0;
	const char *colon = strchr(d, ':');
	if (colon && colon != d && !(colon - d == 6 && strncmp(d, "sha256", 6) == 0))
		return berr(e, -EPROTONOSUPPORT,
			    "The %s uses digest '%s', whose algorithm berth does not support; only "
			    "sha256 digests are supported.",
			    what, quote(d).s);
	return berr(e, -EBADMSG,
		    "The %s has an invalid digest '%s'; a digest is 'sha256:' followed by 64 "
		    "lowercase hex digits.",
		    what, quote(d).s);
}

/* Parse a descriptor object. with_platform: read "platform" (index entries). */
static int descriptor_parse(json_t *j, const char *what, int64_t max_size, bool with_platform,
			    oci_descriptor *d, berth_err *e)
{
	memset(d, 0, sizeof(*d));
	if (!json_is_object(j))
		return berr(e, -EBADMSG, "The %s is not a JSON object; the image is corrupt.",
			    what);

	const char *mt, *digest;
	int r = get_opt_string(j, "mediaType", what, &mt, e);
	if (r < 0)
		return r;
	if (!mt)
		return berr(e, -EBADMSG, "The %s has no mediaType; the image is corrupt.", what);
	if (strlen(mt) > MEDIA_TYPE_MAX)
		return berr(e, -EBADMSG, "The %s has a media type longer than %d characters.", what,
			    MEDIA_TYPE_MAX);
	r = get_opt_string(j, "digest", what, &digest, e);
	if (r < 0)
		return r;
	if (!digest)
		return berr(e, -EBADMSG, "The %s has no digest; the image is corrupt.", what);
	r = check_digest_string(digest, what, e);
	if (r < 0)
		return r;

	json_t *size = json_object_get(j, "size");
	if (!json_is_integer(size))
		return berr(e, -EBADMSG,
			    "The %s has %s size; a descriptor's size is a whole number of bytes.",
			    what, size ? "a non-integer" : "no");
	json_int_t sz = json_integer_value(size);
	if (sz < 0)
		return berr(e, -EBADMSG, "The %s has a negative size (%lld); the image is corrupt.",
			    what, (long long)sz);
	if (sz > max_size)
		return berr(
		    e, -EFBIG,
		    "The %s claims a size of %lld bytes, more than the %lld berth accepts; the "
		    "image is corrupt or hostile.",
		    what, (long long)sz, (long long)max_size);

	const char *os = NULL, *arch = NULL, *variant = NULL;
	json_t *plat = with_platform ? json_object_get(j, "platform") : NULL;
	if (plat) {
		char pwhat[128];
		snprintf(pwhat, sizeof(pwhat), "platform of the %s", what);
		if (!json_is_object(plat))
			return berr(e, -EBADMSG, "The %s is not a JSON object.", pwhat);
		if ((r = get_opt_string(plat, "os", pwhat, &os, e)) < 0 ||
		    (r = get_opt_string(plat, "architecture", pwhat, &arch, e)) < 0 ||
		    (r = get_opt_string(plat, "variant", pwhat, &variant, e)) < 0)
			return r;
		if (!os || !arch)
			return berr(e, -EBADMSG,
				    "The %s lacks 'os' or 'architecture'; the index is corrupt.",
				    pwhat);
	}

	d->size = sz;
	if ((r = dup_into(&d->media_type, mt, e)) < 0 ||
	    (r = dup_into(&d->digest, digest, e)) < 0 || (r = dup_into(&d->os, os, e)) < 0 ||
	    (r = dup_into(&d->arch, arch, e)) < 0 || (r = dup_into(&d->variant, variant, e)) < 0) {
		descriptor_free(d);
		return r;
	}
	return 0;
}

/* The document's own mediaType, checked against the kind expected. */
static int own_media_type(json_t *j, manifest_kind want, const char *what, const char **out,
			  berth_err *e)
{
	const char *mt;
	int r = get_opt_string(j, "mediaType", what, &mt, e);
	if (r < 0)
		return r;
	*out = mt;
	if (!mt)
		return 0;
	if (mt_is_schema1(mt))
		return schema1_error(e);
	manifest_kind k = kind_exact(mt);
	if (k == want)
		return 0;
	if (k == MANIFEST_INDEX)
		return berr(
		    e, -EMEDIUMTYPE,
		    "The document is an image index (manifest list), not an image manifest; "
		    "select a platform from it first.");
	if (k == MANIFEST_IMAGE)
		return berr(e, -EMEDIUMTYPE,
			    "The document is an image manifest, not an image index.");
	return berr(e, -EMEDIUMTYPE,
		    "The %s has media type '%s', which is not a container image %s berth can "
		    "use.",
		    what, quote(mt).s, want == MANIFEST_INDEX ? "index" : "manifest");
}

int manifest_parse(const char *buf, size_t len, oci_manifest *out, berth_err *e)
{
	memset(out, 0, sizeof(*out));
	_cleanup_json_ json_t *j = load(buf, len, "image manifest", e);
	if (!j)
		return e && e->code ? e->code : -EBADMSG;
	const char *mt;
	int r = own_media_type(j, MANIFEST_IMAGE, "image manifest", &mt, e);
	if (r < 0)
		return r;
	if ((r = check_schema_version(j, "image manifest", e)) < 0)
		return r;
	if (!mt && json_object_get(j, "manifests"))
		return berr(
		    e, -EMEDIUMTYPE,
		    "The document is an image index (manifest list), not an image manifest; "
		    "select a platform from it first.");

	oci_manifest m = {0};
	r = descriptor_parse(json_object_get(j, "config"), "image manifest's config descriptor",
			     MANIFEST_MAX_SIZE, false, &m.config, e);
	if (r < 0)
		goto fail;
	if (strcmp(m.config.media_type, MT_OCI_CONFIG) != 0 &&
	    strcmp(m.config.media_type, MT_DOCKER_CONFIG) != 0) {
		r = berr(e, -EMEDIUMTYPE,
			 "The manifest's config has media type '%s', so it describes an artifact, "
			 "not a container image; berth can only use container images.",
			 quote(m.config.media_type).s);
		goto fail;
	}

	json_t *layers = json_object_get(j, "layers");
	if (!json_is_array(layers)) {
		r = berr(e, -EBADMSG,
			 "The image manifest has %s 'layers' list; the image is corrupt.",
			 layers ? "a non-array" : "no");
		goto fail;
	}
	size_t n = json_array_size(layers);
	if (n) {
		m.layers = calloc(n, sizeof(*m.layers));
		if (!m.layers) {
			r = berr(e, -ENOMEM, "Out of memory reading an image manifest.");
			goto fail;
		}
	}
	for (size_t i = 0; i < n; i++) {
		char what[64];
		snprintf(what, sizeof(what), "image manifest's layer %zu", i + 1);
		r = descriptor_parse(json_array_get(layers, i), what, LAYER_MAX_SIZE, false,
				     &m.layers[i], e);
		if (r < 0)
			goto fail;
		m.n_layers++;
		if (layer_compression_from_media_type(m.layers[i].media_type) ==
		    COMPRESSION_INVALID) {
			r = berr(
			    e, -EMEDIUMTYPE,
			    "The %s has media type '%s', which berth cannot unpack (it takes "
			    "tar, tar+gzip and tar+zstd layers; foreign layers are for Windows "
			    "images).",
			    what, quote(m.layers[i].media_type).s);
			goto fail;
		}
	}

	const char *own =
	    mt ? mt
	       : (strcmp(m.config.media_type, MT_DOCKER_CONFIG) == 0 ? MT_DOCKER_MANIFEST
								     : MT_OCI_MANIFEST);
	if ((r = dup_into(&m.media_type, own, e)) < 0)
		goto fail;
	*out = m;
	return 0;
fail:
	manifest_free(&m);
	return r;
}

void manifest_free(oci_manifest *m)
{
	if (!m)
		return;
	free(m->media_type);
	descriptor_free(&m->config);
	for (size_t i = 0; i < m->n_layers; i++)
		descriptor_free(&m->layers[i]);
	free(m->layers);
	memset(m, 0, sizeof(*m));
}

int index_parse(const char *buf, size_t len, oci_index *out, berth_err *e)
{
	memset(out, 0, sizeof(*out));
	_cleanup_json_ json_t *j = load(buf, len, "image index", e);
	if (!j)
		return e && e->code ? e->code : -EBADMSG;
	const char *mt;
	int r = own_media_type(j, MANIFEST_INDEX, "image index", &mt, e);
	if (r < 0)
		return r;
	if ((r = check_schema_version(j, "image index", e)) < 0)
		return r;

	json_t *list = json_object_get(j, "manifests");
	if (!json_is_array(list))
		return berr(e, -EBADMSG,
			    "The image index has %s 'manifests' list; the image is corrupt.",
			    list ? "a non-array" : "no");

	oci_index ix = {0};
	size_t n = json_array_size(list);
	if (n) {
		ix.manifests = calloc(n, sizeof(*ix.manifests));
		if (!ix.manifests)
			return berr(e, -ENOMEM, "Out of memory reading an image index.");
	}
	for (size_t i = 0; i < n; i++) {
		char what[64];
		snprintf(what, sizeof(what), "image index's entry %zu", i + 1);
		r = descriptor_parse(json_array_get(list, i), what, MANIFEST_MAX_SIZE, true,
				     &ix.manifests[i], e);
		if (r < 0)
			goto fail;
		ix.n_manifests++;
	}
	if ((r = dup_into(&ix.media_type, mt ? mt : MT_OCI_INDEX, e)) < 0)
		goto fail;
	*out = ix;
	return 0;
fail:
	index_free(&ix);
	return r;
}

void index_free(oci_index *ix)
{
	if (!ix)
		return;
	free(ix->media_type);
	for (size_t i = 0; i < ix->n_manifests; i++)
		descriptor_free(&ix->manifests[i]);
	free(ix->manifests);
	memset(ix, 0, sizeof(*ix));
}

int config_parse(const char *buf, size_t len, image_config *out, berth_err *e)
{
	memset(out, 0, sizeof(*out));
	_cleanup_json_ json_t *j = load(buf, len, "image config", e);
	if (!j)
		return e && e->code ? e->code : -EBADMSG;

	const char *os, *arch, *variant;
	int r;
	if ((r = get_opt_string(j, "os", "image config", &os, e)) < 0 ||
	    (r = get_opt_string(j, "architecture", "image config", &arch, e)) < 0 ||
	    (r = get_opt_string(j, "variant", "image config", &variant, e)) < 0)
		return r;

	json_t *rootfs = json_object_get(j, "rootfs");
	if (!json_is_object(rootfs))
		return berr(e, -EBADMSG,
			    "The image config has %s 'rootfs' section; the image is corrupt.",
			    rootfs ? "a non-object" : "no");
	const char *type;
	if ((r = get_opt_string(rootfs, "type", "image config's rootfs", &type, e)) < 0)
		return r;
	if (!type || strcmp(type, "layers") != 0)
		return berr(
		    e, -EBADMSG,
		    "The image config's rootfs type is '%s', not 'layers'; berth cannot use "
		    "this image.",
		    quote(type ? type : "").s);
	json_t *ids = json_object_get(rootfs, "diff_ids");
	if (!json_is_array(ids))
		return berr(e, -EBADMSG,
			    "The image config has %s 'rootfs.diff_ids' list; the image is corrupt.",
			    ids ? "a non-array" : "no");

	image_config c = {0};
	size_t n = json_array_size(ids);
	if (n) {
		c.diff_ids = calloc(n, sizeof(*c.diff_ids));
		if (!c.diff_ids)
			return berr(e, -ENOMEM, "Out of memory reading an image config.");
	}
	for (size_t i = 0; i < n; i++) {
		char what[64];
		snprintf(what, sizeof(what), "image config's diff_id %zu", i + 1);
		const char *d = json_string_value(json_array_get(ids, i));
		if (!d) {
			r = berr(e, -EBADMSG, "The %s is not a string; the image is corrupt.",
				 what);
			goto fail;
		}
		if ((r = check_digest_string(d, what, e)) < 0)
			goto fail;
		if ((r = dup_into(&c.diff_ids[i], d, e)) < 0)
			goto fail;
		c.n_diff_ids++;
	}
	if ((r = dup_into(&c.os, os, e)) < 0 || (r = dup_into(&c.arch, arch, e)) < 0 ||
	    (r = dup_into(&c.variant, variant, e)) < 0)
		goto fail;
	c.raw = TAKE_PTR(j);
	*out = c;
	return 0;
fail:
	config_free(&c);
	return r;
}

void config_free(image_config *c)
{
	if (!c)
		return;
	free(c->os);
	free(c->arch);
	free(c->variant);
	for (size_t i = 0; i < c->n_diff_ids; i++)
		free(c->diff_ids[i]);
	free(c->diff_ids);
	if (c->raw)
		json_decref(c->raw);
	memset(c, 0, sizeof(*c));
}

layer_compression layer_compression_from_media_type(const char *mt)
{
	static const struct {
		const char *mt;
		layer_compression c;
	} table[] = {
	    {MT_OCI_LAYER, COMPRESSION_NONE},	      {MT_OCI_LAYER_GZIP, COMPRESSION_GZIP},
	    {MT_OCI_LAYER_ZSTD, COMPRESSION_ZSTD},    {MT_OCI_LAYER_ND, COMPRESSION_NONE},
	    {MT_OCI_LAYER_ND_GZIP, COMPRESSION_GZIP}, {MT_OCI_LAYER_ND_ZSTD, COMPRESSION_ZSTD},
	    {MT_DOCKER_LAYER, COMPRESSION_NONE},      {MT_DOCKER_LAYER_GZIP, COMPRESSION_GZIP},
	    {MT_DOCKER_LAYER_ZSTD, COMPRESSION_ZSTD},
	};
	if (!mt)
		return COMPRESSION_INVALID;
	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		if (strcmp(mt, table[i].mt) == 0)
			return table[i].c;
	return COMPRESSION_INVALID;
}
