/* SPDX-License-Identifier: MIT */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include "decompress.h"
#include "digest.h"
#include "unit.h"
#include "unpack.h"

typedef struct mem {
	unsigned char *p;
	size_t n, cap;
} mem;

static void mem_add(mem *m, const void *buf, size_t len)
{
	if (m->n + len > m->cap) {
		m->cap = (m->n + len) * 2;
		m->p = realloc(m->p, m->cap);
		if (!m->p)
			abort();
	}
	memcpy(m->p + m->n, buf, len);
	m->n += len;
}

static la_ssize_t mem_write(struct archive *a, void *o, const void *buf, size_t len)
{
	(void)a;
	mem_add(o, buf, len);
	return (la_ssize_t)len;
}

/* Append one gzip member holding data (libarchive's raw format: the bytes, no tar). */
static void gzip_member(mem *out, const void *data, size_t len)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_raw(a);
	archive_write_add_filter_gzip(a);
	archive_write_set_bytes_in_last_block(a, 1);
	archive_write_open(a, out, NULL, mem_write, NULL);
	struct archive_entry *x = archive_entry_new();
	archive_entry_set_pathname(x, "data");
	archive_entry_set_filetype(x, AE_IFREG);
	archive_entry_set_size(x, (la_int64_t)len);
	archive_write_header(a, x);
	if (len)
		archive_write_data(a, data, len);
	archive_entry_free(x);
	archive_write_close(a);
	archive_write_free(a);
}

static void zstd_frame(mem *out, const void *data, size_t len)
{
	size_t cap = ZSTD_compressBound(len);
	unsigned char *p = malloc(cap);
	/* with the content checksum, as zstd(1) writes by default */
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	size_t n = ZSTD_compress2(c, p, cap, data, len);
	ZSTD_freeCCtx(c);
	CHECK(!ZSTD_isError(n));
	mem_add(out, p, n);
	free(p);
}

/* A writer thread feeds a pipe in small pieces, so reads come back short. */
typedef struct feeder {
	int fd;
	const mem *m;
	size_t chunk;
} feeder;

static void *feed(void *o)
{
	feeder *f = o;
	for (size_t pos = 0; pos < f->m->n;) {
		size_t n = f->m->n - pos < f->chunk ? f->m->n - pos : f->chunk;
		ssize_t w = write(f->fd, f->m->p + pos, n);
		if (w <= 0)
			break;
		pos += (size_t)w;
	}
	close(f->fd);
	return NULL;
}

/* Decompress all of m; returns 0 and the digest of the output, or the error. */
static int inflate_all(const mem *m, size_t chunk, char digest[DIGEST_STR_LEN], size_t *outlen,
		       layer_compression *kind, berth_err *e)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		abort();
	feeder f = {p[1], m, chunk};
	pthread_t th;
	pthread_create(&th, NULL, feed, &f);
	berr_clear(e);
	decompressor *d = NULL;
	int r = decompressor_new(p[0], COMPRESSION_INVALID, &d, e);
	sha256_ctx h = {0};
	sha256_init(&h);
	static unsigned char buf[100000];
	*outlen = 0;
	while (r == 0) {
		ssize_t n = decompressor_read(d, buf, sizeof(buf), e);
		if (n < 0)
			r = (int)n;
		if (n <= 0)
			break;
		sha256_update(&h, buf, (size_t)n);
		*outlen += (size_t)n;
	}
	if (kind)
		*kind = decompressor_kind(d);
	decompressor_free(d);
	close(p[0]); /* a writer blocked on a full pipe gets EPIPE and stops */
	pthread_join(th, NULL);
	if (r == 0)
		sha256_final(&h, digest);
	else
		sha256_free(&h);
	return r;
}

