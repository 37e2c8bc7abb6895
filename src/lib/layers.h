/* SPDX-License-Identifier: MIT */
#pragma once
#include <stdbool.h>
#include "context.h"
#include "manifest.h"
#include "progress.h"
#include "store.h"

/*
 * Unpacked layers: layers/<chain-id hex>/ holds diff/ (this layer's files in overlayfs
 * form) and layer.json (digest, diff id, sizes). A layer is unpacked once into tmp/ and
 * renamed into place when complete and verified, so a present directory is always whole;
 * two processes racing on one layer both finish, one rename wins.
 */
void chain_id_next(const char *parent_chain, const char *diff_id, char out[DIGEST_STR_LEN]);

/* Chain ids of every layer of an image (n = config->n_diff_ids). Caller frees the array. */
int image_chain_ids(const image_config *cfg, char (**chain_ids)[DIGEST_STR_LEN], berth_err *e);

bool layer_is_unpacked(berth_store *s, const char *chain_id);

/* Unpack every missing layer of an image, up to `parallel` at once (0 = number of CPUs).
 * Checks each layer's diff id against the config. */
int image_unpack(const berth_ctx *ctx, berth_store *s, const oci_manifest *m,
		 const image_config *cfg, int parallel, progress *p, berth_err *e);

/* Flattened fallback for where overlayfs is unusable: apply every layer of the image in
 * order onto dest_dirfd (an empty directory), whiteouts applied as deletions. */
int image_flatten(const berth_ctx *ctx, berth_store *s, const oci_manifest *m,
		  const image_config *cfg, int dest_dirfd, berth_err *e);

/* Unpack a single layer given its blob digest and expected diff id (used by pull, which
 * starts a layer's unpack as soon as its blob is stored). */
int layer_unpack_one(const berth_ctx *ctx, berth_store *s, const oci_descriptor *layer,
		     const char *parent_chain, const char *diff_id, berth_err *e);
