/* SPDX-License-Identifier: MIT */
#include "registry.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>
#include <jansson.h>

#include "auth.h"
#include "cleanup.h"
#include "curl-loader.h"
#include "digest.h"
#include "manifest.h"
#include "registry-internal.h"

const char registry_manifest_accept[] =
    "Accept: " MT_OCI_MANIFEST ", " MT_OCI_INDEX ", " MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST;

#define ERRBODY_MAX (16 * 1024)
#define MAX_REDIRECTS 10
#define MAX_RETRIES 3
#define RECV_BUFFER_SIZE (512L * 1024)

const char *registry_display(const registry *r)
{
	return r->display;
}

/* ---- small helpers ---- */

void membuf_free(membuf *b)
{
	free(b->data);
	*b = (membuf){0};
}

static bool membuf_append(membuf *b, const char *data, size_t len)
{
	if (b->len + len > b->max) {
		b->overflow = true;
		return false;
	}
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len + 1)
			cap *= 2;
		char *n = realloc(b->data, cap);
		if (!n)
			return false;
		b->data = n;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = 0;
	return true;
}

void http_xfer_reset(http_xfer *x)
{
	free(x->content_type);
	free(x->www_auth);
	free(x->content_range);
	free(x->retry_after);
	x->content_type = x->www_auth = x->content_range = x->retry_after = NULL;
	x->content_length = -1;
	x->status = 0;
	membuf_free(&x->errbody);
	x->errbody.max = ERRBODY_MAX;
}

void http_xfer_free(http_xfer *x)
{
	http_xfer_reset(x);
	membuf_free(&x->body);
}

/* Sleep up to ms milliseconds, waking early when the pull is aborted. */
static void sleep_abortable(const registry *r, long ms)
{
	while (ms > 0 && !(r->abort && atomic_load(r->abort))) {
		long step = ms < 100 ? ms : 100;
		struct timespec ts = {0, step * 1000000L};
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* ---- curl callbacks ---- */

static char *header_value(const char *line, size_t len, const char *name)
{
	size_t nl = strlen(name);
	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return NULL;
	const char *v = line + nl + 1;
	const char *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return strndup(v, (size_t)(end - v));
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
	http_xfer *x = ud;
	size_t len = size * n;
	if (len >= 5 && !strncmp(data, "HTTP/", 5)) {
		/* A new response (after a 100 Continue or similar): forget older headers. */
		membuf keep = x->body;
		x->body = (membuf){0};
		http_xfer_reset(x);
		x->body = keep;
		return len;
	}
	char *v;
	if ((v = header_value(data, len, "content-type"))) {
		free(x->content_type);
		x->content_type = v;
	} else if ((v = header_value(data, len, "www-authenticate"))) {
		if (x->www_auth && strlen(x->www_auth) + strlen(v) < 4 * AUTH_PARAM_MAX) {
			char *j = NULL;
			if (asprintf(&j, "%s, %s", x->www_auth, v) >= 0) {
				free(x->www_auth);
				x->www_auth = j;
			}
			free(v);
		} else if (!x->www_auth) {
			x->www_auth = v;
		} else {
			free(v);
		}
	} else if ((v = header_value(data, len, "content-range"))) {
		free(x->content_range);
		x->content_range = v;
	} else if ((v = header_value(data, len, "retry-after"))) {
		free(x->retry_after);
		x->retry_after = v;
	} else if ((v = header_value(data, len, "content-length"))) {
		char *end;
		errno = 0;
		long long cl = strtoll(v, &end, 10);
		x->content_length = (!errno && *v && !*end && cl >= 0) ? cl : -1;
		free(v);
	}
	return len;
}

static size_t on_data(char *data, size_t size, size_t n, void *ud)
{
	http_xfer *x = ud;
	size_t len = size * n;
	long status = 0;
	curl_fn.easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
	x->status = status;
	if (status < 200 || status >= 300) {
		membuf_append(&x->errbody, data, len); /* keep the start, drop the rest */
		return len;
	}
	if (x->sink) {
		int k = x->sink(x, data, len);
		if (k < 0) {
			x->sink_err = k;
			return 0;
		}
		return len;
	}
	if (!membuf_append(&x->body, data, len)) {
		x->sink_err = x->body.overflow ? -E2BIG : -ENOMEM;
		return 0;
	}
	return len;
}

static int on_xferinfo(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	const registry *r = ud;
	return r->abort && atomic_load(r->abort) ? 1 : 0;
}

/* ---- one HTTP exchange ---- */

void registry_xfer_attach(CURL *h, http_xfer *x)
{
	x->curl = h;
	curl_fn.easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_fn.easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_fn.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_fn.easy_setopt(h, CURLOPT_WRITEDATA, x);
}

/* Common options for every transfer on h. */
void registry_setup_curl(registry *r, CURL *h, char *errbuf)
{
	curl_fn.easy_reset(h);
	curl_fn.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_fn.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_fn.easy_setopt(h, CURLOPT_USERAGENT, "berth/" BERTH_VERSION);
	curl_fn.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	/* A stalled transfer (under 1 byte/s for a minute) is a timeout. */
	curl_fn.easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_fn.easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	/* Layers are large: receive (and write to the blob) in large pieces, not 16 KiB ones. */
	curl_fn.easy_setopt(h, CURLOPT_BUFFERSIZE, RECV_BUFFER_SIZE);
	curl_fn.easy_setopt(h, CURLOPT_PROTOCOLS_STR, r->allow_http ? "http,https" : "https");
	curl_fn.easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, r->allow_http ? "http,https" : "https");
	curl_fn.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, r->tls_verify ? 1L : 0L);
	curl_fn.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, r->tls_verify ? 2L : 0L);
	if (r->cainfo)
		curl_fn.easy_setopt(h, CURLOPT_CAINFO, r->cainfo);
	curl_fn.easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_fn.easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
	curl_fn.easy_setopt(h, CURLOPT_XFERINFODATA, r);
	curl_fn.easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
}

