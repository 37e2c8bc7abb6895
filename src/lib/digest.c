/* SPDX-License-Identifier: MIT */
/*
 * SHA-256 through libcrypto's own SHA256_* functions rather than EVP. The two compute the
 * same thing with the same assembly, but in OpenSSL 3 EVP (and the one-shot SHA256()) goes
 * through provider fetching, which pulls most of libcrypto into the static berth binary:
 * 4 MiB more and 17 000 relocations that every command, even a short exec, applies at start.
 * The low-level functions are marked deprecated in OpenSSL 3.0, so they are asked for with
 * OPENSSL_API_COMPAT; they are still there, unchanged, in every 3.x release.
 */
#define OPENSSL_API_COMPAT 10101
#include "digest.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sha256_init(sha256_ctx *c)
{
	SHA256_CTX *md = malloc(sizeof(*md));
	if (!md)
		return -ENOMEM;
	if (SHA256_Init(md) != 1) {
		free(md);
		return -EIO;
	}
	c->md = md;
	return 0;
}

void sha256_update(sha256_ctx *c, const void *data, size_t len)
{
	if (c->md && len)
		SHA256_Update(c->md, data, len);
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = 0;
}

void sha256_final(sha256_ctx *c, char out[DIGEST_STR_LEN])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	out[0] = 0;
	if (!c->md)
		return;
	SHA256_Final(md, c->md);
	memcpy(out, "sha256:", 7);
	to_hex(md, sizeof(md), out + 7);
	sha256_free(c);
}

void sha256_free(sha256_ctx *c)
{
	free(c->md);
	c->md = NULL;
}

void sha256_buf(const void *data, size_t len, char out[DIGEST_STR_LEN])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256_CTX x;
	SHA256_Init(&x);
	SHA256_Update(&x, data, len);
	SHA256_Final(md, &x);
	memcpy(out, "sha256:", 7);
	to_hex(md, sizeof(md), out + 7);
}

int sha256_fd(int fd, char out[DIGEST_STR_LEN], uint64_t *size_out, berth_err *e)
{
	sha256_ctx c = {0};
	int r = sha256_init(&c);
	if (r < 0)
		return berr(e, r, "Cannot start a SHA-256 digest");
	static const size_t bufsz = 1 << 20;
	unsigned char *buf = malloc(bufsz);
	if (!buf) {
		sha256_free(&c);
		return berr(e, -ENOMEM, "Out of memory while hashing");
	}
	uint64_t total = 0;
	for (;;) {
		ssize_t n = read(fd, buf, bufsz);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			free(buf);
			sha256_free(&c);
			return berr_errno(e, r, "Cannot read data to hash");
		}
		if (n == 0)
			break;
		sha256_update(&c, buf, (size_t)n);
		total += (uint64_t)n;
	}
	free(buf);
	sha256_final(&c, out);
	if (size_out)
		*size_out = total;
	return 0;
}

bool digest_valid(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) != 0)
		return false;
	const char *h = d + 7;
	size_t i = 0;
	for (; h[i]; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return false;
	return i == DIGEST_HEX_LEN;
}
