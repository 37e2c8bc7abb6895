/* SPDX-License-Identifier: MIT */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "error.h"

/* "sha256:" + 64 hex + NUL */
#define DIGEST_STR_LEN 72
#define DIGEST_HEX_LEN 64

typedef struct sha256_ctx {
	void *md; /* SHA256_CTX* */
} sha256_ctx;

int sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
/* Writes "sha256:<hex>" into out and frees the context. */
void sha256_final(sha256_ctx *c, char out[DIGEST_STR_LEN]);
/* Frees the context without producing a digest (safe to call twice / on zeroed ctx). */
void sha256_free(sha256_ctx *c);
void sha256_buf(const void *data, size_t len, char out[DIGEST_STR_LEN]);
/* Hash an fd from its current offset to EOF. */
int sha256_fd(int fd, char out[DIGEST_STR_LEN], uint64_t *size_out, berth_err *e);

/* True for "sha256:" followed by exactly 64 lowercase hex digits. Other algorithms are
 * not supported and are rejected by callers with a sentence saying so. */
bool digest_valid(const char *d);
/* Pointer to the hex part of a valid digest. */
static inline const char *digest_hex(const char *d)
{
	return d + 7;
}
