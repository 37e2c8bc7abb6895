/* SPDX-License-Identifier: MIT */
#pragma once
#include <sys/types.h>
#include "digest.h"
#include "error.h"
#include "unpack.h"

/*
 * A thread that reads a stream ahead of its consumer: it calls rd (for a layer: read the
 * blob and inflate it) into a few large buffers and hashes each one, while the consumer
 * (libarchive and the file writes of the unpacker) works on the buffers filled before.
 * On two or more CPUs decompression and hashing then overlap with creating the files.
 */
typedef struct read_ahead read_ahead;

/* Start reading. hash may be NULL; it is updated with every byte, in order, by the thread,
 * so the caller touches it only after read_ahead_stop(). rd_err is where rd leaves its
 * sentence on failure (may be NULL). */
int read_ahead_start(unpack_read_fn rd, void *opaque, berth_err *rd_err, sha256_ctx *hash,
		     read_ahead **out, berth_err *e);

/* The next chunk: its length (0 at the end, a negative errno when rd failed; then
 * read_ahead_error() has the sentence). *buf stays valid until the next call. */
ssize_t read_ahead_next(read_ahead *ra, const void **buf);

/* rd's sentence for the failure read_ahead_next() reported, or NULL. */
const berth_err *read_ahead_error(const read_ahead *ra);

/* Stop the thread (at any point) and free everything. NULL is a no-op. */
void read_ahead_stop(read_ahead *ra);
