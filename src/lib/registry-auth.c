/* SPDX-License-Identifier: MIT */
/* Opening a registry session: scheme discovery, credentials and Bearer tokens. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "cleanup.h"
#include "curl-loader.h"
#include "registry-internal.h"

#define TOKEN_RESPONSE_MAX (64 * 1024)

static int bad_realm(registry *r, const char *realm, const char *why, berth_err *e)
{
	_cleanup_free_ char *s = auth_sanitize(realm, strlen(realm), 200);
	return berr(e, -EPROTO,
		    "Registry %s points at a token server '%s' that %s; refusing to use it",
		    r->display, s ? s : "", why);
}

/* Append "name=value" to a query, percent-encoding value as Go's url.Values does (what the
 * registries' token servers are used to). */
static int query_add(char **q, const char *name, const char *value)
{
	size_t n = strlen(value);
	_cleanup_free_ char *enc = malloc(3 * n + 1);
	if (!enc)
		return -ENOMEM;
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)value[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			enc[j++] = (char)c;
		} else {
			static const char hex[] = "0123456789ABCDEF";
			enc[j++] = '%';
			enc[j++] = hex[c >> 4];
			enc[j++] = hex[c & 15];
		}
	}
	enc[j] = 0;
	char *nq = NULL;
	if (asprintf(&nq, "%s%s%s=%s", *q ? *q : "", *q && **q ? "&" : "", name, enc) < 0)
		return -ENOMEM;
	free(*q);
	*q = nq;
	return 0;
}

