/* SPDX-License-Identifier: MIT */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "error.h"
#include "manifest.h"

/*
 * Docker schema 2 -> OCI image manifest, as skopeo and podman convert when they copy into
 * an oci: layout: OCI tools (skopeo 1.9, umoci) take only OCI media types from a layout.
 * The config and layer blobs are the same bytes under OCI media types, so their digests do
 * not change; only the manifest (and so its digest) does.
 */

/* True when the parsed manifest is a Docker schema 2 manifest (the store keeps OCI ones). */
bool manifest_is_docker(const oci_manifest *m);

/* The OCI media type of a config or layer media type: Docker types mapped, OCI types as
 * they are; NULL for anything else. */
const char *manifest_oci_media_type(const char *mt);

/* Serialise m (parsed from a hostile document) afresh as an OCI image manifest, with
 * jansson, from its parsed fields only. *out is NUL-terminated; caller frees. Fails with
 * -EMEDIUMTYPE and a sentence for a config or layer type that has no OCI equivalent. */
int manifest_to_oci(const oci_manifest *m, char **out, size_t *out_len, berth_err *e);
