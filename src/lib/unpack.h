/* SPDX-License-Identifier: MIT */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "digest.h"
#include "error.h"
#include "manifest.h"

/*
 * Layer unpacking. Every layer is hostile input: each path is resolved inside the
 * destination with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), the final component
 * is created with *at() calls relative to its resolved parent and never followed.
 */
typedef enum whiteout_mode {
	/* overlayfs form: ".wh.x" -> char device 0:0 named x; ".wh..wh..opq" -> opaque xattr */
	WHITEOUT_OVERLAY = 0,
	/* flattened form: apply whiteouts by deleting the named entries from dest */
	WHITEOUT_APPLY,
} whiteout_mode;

typedef struct unpack_opts {
	whiteout_mode whiteouts;
	/* xattr namespace for overlay metadata: "trusted.overlay." as root on the host,
	 * "user.overlay." for rootless (mounted with userxattr). NULL = "trusted.overlay.". */
	const char *overlay_xattr_prefix;
	/* when false (rootless), chown failures are ignored (ownership comes from the id map) */
	bool chown;
	/* bound on the apparent size of one file (sparse files are written sparse) */
	uint64_t max_file_size;
} unpack_opts;

typedef struct unpack_stats {
	uint64_t entries;
	uint64_t bytes;   /* file bytes written */
	uint64_t skipped; /* device nodes and other entries not created */
} unpack_stats;

/* Source of tar bytes: returns bytes read, 0 at EOF, negative errno on error. */
typedef ssize_t (*unpack_read_fn)(void *opaque, void *buf, size_t len);

/*
 * Unpack one layer blob (compressed per comp) read from blob_fd into dest_dirfd.
 * Fills diff_id with the sha256 of the uncompressed tar stream so the caller can check
 * it against the image config. Errors name the offending entry.
 */
int unpack_layer_fd(int blob_fd, layer_compression comp, int dest_dirfd, const unpack_opts *opts,
		    char diff_id[DIGEST_STR_LEN], unpack_stats *stats, berth_err *e);

/* Unpack an uncompressed tar stream from a reader. */
int unpack_tar_stream(unpack_read_fn rd, void *opaque, int dest_dirfd, const unpack_opts *opts,
		      unpack_stats *stats, berth_err *e);

/* Detect compression from the first bytes of a blob (gzip/zstd magic, else none). */
layer_compression compression_sniff(const unsigned char *buf, size_t len);