/* Build realm?service=...&scope=repository:<repo>:pull. */
static int token_url(registry *r, const auth_challenge *ch, char **url, berth_err *e)
{
	CURLU *u = curl_fn.url();
	if (!u)
		return berr(e, -ENOMEM, "Out of memory");
	int k = 0;
	char *scheme = NULL, *old = NULL, *base = NULL;
	_cleanup_free_ char *q = NULL, *scope = NULL;
	if (curl_fn.url_set(u, CURLUPART_URL, ch->realm, 0) != CURLUE_OK ||
	    curl_fn.url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		k = bad_realm(r, ch->realm, "is not a valid URL", e);
		goto out;
	}
	if (strcasecmp(scheme, "https") != 0 && !(r->allow_http && !strcasecmp(scheme, "http"))) {
		k = bad_realm(r, ch->realm, "does not use HTTPS", e);
		goto out;
	}
	if (curl_fn.url_get(u, CURLUPART_QUERY, &old, 0) == CURLUE_OK && old &&
	    !(q = strdup(old))) {
		k = berr(e, -ENOMEM, "Out of memory");
		goto out;
	}
	if (asprintf(&scope, "repository:%s:pull", r->repository) < 0) {
		scope = NULL;
		k = berr(e, -ENOMEM, "Out of memory");
		goto out;
	}
	if ((ch->service && query_add(&q, "service", ch->service) < 0) ||
	    query_add(&q, "scope", scope) < 0) {
		k = berr(e, -ENOMEM, "Out of memory");
		goto out;
	}
	/* Append the query by hand: curl's URL API would lowercase the percent-encoding. */
	if (curl_fn.url_set(u, CURLUPART_QUERY, NULL, 0) != CURLUE_OK ||
	    curl_fn.url_set(u, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK ||
	    curl_fn.url_get(u, CURLUPART_URL, &base, 0) != CURLUE_OK) {
		k = bad_realm(r, ch->realm, "cannot take a query", e);
		goto out;
	}
	if (asprintf(url, "%s?%s", base, q) < 0) {
		*url = NULL;
		k = berr(e, -ENOMEM, "Out of memory");
	}
out:
	curl_fn.free(base);
	curl_fn.free(old);
	curl_fn.free(scheme);
	curl_fn.url_cleanup(u);
	return k;
}

/* GET a token from the realm, with the credentials when there are some. */
static int fetch_token(registry_conn *c, const auth_challenge *ch, char **token, berth_err *e)
{
	registry *r = c->r;
	_cleanup_free_ char *url = NULL;
	int k = token_url(r, ch, &url, e);
	if (k < 0)
		return k;
	char errbuf[CURL_ERROR_SIZE] = "";
	http_xfer x = {.content_length = -1};
	for (int attempt = 0;; attempt++) {
		registry_setup_curl(r, c->h, errbuf);
		http_xfer_reset(&x);
		x.body = (membuf){.max = TOKEN_RESPONSE_MAX};
		x.sink_err = 0;
		registry_xfer_attach(c->h, &x);
		curl_fn.easy_setopt(c->h, CURLOPT_URL, url);
		/* curl-managed credentials: dropped when redirected to another host. */
		curl_fn.easy_setopt(c->h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_fn.easy_setopt(c->h, CURLOPT_MAXREDIRS, 5L);
		if (r->user) {
			curl_fn.easy_setopt(c->h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
			curl_fn.easy_setopt(c->h, CURLOPT_USERNAME, r->user);
			curl_fn.easy_setopt(c->h, CURLOPT_PASSWORD, r->pass);
		}
		CURLcode cc = curl_fn.easy_perform(c->h);
		long status = 0;
		curl_fn.easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
		x.status = status;
		bool transient =
		    (cc != CURLE_OK && cc != CURLE_WRITE_ERROR && registry_curl_transient(cc)) ||
		    (cc == CURLE_OK && (status == 429 || status >= 500));
		if (transient && attempt < 3) {
			membuf_free(&x.body);
			registry_backoff(r, &x, attempt + 1);
			continue;
		}
		if (cc == CURLE_WRITE_ERROR && x.sink_err)
			k = berr(e, -E2BIG,
				 "The token server of registry %s sent an oversized answer",
				 r->display);
		else if (cc != CURLE_OK)
			k = registry_curl_error(r, cc, errbuf, "an auth token", e);
		else if (status == 401 || status == 403)
			k = registry_auth_denied(r, e);
		else if (status != 200)
			k = registry_http_error(r, &x, "an auth token", e);
		else
			k = auth_parse_token_response(x.body.data ? x.body.data : "", x.body.len,
						      token, e);
		break;
	}
	http_xfer_free(&x);
	return k;
}

int registry_authenticate(registry_conn *c, unsigned gen, const char *challenge, berth_err *e)
{
	registry *r = c->r;
	auth_challenge ch = {0};
	int k = auth_parse_challenge(challenge, &ch, e);
	if (k < 0)
		return k;
	pthread_mutex_lock(&r->lock);
	if (r->auth_gen != gen) {
		/* Another thread already renewed the authorization: just retry. */
		pthread_mutex_unlock(&r->lock);
		auth_challenge_free(&ch);
		return 0;
	}
	char *authz = NULL;
	if (ch.scheme == AUTH_SCHEME_BASIC) {
		if (!r->user) {
			k = registry_auth_denied(r, e);
		} else {
			_cleanup_free_ char *up = NULL, *b64 = NULL;
			if (asprintf(&up, "%s:%s", r->user, r->pass) < 0 ||
			    !(b64 = base64_encode(up, strlen(up))) ||
			    asprintf(&authz, "Basic %s", b64) < 0) {
				authz = NULL;
				k = berr(e, -ENOMEM, "Out of memory");
			}
			if (up)
				explicit_bzero(up, strlen(up));
		}
	} else {
		_cleanup_free_ char *token = NULL;
		berth_debug(r->ctx, "getting a token from %s", ch.realm);
		k = fetch_token(c, &ch, &token, e);
		if (k == 0 && asprintf(&authz, "Bearer %s", token) < 0) {
			authz = NULL;
			k = berr(e, -ENOMEM, "Out of memory");
		}
	}
	if (k == 0) {
		free(r->authz);
		r->authz = authz;
		r->auth_gen++;
	}
	pthread_mutex_unlock(&r->lock);
	auth_challenge_free(&ch);
	return k;
}

static bool tls_layer_failure(CURLcode cc)
{
	return cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_GOT_NOTHING || cc == CURLE_RECV_ERROR ||
	       cc == CURLE_WEIRD_SERVER_REPLY;
}

int registry_open(const berth_ctx *ctx, const berth_ref *ref, bool tls_verify,
		  const atomic_bool *abort, registry **out, berth_err *e)
{
	*out = NULL;
	/* Here, before the pull's threads start; libcurl stays initialised until exit. */
	int k = curl_load(e);
	if (k < 0)
		return k;
	registry *r = calloc(1, sizeof(*r));
	if (!r)
		return berr(e, -ENOMEM, "Out of memory");
	pthread_mutex_init(&r->lock, NULL);
	r->ctx = ctx;
	r->abort = abort;
	r->tls_verify = tls_verify;
	r->allow_http = !tls_verify || ref_is_local_registry(ref);
	r->display = strdup(ref->registry);
	r->api_host = strdup(ref_api_host(ref));
	r->repository = strdup(ref->repository);
	const char *ca = getenv("SSL_CERT_FILE");
	if (!ca || !*ca)
		ca = getenv("CURL_CA_BUNDLE");
	if (ca && *ca)
		r->cainfo = strdup(ca);
	if (!r->display || !r->api_host || !r->repository || (ca && *ca && !r->cainfo)) {
		registry_close(r);
		return berr(e, -ENOMEM, "Out of memory");
	}
	k = auth_find_credentials(r->display, r->repository, &r->user, &r->pass, &r->cred_source,
				  e);
	if (k < 0) {
		registry_close(r);
		return k;
	}
	if (k > 0)
		berth_debug(ctx, "using credentials for %s from %s", r->display, r->cred_source);

	registry_conn *c = registry_conn_new(r, e);
	if (!c) {
		registry_close(r);
		return e->code;
	}
	/* GET /v2/: finds the scheme, and the authentication the registry wants. */
	static const char *schemes[] = {"https", "http"};
	for (size_t i = 0; i < ARRAY_SIZE(schemes); i++) {
		free(r->base);
		if (asprintf(&r->base, "%s://%s", schemes[i], r->api_host) < 0) {
			r->base = NULL;
			k = berr(e, -ENOMEM, "Out of memory");
			break;
		}
		berth_err le = {0};
		http_xfer x = {.content_length = -1, .body = {.max = 64 * 1024}};
		CURLcode cc = CURLE_OK;
		k = registry_request(c, "/v2/", NULL, 0, "the API root /v2/", &x, &cc, &le);
		long status = x.status;
		http_xfer_free(&x);
		if (k == 0) {
			berth_debug(ctx, "registry %s speaks %s (GET /v2/: HTTP %ld)", r->display,
				    schemes[i], status);
			break;
		}
		if (i == 0 && r->allow_http && tls_layer_failure(cc)) {
			berth_debug(ctx, "HTTPS to %s failed (%s); trying plain HTTP", r->display,
				    le.msg);
			continue;
		}
		*e = e->code ? *e : le;
		break;
	}
	registry_conn_free(c);
	if (k < 0) {
		registry_close(r);
		return k;
	}
	*out = r;
	return 0;
}

void registry_close(registry *r)
{
	if (!r)
		return;
	free(r->display);
	free(r->api_host);
	free(r->repository);
	free(r->base);
	free(r->cainfo);
	free(r->user);
	if (r->pass)
		explicit_bzero(r->pass, strlen(r->pass));
	free(r->pass);
	free(r->cred_source);
	if (r->authz)
		explicit_bzero(r->authz, strlen(r->authz));
	free(r->authz);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
