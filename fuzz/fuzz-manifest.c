/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for registry documents: manifest_detect, manifest_parse, index_parse,
 * index_select_platform and config_parse on the same bytes. The first byte picks the
 * Content-Type and platform hints so both get explored; the rest is the document.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const content_types[] = {
    NULL,
    MT_OCI_MANIFEST,
    MT_OCI_INDEX,
    MT_DOCKER_MANIFEST,
    MT_DOCKER_LIST,
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/json; charset=utf-8",
    "",
};

static const char *const platforms[] = {
    NULL,	 "linux/amd64",	 "linux/arm64", "linux/arm64/v8",
    "linux/arm", "linux/arm/v6", "linux/386",	"windows/amd64",
};

static void check_descriptor(const oci_descriptor *d)
{
	if (!d->media_type || !digest_valid(d->digest) || d->size < 0)
		abort();
	if ((d->os == NULL) != (d->arch == NULL))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	const char *ct = content_types[sel & 7];
	const char *platform = platforms[(sel >> 3) & 7];
	/* A private copy without a terminating NUL, so over-reads are caught. */
	char *buf = malloc(size - 1 ? size - 1 : 1);
	if (!buf)
		return 0;
	size_t len = size - 1;
	memcpy(buf, data + 1, len);

	(void)manifest_detect(buf, len, ct);

	oci_manifest m;
	berth_err e = {0};
	int rc = manifest_parse(buf, len, &m, &e);
	if (rc == 0) {
		if (!m.media_type || (m.n_layers && !m.layers))
			abort();
		check_descriptor(&m.config);
		for (size_t i = 0; i < m.n_layers; i++) {
			check_descriptor(&m.layers[i]);
			if (layer_compression_from_media_type(m.layers[i].media_type) ==
			    COMPRESSION_INVALID)
				abort();
		}
	} else if (e.code != rc || !e.msg[0]) {
		abort();
	}
	manifest_free(&m);

	oci_index ix;
	berr_clear(&e);
	rc = index_parse(buf, len, &ix, &e);
	if (rc == 0) {
		for (size_t i = 0; i < ix.n_manifests; i++)
			check_descriptor(&ix.manifests[i]);
		berth_err se = {0};
		int k = index_select_platform(&ix, platform, &se);
		if (k >= 0 ? (size_t)k >= ix.n_manifests : (se.code != k || !se.msg[0]))
			abort();
	} else if (e.code != rc || !e.msg[0]) {
		abort();
	}
	index_free(&ix);

	image_config c;
	berr_clear(&e);
	rc = config_parse(buf, len, &c, &e);
	if (rc == 0) {
		if (!json_is_object(c.raw) || (c.n_diff_ids && !c.diff_ids))
			abort();
		for (size_t i = 0; i < c.n_diff_ids; i++)
			if (!digest_valid(c.diff_ids[i]))
				abort();
	} else if (e.code != rc || !e.msg[0]) {
		abort();
	}
	config_free(&c);

	free(buf);
	return 0;
}
