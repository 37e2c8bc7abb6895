/* SPDX-License-Identifier: MIT */
#pragma once
/* Shared between registry.c (HTTP, manifests, blobs) and registry-auth.c (open, tokens). */
#include <pthread.h>
#include <stdatomic.h>
#include <curl/curl.h>
#include "auth.h"
#include "registry.h"

struct registry {
	const berth_ctx *ctx;
	char *display;	  /* registry as in the reference ("docker.io", "localhost:5000") */
	char *api_host;	  /* host[:port] to talk to */
	char *repository; /* "library/debian" */
	char *base;	  /* "https://host[:port]" once the scheme is known */
	bool tls_verify;
	bool allow_http; /* local registry or tls_verify off */
	const atomic_bool *abort;
	char *cainfo; /* $SSL_CERT_FILE or $CURL_CA_BUNDLE */
	/* credentials from an auth file, or NULL */
	char *user, *pass, *cred_source;

	pthread_mutex_t lock; /* guards what follows */
	char *authz;	      /* Authorization header value ("Bearer ...", "Basic ...") */
	unsigned auth_gen;    /* bumped whenever authz changes */
};

struct registry_conn {
	registry *r;
	CURL *h;
};

typedef struct membuf {
	char *data;
	size_t len, cap, max;
	bool overflow;
} membuf;

void membuf_free(membuf *b);

typedef struct http_xfer http_xfer;
struct http_xfer {
	CURL *curl;
	long status;
	char *content_type, *www_auth, *content_range, *retry_after;
	long long content_length; /* -1 when absent */
	unsigned auth_gen;	  /* auth generation the request was sent with */
	membuf body;		  /* 2xx body when there is no sink */
	membuf errbody;		  /* start of a non-2xx body */
	/* Streaming sink for 2xx bodies; returns a negative errno to stop the transfer. */
	int (*sink)(http_xfer *x, const char *data, size_t len);
	void *sink_data;
	int sink_err;
};

void http_xfer_reset(http_xfer *x);
void http_xfer_free(http_xfer *x);
/* Route h's headers and body into x. */
void registry_xfer_attach(CURL *h, http_xfer *x);
void registry_setup_curl(registry *r, CURL *h, char *errbuf);
bool registry_curl_transient(CURLcode cc);
int registry_curl_error(registry *r, CURLcode cc, const char *errbuf, const char *what,
			berth_err *e);
int registry_http_error(registry *r, const http_xfer *x, const char *what, berth_err *e);
int registry_request(registry_conn *c, const char *path, const char *accept, uint64_t range_from,
		     const char *what, http_xfer *x, CURLcode *cc, berth_err *e);
/* The sentence for a 401 that survived authentication. */
int registry_auth_denied(registry *r, berth_err *e);
void registry_backoff(registry *r, const http_xfer *x, int attempt);

/* After a 401 carrying challenge: get a new token (or set Basic credentials) unless another
 * thread already did since generation gen. */
int registry_authenticate(registry_conn *c, unsigned gen, const char *challenge, berth_err *e);
