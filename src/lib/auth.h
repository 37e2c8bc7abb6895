/* SPDX-License-Identifier: MIT */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "error.h"

/*
 * Registry authentication: parsing of WWW-Authenticate challenges and token responses,
 * and credentials from the auth files podman and docker use. Everything parsed here comes
 * from the network or from files the user may not have written: it is treated as hostile.
 */

typedef enum auth_scheme {
	AUTH_SCHEME_NONE = 0,
	AUTH_SCHEME_BASIC,
	AUTH_SCHEME_BEARER,
} auth_scheme;

typedef struct auth_challenge {
	auth_scheme scheme;
	char *realm;   /* Bearer: token endpoint URL; Basic: informational */
	char *service; /* may be NULL */
	char *scope;   /* may be NULL */
} auth_challenge;

/* Largest value accepted for one challenge parameter. */
#define AUTH_PARAM_MAX 4096

/*
 * Parse a WWW-Authenticate header value (one or more challenges, RFC 7235). Picks Bearer
 * when offered, else Basic. -EINVAL with a sentence on malformed input, -ENOTSUP when
 * only unsupported schemes are offered.
 */
int auth_parse_challenge(const char *header, auth_challenge *out, berth_err *e);
void auth_challenge_free(auth_challenge *c);

/* Token from a token endpoint's JSON answer ("token", else "access_token"). */
int auth_parse_token_response(const char *buf, size_t len, char **token, berth_err *e);

/* Strict base64 (RFC 4648, padding required). Caller frees; *out is NUL-terminated. */
int base64_decode(const char *in, char **out, size_t *out_len);
char *base64_encode(const void *data, size_t len);

/*
 * Look up credentials for registry (as written in the reference: "docker.io",
 * "localhost:5000") and repository in one auth file's JSON text. Keys may be "host[:port]",
 * "host[:port]/namespace..." (the longest match wins) or URLs ("https://host/v1/").
 * Returns 1 and fills user/pass when found, 0 when the file has no entry, or a negative
 * errno with a sentence naming `what` (the file) when it is malformed.
 */
int auth_lookup_json(const char *json, size_t len, const char *what, const char *registry,
		     const char *repository, char **user, char **pass, berth_err *e);

/*
 * Credentials from $REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/auth.json and
 * ~/.docker/config.json, the first file with an entry winning. Returns 1 when found (and
 * *source names the file; caller frees), 0 when none, negative errno on a bad file.
 */
int auth_find_credentials(const char *registry, const char *repository, char **user, char **pass,
			  char **source, berth_err *e);

/* Printable copy of untrusted text for error messages (at most max chars). Caller frees. */
char *auth_sanitize(const char *s, size_t len, size_t max);
