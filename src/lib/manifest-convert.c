/* SPDX-License-Identifier: MIT */
/*
 * Converting a Docker schema 2 manifest to an OCI image manifest for the store. The new
 * document is built from the fields manifest_parse() validated, never by editing the bytes
 * the registry sent: anything berth did not parse (annotations, urls, unknown members) is
 * not carried over.
 */
#include "manifest-convert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "digest.h"

#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define MT_DOCKER_LAYER_ZSTD "application/vnd.docker.image.rootfs.diff.tar.zstd"
#define MT_OCI_LAYER_ND_GZIP "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"

/* Longest media type quoted in a message (the parsed ones are bounded, but keep it short). */
#define QUOTE_MAX 100

static const struct {
	const char *from, *to;
} docker_to_oci[] = {
    {MT_DOCKER_CONFIG, MT_OCI_CONFIG},
    {MT_DOCKER_LAYER_GZIP, MT_OCI_LAYER_GZIP},
    {MT_DOCKER_LAYER, MT_OCI_LAYER},
    {MT_DOCKER_LAYER_ZSTD, MT_OCI_LAYER_ZSTD},
    {MT_DOCKER_LAYER_FOREIGN, MT_OCI_LAYER_ND_GZIP},
};

/* OCI types that need no mapping (a Docker manifest may already name some of them). */
static const char *const oci_types[] = {
    MT_OCI_CONFIG,
    MT_OCI_LAYER,
    MT_OCI_LAYER_GZIP,
    MT_OCI_LAYER_ZSTD,
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    MT_OCI_LAYER_ND_GZIP,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
};

bool manifest_is_docker(const oci_manifest *m)
{
	return m && m->media_type && strcmp(m->media_type, MT_DOCKER_MANIFEST) == 0;
}

const char *manifest_oci_media_type(const char *mt)
{
	if (!mt)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(docker_to_oci); i++)
		if (strcmp(mt, docker_to_oci[i].from) == 0)
			return docker_to_oci[i].to;
	for (size_t i = 0; i < ARRAY_SIZE(oci_types); i++)
		if (strcmp(mt, oci_types[i]) == 0)
			return oci_types[i];
	return NULL;
}

/* A media type made safe to quote: printable ASCII only, bounded. */
static void quote(const char *in, char out[QUOTE_MAX + 1])
{
	size_t n = 0;
	for (; in && in[n] && n < QUOTE_MAX; n++)
		out[n] = in[n] >= 0x20 && in[n] < 0x7f ? in[n] : '?';
	out[n] = 0;
}

/* The OCI descriptor for d, which must be a config (is_config) or a layer. */
static int descriptor_json(const oci_descriptor *d, const char *what, bool is_config, json_t **out,
			   berth_err *e)
{
	*out = NULL;
	const char *mt = manifest_oci_media_type(d->media_type);
	bool config_type = mt && strcmp(mt, MT_OCI_CONFIG) == 0;
	if (!mt || config_type != is_config) {
		char q[QUOTE_MAX + 1];
		quote(d->media_type, q);
		return berr(e, -EMEDIUMTYPE,
			    "The %s has media type '%s', which is not an OCI or Docker image %s "
			    "type; berth cannot store the image as an OCI image.",
			    what, q, is_config ? "config" : "layer");
	}
	if (!digest_valid(d->digest) || d->size < 0)
		return berr(e, -EBADMSG,
			    "The %s has no valid digest and size; the image is corrupt.", what);
	*out = json_pack("{s:s,s:s,s:I}", "mediaType", mt, "digest", d->digest, "size",
			 (json_int_t)d->size);
	return *out ? 0 : berr(e, -ENOMEM, "Out of memory converting an image manifest.");
}

int manifest_to_oci(const oci_manifest *m, char **out, size_t *out_len, berth_err *e)
{
	*out = NULL;
	*out_len = 0;
	_cleanup_json_ json_t *config = NULL;
	int r = descriptor_json(&m->config, "image manifest's config", true, &config, e);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *layers = json_array();
	if (!layers)
		return berr(e, -ENOMEM, "Out of memory converting an image manifest.");
	for (size_t i = 0; i < m->n_layers; i++) {
		char what[64];
		snprintf(what, sizeof(what), "image manifest's layer %zu", i + 1);
		json_t *l = NULL;
		r = descriptor_json(&m->layers[i], what, false, &l, e);
		if (r < 0)
			return r;
		if (json_array_append_new(layers, l) < 0)
			return berr(e, -ENOMEM, "Out of memory converting an image manifest.");
	}
	_cleanup_json_ json_t *doc = json_pack("{s:i,s:s,s:O,s:O}", "schemaVersion", 2, "mediaType",
					       MT_OCI_MANIFEST, "config", config, "layers", layers);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (!text)
		return berr(e, -ENOMEM, "Out of memory converting an image manifest.");
	*out = text;
	*out_len = strlen(text);
	return 0;
}