int main(void)
{
	/* 3 MiB that compresses poorly, so members span several 1 MiB input buffers. */
	mem raw = {0};
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < (3u << 20) / 8; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint64_t v = x & 0x0f0f0f0f0f0f0f0full; /* half entropy */
		mem_add(&raw, &v, 8);
	}
	char want[DIGEST_STR_LEN], got[DIGEST_STR_LEN];
	sha256_buf(raw.p, raw.n, want);
	berth_err e;
	size_t len;
	layer_compression kind;

	/* Multi-member gzip, members cut at odd places, read through short pipe writes. */
	mem gz = {0};
	size_t cuts[] = {0, 1, 777777, 1048576, 2500000, raw.n};
	for (size_t i = 0; i + 1 < sizeof(cuts) / sizeof(cuts[0]); i++)
		gzip_member(&gz, raw.p + cuts[i], cuts[i + 1] - cuts[i]);
	CHECK(compression_sniff(gz.p, gz.n) == COMPRESSION_GZIP);
	CHECK(inflate_all(&gz, 65536, got, &len, &kind, &e) == 0);
	CHECK(kind == COMPRESSION_GZIP);
	CHECK(len == raw.n);
	CHECK_STREQ(got, want);
	CHECK(inflate_all(&gz, 4093, got, &len, NULL, &e) == 0);
	CHECK_STREQ(got, want);

	/* Trailing bytes that are not another member. */
	mem bad = {0};
	mem_add(&bad, gz.p, gz.n);
	mem_add(&bad, "garbage", 7);
	CHECK(inflate_all(&bad, 1 << 20, got, &len, NULL, &e) == -EBADMSG);
	CHECK(strstr(e.msg, "not gzip") != NULL);
	free(bad.p);

	/* Zero padding after the last member is ignored (gzip(1) does), other bytes are not. */
	bad = (mem){0};
	mem_add(&bad, gz.p, gz.n);
	static const unsigned char zeros[10240];
	mem_add(&bad, zeros, sizeof(zeros));
	CHECK(inflate_all(&bad, 3000, got, &len, NULL, &e) == 0);
	CHECK_STREQ(got, want);
	mem_add(&bad, "\1", 1);
	CHECK(inflate_all(&bad, 1 << 20, got, &len, NULL, &e) == -EBADMSG);
	CHECK(strstr(e.msg, "not gzip") != NULL);
	free(bad.p);

	/* A wrong CRC in the last trailer is caught even though all data came out. */
	bad = (mem){0};
	mem_add(&bad, gz.p, gz.n);
	bad.p[bad.n - 6] ^= 1;
	CHECK(inflate_all(&bad, 1 << 20, got, &len, NULL, &e) == -EBADMSG);
	CHECK(strstr(e.msg, "CRC") != NULL);
	free(bad.p);

	/* Cut anywhere: never success (one byte is not gzip magic yet: plain data). */
	size_t cut_at[] = {2, 5, 11, gz.n / 2, gz.n - 1};
	for (size_t i = 0; i < sizeof(cut_at) / sizeof(cut_at[0]); i++) {
		mem c = {gz.p, cut_at[i], 0};
		CHECK(inflate_all(&c, 1 << 20, got, &len, NULL, &e) < 0);
		CHECK(e.code < 0 && strstr(e.msg, "gzip") != NULL);
	}

	/* A bad header: a gzip magic with a method that is not deflate. */
	unsigned char hdr[20] = {0x1f, 0x8b, 0x07, 0};
	mem h = {hdr, sizeof(hdr), 0};
	CHECK(inflate_all(&h, 1 << 20, got, &len, NULL, &e) == -EBADMSG);

	/* An empty gzip member decompresses to nothing. */
	mem empty = {0};
	gzip_member(&empty, "", 0);
	CHECK(inflate_all(&empty, 1 << 20, got, &len, NULL, &e) == 0 && len == 0);
	free(empty.p);

	/* zstd: several frames, then truncation and corruption. */
	mem zs = {0};
	zstd_frame(&zs, raw.p, 1000000);
	zstd_frame(&zs, raw.p + 1000000, raw.n - 1000000);
	CHECK(compression_sniff(zs.p, zs.n) == COMPRESSION_ZSTD);
	CHECK(inflate_all(&zs, 65536, got, &len, &kind, &e) == 0);
	CHECK(kind == COMPRESSION_ZSTD && len == raw.n);
	CHECK_STREQ(got, want);
	mem zc = {zs.p, zs.n - 3, 0};
	CHECK(inflate_all(&zc, 1 << 20, got, &len, NULL, &e) == -EBADMSG);
	CHECK(strstr(e.msg, "zstd") && strstr(e.msg, "truncated"));
	zs.p[zs.n / 3] ^= 0xff;
	CHECK(inflate_all(&zs, 1 << 20, got, &len, NULL, &e) == -EBADMSG);
	CHECK(strstr(e.msg, "zstd") != NULL);

	/* Plain data passes through; an empty stream is empty. */
	CHECK(compression_sniff(raw.p, raw.n) == COMPRESSION_NONE);
	CHECK(inflate_all(&raw, 3000, got, &len, &kind, &e) == 0);
	CHECK(kind == COMPRESSION_NONE && len == raw.n);
	CHECK_STREQ(got, want);
	mem none = {0};
	CHECK(inflate_all(&none, 1, got, &len, NULL, &e) == 0 && len == 0);
	CHECK(compression_sniff((const unsigned char *)"\x1f", 1) == COMPRESSION_NONE);

	free(raw.p);
	free(gz.p);
	free(zs.p);
	return unit_exit("test-decompress");
}