/* Same scheme, host and port as the registry's API endpoint? */
static bool same_origin(const registry *r, const char *url)
{
	size_t n = strlen(r->base);
	return !strncmp(url, r->base, n) && (url[n] == '/' || url[n] == 0);
}

/*
 * GET url, following redirects by hand so the registry's Authorization header only goes
 * to the registry itself. Returns the curl code; x has the final status and headers.
 */
static CURLcode http_get(registry_conn *c, const char *url, const char *accept, uint64_t range_from,
			 http_xfer *x, char *errbuf)
{
	registry *r = c->r;
	_cleanup_free_ char *cur = strdup(url);
	if (!cur)
		return CURLE_OUT_OF_MEMORY;
	for (int hop = 0;; hop++) {
		_cleanup_free_ char *authz = NULL;
		if (same_origin(r, cur)) {
			pthread_mutex_lock(&r->lock);
			authz = r->authz ? strdup(r->authz) : NULL;
			x->auth_gen = r->auth_gen;
			pthread_mutex_unlock(&r->lock);
		}
		struct curl_slist *hdrs = NULL;
		char line[64];
		if (accept)
			hdrs = curl_fn.slist_append(hdrs, accept);
		if (authz) {
			_cleanup_free_ char *h = NULL;
			if (asprintf(&h, "Authorization: %s", authz) < 0) {
				curl_fn.slist_free_all(hdrs);
				return CURLE_OUT_OF_MEMORY;
			}
			hdrs = curl_fn.slist_append(hdrs, h);
			explicit_bzero(h, strlen(h));
		}
		if (range_from > 0) {
			snprintf(line, sizeof(line), "Range: bytes=%" PRIu64 "-", range_from);
			hdrs = curl_fn.slist_append(hdrs, line);
		}
		registry_setup_curl(r, c->h, errbuf);
		http_xfer_reset(x);
		registry_xfer_attach(c->h, x);
		curl_fn.easy_setopt(c->h, CURLOPT_URL, cur);
		curl_fn.easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
		errbuf[0] = 0;
		CURLcode cc = curl_fn.easy_perform(c->h);
		curl_fn.slist_free_all(hdrs);
		if (cc != CURLE_OK)
			return cc;
		long status = 0;
		curl_fn.easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
		x->status = status;
		if (status < 300 || status >= 400 || status == 304)
			return CURLE_OK;
		char *loc = NULL;
		curl_fn.easy_getinfo(c->h, CURLINFO_REDIRECT_URL, &loc);
		if (!loc)
			return CURLE_OK; /* a 3xx without a usable Location: caller reports it */
		if (hop >= MAX_REDIRECTS) {
			snprintf(errbuf, CURL_ERROR_SIZE, "more than %d redirects", MAX_REDIRECTS);
			return CURLE_TOO_MANY_REDIRECTS;
		}
		bool https = !strncasecmp(loc, "https://", 8);
		if (!https && !(r->allow_http && !strncasecmp(loc, "http://", 7))) {
			snprintf(errbuf, CURL_ERROR_SIZE, "redirected to a non-HTTPS location");
			return CURLE_UNSUPPORTED_PROTOCOL;
		}
		char *next = strdup(loc);
		if (!next)
			return CURLE_OUT_OF_MEMORY;
		free(cur);
		cur = next;
		berth_debug(r->ctx, "following a redirect to %s",
			    same_origin(r, cur) ? cur : "another host");
	}
}

