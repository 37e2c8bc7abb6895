/* SPDX-License-Identifier: MIT */
#include "decompress.h"

#include <errno.h>
#include <isa-l/igzip_lib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "unpack.h"

#define IN_BUF_SIZE (1u << 20)

struct decompressor {
	int fd;
	layer_compression kind;
	bool sniffed;
	bool in_eof;
	bool done;
	unsigned char *in;
	size_t in_pos, in_len;
	unsigned long long bytes_in;
	/* gzip */
	struct inflate_state *gz;
	bool gz_member_done;
	/* zstd */
	ZSTD_DStream *zs;
	size_t zs_last;
};

layer_compression compression_sniff(const unsigned char *buf, size_t len)
{
	if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b)
		return COMPRESSION_GZIP;
	if (len >= 4 && buf[0] == 0x28 && buf[1] == 0xb5 && buf[2] == 0x2f && buf[3] == 0xfd)
		return COMPRESSION_ZSTD;
	return COMPRESSION_NONE;
}

int decompressor_new(int fd, layer_compression hint, decompressor **out, berth_err *e)
{
	(void)hint; /* the data decides; see decompress.h */
	decompressor *d = calloc(1, sizeof(*d));
	if (!d)
		return berr(e, -ENOMEM, "Out of memory starting to decompress a layer");
	d->fd = fd;
	d->kind = COMPRESSION_NONE;
	d->in = malloc(IN_BUF_SIZE);
	if (!d->in) {
		free(d);
		return berr(e, -ENOMEM, "Out of memory starting to decompress a layer");
	}
	*out = d;
	return 0;
}

void decompressor_free(decompressor *d)
{
	if (!d)
		return;
	free(d->gz);
	if (d->zs)
		ZSTD_freeDStream(d->zs);
	free(d->in);
	free(d);
}

layer_compression decompressor_kind(const decompressor *d)
{
	return d->kind;
}

unsigned long long decompressor_bytes_in(const decompressor *d)
{
	return d->bytes_in;
}

/* Read more compressed input after what is buffered (compacting first). */
static int fill(decompressor *d, berth_err *e)
{
	if (d->in_eof)
		return 0;
	if (d->in_pos == d->in_len) {
		d->in_pos = d->in_len = 0;
	} else if (d->in_pos > 0) {
		memmove(d->in, d->in + d->in_pos, d->in_len - d->in_pos);
		d->in_len -= d->in_pos;
		d->in_pos = 0;
	}
	if (d->in_len == IN_BUF_SIZE)
		return 0;
	for (;;) {
		ssize_t n = read(d->fd, d->in + d->in_len, IN_BUF_SIZE - d->in_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return berr_errno(e, -errno, "Cannot read the layer blob");
		}
		if (n == 0)
			d->in_eof = true;
		d->in_len += (size_t)n;
		d->bytes_in += (unsigned long long)n;
		return 0;
	}
}

static int sniff(decompressor *d, berth_err *e)
{
	while (d->in_len < 4 && !d->in_eof) {
		int r = fill(d, e);
		if (r < 0)
			return r;
	}
	d->kind = compression_sniff(d->in, d->in_len);
	d->sniffed = true;
	if (d->kind == COMPRESSION_GZIP) {
		d->gz = malloc(sizeof(*d->gz));
		if (!d->gz)
			return berr(e, -ENOMEM, "Out of memory starting gzip decompression");
		isal_inflate_init(d->gz);
		d->gz->crc_flag = ISAL_GZIP;
	} else if (d->kind == COMPRESSION_ZSTD) {
		d->zs = ZSTD_createDStream();
		if (!d->zs)
			return berr(e, -ENOMEM, "Out of memory starting zstd decompression");
		ZSTD_initDStream(d->zs);
		d->zs_last = 1;
	}
	return 0;
}

static const char *isal_reason(int r)
{
	switch (r) {
	case ISAL_INVALID_BLOCK:
		return "an invalid deflate block";
	case ISAL_INVALID_SYMBOL:
		return "an invalid deflate symbol";
	case ISAL_INVALID_LOOKBACK:
		return "a back-reference before the start of the data";
	case ISAL_INVALID_WRAPPER:
		return "a bad gzip header";
	case ISAL_UNSUPPORTED_METHOD:
		return "a compression method other than deflate";
	case ISAL_INCORRECT_CHECKSUM:
		return "a CRC-32 or length mismatch in a gzip trailer";
	case ISAL_NEED_DICT:
		return "a preset dictionary, which gzip does not allow";
	default:
		return "an unknown inflate error";
	}
}

/* After the last member: zero padding (tape blocking) is ignored, as gzip(1) does. */
static ssize_t gzip_zero_tail(decompressor *d, berth_err *e)
{
	for (;;) {
		for (; d->in_pos < d->in_len; d->in_pos++)
			if (d->in[d->in_pos] != 0)
				return berr(
				    e, -EBADMSG,
				    "The layer's gzip data is followed by bytes that are not "
				    "gzip (at compressed byte %llu); the blob is corrupt",
				    d->bytes_in - (d->in_len - d->in_pos));
		if (d->in_eof) {
			d->done = true;
			return 0;
		}
		int r = fill(d, e);
		if (r < 0)
			return r;
	}
}

