/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>

#include "digest.h"
#include "read-ahead.h"
#include "unit.h"

/* A source of n pseudo-random bytes, handed out in uneven pieces, failing at fail_at. */
typedef struct src {
	size_t n, pos, fail_at;
	uint32_t seed;
	berth_err err;
} src;

static ssize_t src_read(void *opaque, void *buf, size_t len)
{
	src *s = opaque;
	if (s->pos >= s->fail_at)
		return berr(&s->err, -EBADMSG, "the source broke at byte %zu", s->pos);
	size_t want = 1 + (s->pos * 7919) % 70000; /* uneven, sometimes tiny reads */
	if (want > len)
		want = len;
	if (want > s->n - s->pos)
		want = s->n - s->pos;
	unsigned char *p = buf;
	for (size_t i = 0; i < want; i++) {
		s->seed = s->seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(s->seed >> 16);
	}
	s->pos += want;
	return (ssize_t)want;
}

/* Read the whole source through read_ahead; returns the last readahead_next result. */
static ssize_t drain(src *s, char got[DIGEST_STR_LEN], size_t *total, size_t stop_after)
{
	sha256_ctx thread_hash = {0}, mine = {0};
	CHECK(sha256_init(&thread_hash) == 0);
	CHECK(sha256_init(&mine) == 0);
	berth_err e = {0};
	read_ahead *ra = NULL;
	CHECK(read_ahead_start(src_read, s, &s->err, &thread_hash, &ra, &e) == 0);
	ssize_t n;
	*total = 0;
	do {
		const void *buf;
		n = read_ahead_next(ra, &buf);
		if (n > 0) {
			sha256_update(&mine, buf, (size_t)n);
			*total += (size_t)n;
		}
		if (n < 0) {
			const berth_err *re = read_ahead_error(ra);
			CHECK(re && re->code == -EBADMSG && strstr(re->msg, "broke"));
		}
	} while (n > 0 && *total < stop_after);
	read_ahead_stop(ra);
	char theirs[DIGEST_STR_LEN];
	sha256_final(&thread_hash, theirs);
	sha256_final(&mine, got);
	if (n == 0)
		CHECK_STREQ(theirs, got); /* the thread hashed what it handed out, in order */
	return n;
}

int main(void)
{
	/* empty, smaller than one buffer, many buffers with an uneven tail */
	size_t sizes[] = {0, 1000, (9u << 20) + 4321};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
		src s = {.n = sizes[i], .fail_at = SIZE_MAX, .seed = 42};
		char got[DIGEST_STR_LEN];
		size_t total;
		CHECK(drain(&s, got, &total, SIZE_MAX) == 0);
		CHECK(total == sizes[i]);
		src again = {.n = sizes[i], .fail_at = SIZE_MAX, .seed = 42};
		unsigned char *all = malloc(sizes[i] + 1);
		CHECK(all != NULL);
		size_t have = 0;
		while (have < sizes[i])
			have += (size_t)src_read(&again, all + have, sizes[i] - have);
		char want[DIGEST_STR_LEN];
		sha256_buf(all, sizes[i], want);
		CHECK_STREQ(got, want);
		free(all);
	}

	/* a failure mid-stream reaches the consumer with the source's sentence */
	src bad = {.n = 8u << 20, .fail_at = 3u << 20, .seed = 7};
	char got[DIGEST_STR_LEN];
	size_t total;
	CHECK(drain(&bad, got, &total, SIZE_MAX) == -EBADMSG);
	CHECK(total <= 3u << 20);

	/* the consumer may stop early; stopping joins the thread without reading the rest */
	src big = {.n = 64u << 20, .fail_at = SIZE_MAX, .seed = 9};
	CHECK(drain(&big, got, &total, 1) > 0);
	CHECK(big.pos < big.n);
	return unit_exit("read-ahead");
}