/* ---- errors ---- */

bool registry_curl_transient(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return true;
	default:
		return false;
	}
}

static bool status_transient(long status)
{
	return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
	       status == 504;
}

int registry_curl_error(registry *r, CURLcode cc, const char *errbuf, const char *what,
			berth_err *e)
{
	const char *detail = errbuf && *errbuf ? errbuf : curl_fn.easy_strerror(cc);
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return berr(
		    e, -EHOSTUNREACH,
		    "Cannot resolve the registry host '%s'; check the name and your network "
		    "(DNS)",
		    r->api_host);
	case CURLE_COULDNT_RESOLVE_PROXY:
		return berr(e, -EHOSTUNREACH, "Cannot resolve the proxy (%s); check $https_proxy",
			    detail);
	case CURLE_COULDNT_CONNECT:
		return berr(e, -ECONNREFUSED,
			    "Cannot connect to registry %s (%s); check that it is running and that "
			    "the host and port are right",
			    r->display, detail);
	case CURLE_OPERATION_TIMEDOUT:
		return berr(e, -ETIMEDOUT,
			    "Registry %s did not answer in time while fetching %s; check your "
			    "network and try again",
			    r->display, what);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CERTPROBLEM:
		return berr(
		    e, -EPERM,
		    "The TLS certificate of registry %s could not be verified (%s); add its "
		    "CA to the system trust store or point $SSL_CERT_FILE at it, or pass "
		    "--tls-verify=false if this is a test registry you trust",
		    r->display, detail);
	case CURLE_SSL_CONNECT_ERROR:
		return berr(
		    e, -EPROTO,
		    "The TLS handshake with registry %s failed (%s); if it only speaks plain "
		    "HTTP, pass --tls-verify=false",
		    r->display, detail);
	case CURLE_ABORTED_BY_CALLBACK:
		return berr(e, -ECANCELED, "The pull from %s was stopped", r->display);
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return berr(
		    e, -EPROTO,
		    "Registry %s sent a bad redirect while fetching %s (%s); the registry is "
		    "misconfigured",
		    r->display, what, detail);
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return berr(e, -ECONNRESET,
			    "The connection to registry %s broke while fetching %s (%s); try again",
			    r->display, what, detail);
	default:
		return berr(e, -EIO, "Fetching %s from registry %s failed: %s", what, r->display,
			    detail);
	}
}

/* The registry's own error message from a JSON error body, sanitized (caller frees). */
static char *registry_message(const http_xfer *x)
{
	if (!x->errbody.data)
		return NULL;
	json_error_t je;
	_cleanup_json_ json_t *j = json_loadb(x->errbody.data, x->errbody.len, 0, &je);
	json_t *errs = j ? json_object_get(j, "errors") : NULL;
	json_t *first = json_is_array(errs) ? json_array_get(errs, 0) : NULL;
	json_t *msg = first ? json_object_get(first, "message") : NULL;
	json_t *code = first ? json_object_get(first, "code") : NULL;
	const char *s = json_is_string(msg)    ? json_string_value(msg)
			: json_is_string(code) ? json_string_value(code)
					       : NULL;
	return s && *s ? auth_sanitize(s, strlen(s), 200) : NULL;
}

int registry_http_error(registry *r, const http_xfer *x, const char *what, berth_err *e)
{
	_cleanup_free_ char *msg = registry_message(x);
	char extra[300] = "";
	if (msg)
		snprintf(extra, sizeof(extra), " (\"%s\")", msg);
	long st = x->status;
	if (st == 403)
		return berr(e, -EACCES,
			    "Registry %s denied access to %s%s; check your credentials "
			    "and permissions",
			    r->display, what, extra);
	if (st == 429)
		return berr(e, -EBUSY,
			    "Registry %s is rate-limiting requests for %s%s; wait a while "
			    "and try again",
			    r->display, what, extra);
	if (st >= 500)
		return berr(e, -EIO,
			    "Registry %s failed with HTTP %ld while serving %s%s; try again "
			    "later",
			    r->display, st, what, extra);
	if (st >= 300 && st < 400)
		return berr(e, -EPROTO,
			    "Registry %s answered %s with a redirect (HTTP %ld) without "
			    "a usable location",
			    r->display, what, st);
	return berr(e, -EPROTO, "Registry %s answered HTTP %ld for %s%s", r->display, st, what,
		    extra);
}

