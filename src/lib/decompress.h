/* SPDX-License-Identifier: MIT */
#pragma once
#include <stddef.h>
#include <sys/types.h>
#include "error.h"
#include "manifest.h"

/*
 * Streaming decompression of layer blobs: gzip through ISA-L's igzip inflate (several
 * times faster than zlib; multi-member streams are followed to the end), zstd through
 * libzstd (multi-frame streams included), or none. The compression is detected from the
 * data itself (the media type is only a hint, as in Docker and containers/image); the
 * uncompressed bytes are what the diff id covers, so a wrong guess cannot go unnoticed.
 * Corrupt, truncated or trailing-garbage input fails with a sentence naming the problem.
 */
typedef struct decompressor decompressor;

/* Start decompressing what is read from fd (not owned, not closed). hint may be
 * COMPRESSION_INVALID to mean "detect". */
int decompressor_new(int fd, layer_compression hint, decompressor **out, berth_err *e);

/* Up to len uncompressed bytes into buf: the count, 0 at the end of the stream, or a
 * negative errno with e set. */
ssize_t decompressor_read(decompressor *d, void *buf, size_t len, berth_err *e);

/* Compression in effect (known after the first decompressor_read). */
layer_compression decompressor_kind(const decompressor *d);

/* Compressed bytes consumed from fd so far. */
unsigned long long decompressor_bytes_in(const decompressor *d);

void decompressor_free(decompressor *d);

static inline void decompressor_freep(decompressor **d)
{
	if (*d)
		decompressor_free(*d);
}
#define _cleanup_decompressor_ __attribute__((cleanup(decompressor_freep)))
