/* SPDX-License-Identifier: MIT */
#pragma once
#include "context.h"
#include "digest.h"
#include "store.h"

/*
 * Import an image from: an OCI image layout directory, an OCI archive tar, a
 * docker-archive tar (docker/podman save), or a plain root-filesystem tar (optionally
 * gzip or zstd compressed). tag (normalised ref string or NULL) names the result; when
 * NULL the archive's own name is used if it has one, else the image stays untagged
 * except for its digest. Layers are unpacked like pulled ones.
 */
int image_import(const berth_ctx *ctx, berth_store *s, const char *path, const char *tag,
		 char manifest_digest[DIGEST_STR_LEN], char **tag_out, berth_err *e);