int registry_auth_denied(registry *r, berth_err *e)
{
	if (r->user)
		return berr(e, -EACCES,
			    "Registry %s refused the credentials for %s (from %s); check "
			    "~/.docker/config.json or $REGISTRY_AUTH_FILE",
			    r->display, r->repository, r->cred_source);
	return berr(e, -EACCES,
		    "Registry %s requires credentials for %s (or the image does not exist there); "
		    "add them to ~/.docker/config.json or $REGISTRY_AUTH_FILE",
		    r->display, r->repository);
}

/* ---- requests with auth and retries ---- */

/*
 * One request to path on the registry, re-authenticating once on 401. Returns 0 when an
 * HTTP answer other than 401 arrived (x->status), a negative errno otherwise; *cc gets the
 * curl code (CURLE_OK when the failure was not a transport one).
 */
int registry_request(registry_conn *c, const char *path, const char *accept, uint64_t range_from,
		     const char *what, http_xfer *x, CURLcode *cc, berth_err *e)
{
	registry *r = c->r;
	_cleanup_free_ char *url = NULL;
	if (asprintf(&url, "%s%s", r->base, path) < 0)
		return berr(e, -ENOMEM, "Out of memory");
	char errbuf[CURL_ERROR_SIZE];
	for (int attempt = 0;; attempt++) {
		*cc = http_get(c, url, accept, range_from, x, errbuf);
		if (*cc == CURLE_WRITE_ERROR && x->sink_err) {
			if (!e->code) /* a sink that did not say why: the body was too big */
				berr(e, x->sink_err,
				     "Registry %s sent more data than expected for %s; refusing it",
				     r->display, what);
			return x->sink_err;
		}
		if (*cc != CURLE_OK)
			return registry_curl_error(r, *cc, errbuf, what, e);
		if (x->status != 401)
			return 0;
		if (attempt > 0 || !x->www_auth)
			return registry_auth_denied(r, e);
		int k = registry_authenticate(c, x->auth_gen, x->www_auth, e);
		if (k < 0)
			return k;
	}
}

/* Backoff before retry number attempt (1-based): 1s, 2s, 4s, or the server's Retry-After
 * when it asks for at most a minute. */
void registry_backoff(registry *r, const http_xfer *x, int attempt)
{
	long ms = 1000L << (attempt - 1);
	if (x && x->retry_after) {
		char *end;
		long s = strtol(x->retry_after, &end, 10);
		if (!*end && s >= 0 && s <= 60)
			ms = s * 1000L;
	}
	berth_debug(r->ctx, "retrying in %ld ms", ms);
	sleep_abortable(r, ms);
}

/* GET into memory with retries; returns 0 with x->status 2xx, or a negative errno. */
static int get_small(registry_conn *c, const char *path, const char *accept, size_t max,
		     const char *what, http_xfer *x, berth_err *e)
{
	registry *r = c->r;
	for (int attempt = 0;; attempt++) {
		berth_err le = {0};
		CURLcode cc = CURLE_OK;
		x->body = (membuf){.max = max};
		x->sink_err = 0;
		int k = registry_request(c, path, accept, 0, what, x, &cc, &le);
		if (k == 0 && x->status >= 200 && x->status < 300)
			return 0;
		if (x->sink_err == -E2BIG)
			return berr(e, -E2BIG,
				    "%s on registry %s is larger than %zu bytes; refusing it as "
				    "hostile",
				    what, r->display, max);
		bool transient = (k < 0 && cc != CURLE_OK && registry_curl_transient(cc)) ||
				 (k == 0 && status_transient(x->status));
		if (!transient || attempt >= MAX_RETRIES) {
			membuf_free(&x->body);
			if (k < 0) {
				*e = e->code ? *e : le;
				return k;
			}
			return x->status == 404 ? -ENOENT : registry_http_error(r, x, what, e);
		}
		membuf_free(&x->body);
		registry_backoff(r, x, attempt + 1);
	}
}

