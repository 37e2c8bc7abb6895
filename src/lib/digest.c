/* SPDX-License-Identifier: MIT */
#include "digest.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int sha256_init(sha256_ctx *c)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		return -ENOMEM;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return -EIO;
	}
	c->md = md;
	return 0;
}

void sha256_update(sha256_ctx *c, const void *data, size_t len)
{
	if (c->md && len)
		EVP_DigestUpdate(c->md, data, len);
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
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	out[0] = 0;
	if (!c->md)
		return;
	EVP_DigestFinal_ex(c->md, md, &n);
	memcpy(out, "sha256:", 7);
	to_hex(md, n, out + 7);
	sha256_free(c);
}

void sha256_free(sha256_ctx *c)
{
	if (c->md)
		EVP_MD_CTX_free(c->md);
	c->md = NULL;
}

void sha256_buf(const void *data, size_t len, char out[DIGEST_STR_LEN])
{
	unsigned char md[32];
	unsigned int n = sizeof(md);
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	memcpy(out, "sha256:", 7);
	to_hex(md, n, out + 7);
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
