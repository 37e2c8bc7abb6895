/* SPDX-License-Identifier: MIT */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "context.h"
#include "error.h"
#include "ref.h"
#include "store.h"

/*
 * Client for the OCI distribution API (v2) of one repository on one registry, over libcurl.
 * A registry is shared by the threads of a pull (the auth token is behind a lock); each
 * thread talks through its own registry_conn (one curl handle, reusing its connections).
 *
 * HTTPS with the system CAs ($SSL_CERT_FILE / $CURL_CA_BUNDLE override them). Plain HTTP
 * only for local registries (localhost, 127.0.0.0/8, ::1) or with tls_verify off, and only
 * after HTTPS failed at the TLS layer; tls_verify off also skips certificate checks.
 */
typedef struct registry registry;
typedef struct registry_conn registry_conn;

/* Open: find the scheme and authenticate (GET /v2/, then a token or credentials as the
 * registry asks). abort (may be NULL) is polled by transfers; set it to stop them. */
int registry_open(const berth_ctx *ctx, const berth_ref *ref, bool tls_verify,
		  const atomic_bool *abort, registry **out, berth_err *e);
void registry_close(registry *r);
/* "host[:port]" as the user wrote it, for messages. */
const char *registry_display(const registry *r);

registry_conn *registry_conn_new(registry *r, berth_err *e);
void registry_conn_free(registry_conn *c);

/* The four manifest media types berth accepts, for Accept headers. */
extern const char registry_manifest_accept[];

/*
 * GET a manifest or index by tag or digest (at most MANIFEST_MAX_SIZE). content_type gets
 * the Content-Type (may be NULL when absent). When reference is a digest the bytes are
 * verified against it.
 */
int registry_get_manifest(registry_conn *c, const char *reference, char **buf, size_t *len,
			  char **content_type, berth_err *e);

/* GET a small blob (config) into memory, verified against digest and size. */
int registry_get_blob(registry_conn *c, const char *digest, int64_t size, size_t max, char **buf,
		      size_t *len, berth_err *e);

/* Progress callback for blob downloads: bytes of the blob in hand so far. */
typedef void (*registry_progress_fn)(void *userdata, uint64_t done);

/*
 * Download a blob into the store: streamed through a blob_writer (hashed as it arrives),
 * resumed from an earlier partial download with a Range request, retried on transient
 * failures with backoff, verified and committed. Redirects to other hosts (CDNs) are
 * followed without the registry's credentials.
 */
int registry_fetch_blob(registry_conn *c, berth_store *s, const char *digest, int64_t size,
			registry_progress_fn progress, void *userdata, berth_err *e);