int registry_get_manifest(registry_conn *c, const char *reference, char **buf, size_t *len,
			  char **content_type, berth_err *e)
{
	registry *r = c->r;
	bool by_digest = !strncmp(reference, "sha256:", 7);
	if (by_digest && !digest_valid(reference))
		return berr(e, -EINVAL, "'%s' is not a valid sha256 digest", reference);
	_cleanup_free_ char *path = NULL, *what = NULL;
	if (asprintf(&path, "/v2/%s/manifests/%s", r->repository, reference) < 0 ||
	    asprintf(&what, "%s%s%s", r->repository, by_digest ? "@" : ":", reference) < 0)
		return berr(e, -ENOMEM, "Out of memory");
	http_xfer x = {.content_length = -1};
	int k = get_small(c, path, registry_manifest_accept, MANIFEST_MAX_SIZE, what, &x, e);
	if (k == -ENOENT) {
		http_xfer_free(&x);
		return berr(e, -ENOENT, "Image %s was not found on registry %s", what, r->display);
	}
	if (k < 0) {
		http_xfer_free(&x);
		return k;
	}
	if (by_digest) {
		char got[DIGEST_STR_LEN];
		sha256_buf(x.body.data ? x.body.data : "", x.body.len, got);
		if (strcmp(got, reference) != 0) {
			http_xfer_free(&x);
			return berr(
			    e, -EBADMSG,
			    "Manifest %s from registry %s does not match its digest (got %s); "
			    "the registry sent corrupt or hostile data",
			    what, r->display, got);
		}
	}
	*buf = x.body.data ? x.body.data : strdup("");
	*len = x.body.len;
	x.body = (membuf){0};
	*content_type = x.content_type ? strdup(x.content_type) : NULL;
	http_xfer_free(&x);
	return *buf ? 0 : berr(e, -ENOMEM, "Out of memory");
}

int registry_get_blob(registry_conn *c, const char *digest, int64_t size, size_t max, char **buf,
		      size_t *len, berth_err *e)
{
	registry *r = c->r;
	if (!digest_valid(digest))
		return berr(e, -EINVAL, "'%s' is not a valid sha256 digest", digest);
	if (size > (int64_t)max)
		return berr(e, -E2BIG,
			    "Blob %s on registry %s declares %lld bytes, more than the %zu berth "
			    "accepts for it",
			    digest, r->display, (long long)size, max);
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "/v2/%s/blobs/%s", r->repository, digest) < 0)
		return berr(e, -ENOMEM, "Out of memory");
	http_xfer x = {.content_length = -1};
	int k = get_small(c, path, NULL, max, digest, &x, e);
	if (k == -ENOENT) {
		http_xfer_free(&x);
		return berr(e, -ENOENT, "Blob %s of %s was not found on registry %s", digest,
			    r->repository, r->display);
	}
	if (k < 0) {
		http_xfer_free(&x);
		return k;
	}
	char got[DIGEST_STR_LEN];
	sha256_buf(x.body.data ? x.body.data : "", x.body.len, got);
	if (strcmp(got, digest) != 0 || (size >= 0 && (int64_t)x.body.len != size)) {
		http_xfer_free(&x);
		return berr(
		    e, -EBADMSG,
		    "Blob %s from registry %s failed verification (%zu bytes hashing to %s, "
		    "expected %lld bytes); the registry sent corrupt or hostile data",
		    digest, r->display, x.body.len, got, (long long)size);
	}
	*buf = x.body.data ? x.body.data : strdup("");
	*len = x.body.len;
	x.body = (membuf){0};
	http_xfer_free(&x);
	return *buf ? 0 : berr(e, -ENOMEM, "Out of memory");
}

/* ---- streaming blob downloads ---- */

typedef struct blob_sink {
	blob_writer *w;
	berth_err *e;
	registry_progress_fn progress;
	void *userdata;
	bool checked, bad_range;
} blob_sink;

static int blob_sink_write(http_xfer *x, const char *data, size_t len)
{
	blob_sink *b = x->sink_data;
	if (!b->checked) {
		b->checked = true;
		if (x->status == 206) {
			/* Content-Range: bytes START-END/TOTAL must start where we are. */
			unsigned long long start = 0;
			if (!x->content_range ||
			    sscanf(x->content_range, "bytes %llu-", &start) != 1 ||
			    start != b->w->written) {
				b->bad_range = true;
				return -EPROTO;
			}
		} else if (b->w->written > 0) {
			/* The server ignored the Range request and sends everything. */
			int k = blob_writer_reset(b->w, b->e);
			if (k < 0)
				return k;
		}
	}
	int k = blob_writer_write(b->w, data, len, b->e);
	if (k < 0)
		return k;
	if (b->progress)
		b->progress(b->userdata, b->w->written);
	return 0;
}

