/* SPDX-License-Identifier: MIT */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "error.h"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MT_DOCKER_LAYER_FOREIGN "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

/* Largest manifest, index or config berth accepts (hostile input bound). */
#define MANIFEST_MAX_SIZE (4 * 1024 * 1024)

typedef enum manifest_kind {
	MANIFEST_UNKNOWN = 0,
	MANIFEST_IMAGE, /* OCI image manifest or Docker schema 2 manifest */
	MANIFEST_INDEX, /* OCI image index or Docker manifest list */
} manifest_kind;

typedef enum layer_compression {
	COMPRESSION_INVALID = -1,
	COMPRESSION_NONE = 0,
	COMPRESSION_GZIP,
	COMPRESSION_ZSTD,
} layer_compression;

typedef struct oci_descriptor {
	char *media_type;
	char *digest; /* validated "sha256:<hex>" */
	int64_t size; /* >= 0 */
	/* platform (index entries only; NULL otherwise) */
	char *os, *arch, *variant;
} oci_descriptor;

typedef struct oci_manifest {
	char *media_type; /* of the manifest itself */
	oci_descriptor config;
	oci_descriptor *layers;
	size_t n_layers;
} oci_manifest;

typedef struct oci_index {
	char *media_type;
	oci_descriptor *manifests;
	size_t n_manifests;
} oci_index;

typedef struct image_config {
	char *os, *arch, *variant;
	char **diff_ids; /* validated digests, n_diff_ids of them */
	size_t n_diff_ids;
	json_t *raw; /* the whole parsed config document */
} image_config;

/* Kind from a media type (Content-Type or mediaType field); MANIFEST_UNKNOWN if neither. */
manifest_kind manifest_kind_from_media_type(const char *mt);
/* Kind from the document itself: its mediaType field, else the shape (manifests vs layers).
 * content_type may be NULL. */
manifest_kind manifest_detect(const char *buf, size_t len, const char *content_type);

int manifest_parse(const char *buf, size_t len, oci_manifest *out, berth_err *e);
void manifest_free(oci_manifest *m);
int index_parse(const char *buf, size_t len, oci_index *out, berth_err *e);
void index_free(oci_index *ix);
int config_parse(const char *buf, size_t len, image_config *out, berth_err *e);
void config_free(image_config *c);

/* Compression of a layer media type; COMPRESSION_INVALID for non-layer or unknown types. */
layer_compression layer_compression_from_media_type(const char *mt);

/* "linux/amd64" (with "/v8" etc for arm variants) of this host, in GOARCH naming. */
const char *platform_host(void);
/* Parse "os/arch[/variant]"; fills the three (variant may be NULL). Caller frees. */
int platform_parse(const char *s, char **os, char **arch, char **variant, berth_err *e);
/* Index of the entry matching platform ("os/arch[/variant]", NULL = host) or a negative
 * errno with a sentence listing the platforms the index offers. */
int index_select_platform(const oci_index *ix, const char *platform, berth_err *e);
