/* SPDX-License-Identifier: MIT */
#pragma once
#include "manifest.h"
#include "store.h"

/* An image in the store: its manifest and config, read back and verified. */
typedef struct stored_image {
	char digest[DIGEST_STR_LEN]; /* manifest digest */
	int64_t manifest_size;
	oci_manifest manifest;
	image_config config;
} stored_image;

/* Load the image whose manifest has this digest; checks that config and layer counts agree. */
int stored_image_load(berth_store *s, const char *manifest_digest, stored_image *img, berth_err *e);
void stored_image_free(stored_image *img);
/* Sum of the (compressed) layer sizes from the manifest. */
int64_t stored_image_size(const stored_image *img);