int registry_fetch_blob(registry_conn *c, berth_store *s, const char *digest, int64_t size,
			registry_progress_fn progress, void *userdata, berth_err *e)
{
	registry *r = c->r;
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "/v2/%s/blobs/%s", r->repository, digest) < 0)
		return berr(e, -ENOMEM, "Out of memory");
	blob_writer w;
	uint64_t off = 0;
	int k = blob_writer_open(s, digest, size, &w, &off, e);
	if (k != 0)
		return k < 0 ? k : 0; /* 1: already in the store */
	bool resumed = off > 0, restarted = false;
	if (resumed)
		berth_debug(r->ctx, "resuming %s at byte %llu", digest, (unsigned long long)off);
	int failures = 0;
	for (;;) {
		if (progress)
			progress(userdata, w.written);
		if (size < 0 || w.written < (uint64_t)size) {
			berth_err le = {0};
			blob_sink bs = {
			    .w = &w, .e = &le, .progress = progress, .userdata = userdata};
			http_xfer x = {
			    .content_length = -1, .sink = blob_sink_write, .sink_data = &bs};
			CURLcode cc = CURLE_OK;
			k = registry_request(c, path, NULL, w.written, digest, &x, &cc, &le);
			bool done = k == 0 && (x.status == 200 || x.status == 206);
			if (done && size >= 0 && w.written != (uint64_t)size) {
				/* The body ended early without a transport error. */
				done = false;
				k = berr(&le, -ECONNRESET,
					 "Registry %s ended the download of %s after %llu of %lld "
					 "bytes; try again",
					 r->display, digest, (unsigned long long)w.written,
					 (long long)size);
			}
			if (!done) {
				bool transient;
				if (bs.bad_range || (k == 0 && x.status == 416)) {
					berr_clear(&le);
					k = blob_writer_reset(&w, &le);
					transient = k == 0;
					if (k == 0)
						k = berr(
						    &le, -EPROTO,
						    "Registry %s answered a resumed download of "
						    "%s with the wrong range",
						    r->display, digest);
				} else if (k == -ECONNRESET && le.code == -ECONNRESET) {
					transient = true;
				} else if (k == 0) {
					transient = status_transient(x.status);
				} else {
					transient = cc != CURLE_OK && registry_curl_transient(cc);
				}
				if (!transient || ++failures > MAX_RETRIES) {
					if (k < 0)
						*e = e->code ? *e : le;
					else if (x.status == 404)
						k = berr(
						    e, -ENOENT,
						    "Blob %s of %s was not found on registry %s; "
						    "the image is incomplete there",
						    digest, r->repository, r->display);
					else
						k = registry_http_error(r, &x, digest, e);
					http_xfer_free(&x);
					blob_writer_close(&w); /* keep the partial file to resume */
					return k;
				}
				berth_debug(r->ctx, "download of %s failed (%s), retry %d of %d",
					    digest, le.code ? le.msg : "transient HTTP status",
					    failures, MAX_RETRIES);
				registry_backoff(r, &x, failures);
				http_xfer_free(&x);
				continue;
			}
			http_xfer_free(&x);
		}
		berth_err ce = {0};
		k = blob_writer_commit(&w, &ce);
		if (k == 0)
			return 0;
		if (k == -EBADMSG && resumed && !restarted) {
			/* The partial file from an earlier pull may have been bad: once more from
			 * the start. */
			restarted = true;
			berth_debug(r->ctx, "%s", ce.msg);
			k = blob_writer_open(s, digest, size, &w, &off, e);
			if (k != 0)
				return k < 0 ? k : 0;
			if (off > 0 && blob_writer_reset(&w, e) < 0) {
				blob_writer_close(&w);
				return e->code;
			}
			continue;
		}
		*e = e->code ? *e : ce;
		if (k == -EBADMSG)
			berr_prefix(e, "Registry %s sent corrupt data", r->display);
		return k;
	}
}

registry_conn *registry_conn_new(registry *r, berth_err *e)
{
	registry_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		berr(e, -ENOMEM, "Out of memory");
		return NULL;
	}
	c->r = r;
	c->h = curl_fn.easy_init();
	if (!c->h) {
		free(c);
		berr(e, -ENOMEM, "Cannot start a libcurl session");
		return NULL;
	}
	return c;
}

void registry_conn_free(registry_conn *c)
{
	if (!c)
		return;
	curl_fn.easy_cleanup(c->h);
	free(c);
}