static ssize_t read_gzip(decompressor *d, unsigned char *buf, size_t len, berth_err *e)
{
	struct inflate_state *s = d->gz;
	if (len > UINT32_MAX)
		len = UINT32_MAX;
	for (;;) {
		if (d->gz_member_done) {
			/* Another member follows, or the end of the blob. */
			if (d->in_pos == d->in_len) {
				int r = fill(d, e);
				if (r < 0)
					return r;
				if (d->in_pos == d->in_len) {
					d->done = true;
					return 0;
				}
			}
			if (d->in[d->in_pos] == 0)
				return gzip_zero_tail(d, e);
			if (d->in[d->in_pos] != 0x1f)
				return berr(
				    e, -EBADMSG,
				    "The layer's gzip data is followed by bytes that are not "
				    "gzip (at compressed byte %llu); the blob is corrupt",
				    d->bytes_in - (d->in_len - d->in_pos));
			isal_inflate_reset(s);
			s->crc_flag = ISAL_GZIP;
			d->gz_member_done = false;
		}
		if (d->in_pos == d->in_len) {
			int r = fill(d, e);
			if (r < 0)
				return r;
		}
		s->next_in = d->in + d->in_pos;
		s->avail_in = (uint32_t)(d->in_len - d->in_pos);
		s->next_out = buf;
		s->avail_out = (uint32_t)len;
		int r = isal_inflate(s);
		d->in_pos = (size_t)(s->next_in - d->in);
		if (r < 0 || r == ISAL_NEED_DICT)
			return berr(
			    e, -EBADMSG,
			    "The layer's gzip data is corrupt: %s near compressed byte %llu; "
			    "the blob is damaged, delete it and pull again",
			    isal_reason(r), d->bytes_in - (d->in_len - d->in_pos));
		size_t produced = len - s->avail_out;
		if (s->block_state == ISAL_BLOCK_FINISH)
			d->gz_member_done = true;
		if (produced > 0)
			return (ssize_t)produced;
		if (!d->gz_member_done && d->in_pos == d->in_len && d->in_eof)
			return berr(
			    e, -EBADMSG,
			    "The layer's gzip data is truncated or corrupt: it ends inside a gzip "
			    "member "
			    "after %llu compressed bytes; the blob is incomplete, delete it "
			    "and pull again",
			    d->bytes_in);
	}
}

static ssize_t read_zstd(decompressor *d, unsigned char *buf, size_t len, berth_err *e)
{
	for (;;) {
		if (d->in_pos == d->in_len && !d->in_eof) {
			int r = fill(d, e);
			if (r < 0)
				return r;
		}
		ZSTD_inBuffer ib = {d->in, d->in_len, d->in_pos};
		ZSTD_outBuffer ob = {buf, len, 0};
		size_t r = ZSTD_decompressStream(d->zs, &ob, &ib);
		bool progress = ib.pos != d->in_pos || ob.pos > 0;
		d->in_pos = ib.pos;
		if (ZSTD_isError(r))
			return berr(
			    e, -EBADMSG,
			    "The layer's zstd data is corrupt: %s near compressed byte %llu; "
			    "the blob is damaged, delete it and pull again",
			    ZSTD_getErrorName(r), d->bytes_in - (d->in_len - d->in_pos));
		/* With no input left, a finished frame's decoder reports the next frame's header
		 * size; only a call that moved data tells whether a frame is still open. */
		if (progress)
			d->zs_last = r;
		if (ob.pos > 0)
			return (ssize_t)ob.pos;
		if (d->in_pos == d->in_len && d->in_eof) {
			if (d->zs_last != 0)
				return berr(
				    e, -EBADMSG,
				    "The layer's zstd data is truncated or corrupt: it ends inside "
				    "a zstd "
				    "frame after %llu compressed bytes; the blob is incomplete, "
				    "delete it and pull again",
				    d->bytes_in);
			d->done = true;
			return 0;
		}
	}
}

static ssize_t read_none(decompressor *d, unsigned char *buf, size_t len, berth_err *e)
{
	if (d->in_pos < d->in_len) {
		size_t n = d->in_len - d->in_pos;
		if (n > len)
			n = len;
		memcpy(buf, d->in + d->in_pos, n);
		d->in_pos += n;
		return (ssize_t)n;
	}
	if (d->in_eof)
		return 0;
	for (;;) {
		ssize_t n = read(d->fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return berr_errno(e, -errno, "Cannot read the layer blob");
		}
		if (n == 0)
			d->in_eof = true;
		d->bytes_in += (unsigned long long)n;
		return n;
	}
}

ssize_t decompressor_read(decompressor *d, void *buf, size_t len, berth_err *e)
{
	if (!d->sniffed) {
		int r = sniff(d, e);
		if (r < 0)
			return r;
	}
	if (d->done || len == 0)
		return 0;
	switch (d->kind) {
	case COMPRESSION_GZIP:
		return read_gzip(d, buf, len, e);
	case COMPRESSION_ZSTD:
		return read_zstd(d, buf, len, e);
	default:
		return read_none(d, buf, len, e);
	}
}
