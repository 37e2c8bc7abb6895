/* SPDX-License-Identifier: MIT */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "cleanup.h"

/* Largest auth file or token response read. */
#define AUTH_FILE_MAX (1024 * 1024)
#define TOKEN_MAX (64 * 1024)

void auth_challenge_free(auth_challenge *c)
{
	if (!c)
		return;
	free(c->realm);
	free(c->service);
	free(c->scope);
	*c = (auth_challenge){0};
}

char *auth_sanitize(const char *s, size_t len, size_t max)
{
	if (!s)
		return strdup("");
	size_t n = len < max ? len : max;
	char *o = malloc(n + 4);
	if (!o)
		return NULL;
	size_t j = 0;
	for (size_t i = 0; i < n && s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];
		o[j++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	if (len > max && j + 3 <= n + 3) {
		memcpy(o + j, "...", 3);
		j += 3;
	}
	o[j] = 0;
	return o;
}

/* RFC 7230 tchar. */
static bool is_tchar(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static const char *skip_ows(const char *p)
{
	while (is_ows(*p))
		p++;
	return p;
}

/* Parse a token at p; returns its length (0 if none). */
static size_t token_len(const char *p)
{
	size_t n = 0;
	while (is_tchar(p[n]))
		n++;
	return n;
}

/* Parse a quoted-string starting at *pp (which points at '"'); unescapes into a new string. */
static int parse_quoted(const char **pp, char **out)
{
	const char *p = *pp + 1;
	_cleanup_free_ char *buf = malloc(AUTH_PARAM_MAX + 1);
	if (!buf)
		return -ENOMEM;
	size_t n = 0;
	for (;;) {
		char c = *p;
		if (c == 0)
			return -EINVAL; /* unterminated */
		if (c == '"') {
			p++;
			break;
		}
		if (c == '\\') {
			p++;
			c = *p;
			if (c == 0)
				return -EINVAL;
		}
		/* qdtext / quoted-pair: HTAB, SP, VCHAR, obs-text; no other control chars. */
		if ((unsigned char)c < 0x20 && c != '\t')
			return -EINVAL;
		if (c == 0x7f)
			return -EINVAL;
		if (n >= AUTH_PARAM_MAX)
			return -E2BIG;
		buf[n++] = c;
		p++;
	}
	buf[n] = 0;
	*pp = p;
	*out = TAKE_PTR(buf);
	return 0;
}

typedef struct challenge_parse {
	auth_scheme scheme;
	char *realm, *service, *scope;
} challenge_parse;

static void cp_free(challenge_parse *c)
{
	free(c->realm);
	free(c->service);
	free(c->scope);
	*c = (challenge_parse){0};
}

static int bad_challenge(berth_err *e, const char *header, const char *why)
{
	_cleanup_free_ char *s = auth_sanitize(header, strlen(header), 200);
	return berr(
	    e, -EINVAL,
	    "The registry sent a malformed WWW-Authenticate header (%s): '%s'; the registry "
	    "or a proxy in between is misbehaving",
	    why, s ? s : "");
}

int auth_parse_challenge(const char *header, auth_challenge *out, berth_err *e)
{
	*out = (auth_challenge){0};
	if (!header)
		return berr(e, -EINVAL, "The registry asked for authentication without saying how");
	if (strlen(header) > 4 * AUTH_PARAM_MAX)
		return bad_challenge(e, header, "too long");

	challenge_parse best = {0}, cur = {0};
	const char *p = header;
	bool in_challenge = false;
	int r = 0;

	for (;;) {
		p = skip_ows(p);
		while (*p == ',') /* empty list elements are allowed */
			p = skip_ows(p + 1);
		if (!*p)
			break;
		size_t tl = token_len(p);
		if (tl == 0) {
			r = bad_challenge(e, header, "unexpected character");
			goto fail;
		}
		const char *after = skip_ows(p + tl);
		if (*after == '=' && in_challenge) {
			/* auth-param: name = (token | quoted-string) */
			char name[32];
			bool keep = tl < sizeof(name);
			if (keep) {
				memcpy(name, p, tl);
				name[tl] = 0;
			}
			p = skip_ows(after + 1);
			char *val = NULL;
			if (*p == '"') {
				r = parse_quoted(&p, &val);
				if (r < 0) {
					r = bad_challenge(e, header,
							  r == -E2BIG ? "parameter too long"
								      : "bad quoted string");
					goto fail;
				}
			} else {
				size_t vl = token_len(p);
				if (vl == 0) {
					r = bad_challenge(e, header, "missing parameter value");
					goto fail;
				}
				if (vl > AUTH_PARAM_MAX) {
					r = bad_challenge(e, header, "parameter too long");
					goto fail;
				}
				val = strndup(p, vl);
				if (!val) {
					r = berr(e, -ENOMEM, "Out of memory parsing a challenge");
					goto fail;
				}
				p += vl;
			}
			char **slot = NULL;
			if (keep && !strcasecmp(name, "realm"))
				slot = &cur.realm;
			else if (keep && !strcasecmp(name, "service"))
				slot = &cur.service;
			else if (keep && !strcasecmp(name, "scope"))
				slot = &cur.scope;
			if (slot && *slot) {
				free(val);
				r = bad_challenge(e, header, "repeated parameter");
				goto fail;
			}
			if (slot)
				*slot = val;
			else
				free(val);
			p = skip_ows(p);
			if (*p && *p != ',') {
				r = bad_challenge(e, header, "expected a comma");
				goto fail;
			}
			continue;
		}
		/* A new challenge: auth-scheme [ 1*SP ( token68 / #auth-param ) ]. */
		if (in_challenge && cur.scheme != AUTH_SCHEME_NONE &&
		    (best.scheme == AUTH_SCHEME_NONE || cur.scheme > best.scheme)) {
			cp_free(&best);
			best = cur;
			cur = (challenge_parse){0};
		}
		cp_free(&cur);
		if (tl == 5 && !strncasecmp(p, "Basic", 5))
			cur.scheme = AUTH_SCHEME_BASIC;
		else if (tl == 6 && !strncasecmp(p, "Bearer", 6))
			cur.scheme = AUTH_SCHEME_BEARER;
		else
			cur.scheme = AUTH_SCHEME_NONE;
		in_challenge = true;
		p += tl;
		if (!*p || *p == ',')
			continue;
		if (!is_ows(*p)) {
			r = bad_challenge(e, header, "bad scheme name");
			goto fail;
		}
		p = skip_ows(p);
		/* token68? (a token possibly followed by '=' padding, then end or comma) */
		size_t t68 = 0;
		while (p[t68] && (is_tchar(p[t68]) || p[t68] == '/'))
			t68++;
		const char *q = p + t68;
		bool is_param = *skip_ows(q) == '=' && skip_ows(q)[1] != '=' &&
				*skip_ows(skip_ows(q) + 1) != ',' &&
				*skip_ows(skip_ows(q) + 1) != 0;
		if (t68 && !is_param) {
			while (*q == '=')
				q++;
			q = skip_ows(q);
			if (*q && *q != ',') {
				r = bad_challenge(e, header, "bad token68");
				goto fail;
			}
			p = q;
		}
	}
	if (in_challenge && cur.scheme != AUTH_SCHEME_NONE &&
	    (best.scheme == AUTH_SCHEME_NONE || cur.scheme > best.scheme)) {
		cp_free(&best);
		best = cur;
		cur = (challenge_parse){0};
	}
	cp_free(&cur);
	if (best.scheme == AUTH_SCHEME_NONE) {
		_cleanup_free_ char *s = auth_sanitize(header, strlen(header), 200);
		return berr(e, -ENOTSUP,
			    "The registry asks for an authentication scheme berth does not support "
			    "('%s'); berth supports Bearer tokens and Basic credentials",
			    s ? s : "");
	}
	if (best.scheme == AUTH_SCHEME_BEARER && (!best.realm || !*best.realm)) {
		cp_free(&best);
		return bad_challenge(e, header, "Bearer challenge without a realm");
	}
	out->scheme = best.scheme;
	out->realm = best.realm;
	out->service = best.service;
	out->scope = best.scope;
	return 0;
fail:
	cp_free(&cur);
	cp_free(&best);
	return r;
}

static bool token_chars_ok(const char *t)
{
	if (!*t)
		return false;
	for (; *t; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			return false;
	return true;
}

int auth_parse_token_response(const char *buf, size_t len, char **token, berth_err *e)
{
	*token = NULL;
	if (len > TOKEN_MAX)
		return berr(e, -E2BIG, "The registry's token server sent an oversized answer");
	json_error_t je;
	_cleanup_json_ json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j || !json_is_object(j))
		return berr(e, -EINVAL,
			    "The registry's token server sent something that is not a JSON object; "
			    "check the registry's auth setup");
	const char *keys[] = {"token", "access_token"};
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		json_t *t = json_object_get(j, keys[i]);
		if (!t)
			continue;
		if (!json_is_string(t) || !token_chars_ok(json_string_value(t)))
			return berr(e, -EINVAL,
				    "The registry's token server sent an invalid '%s' (not a "
				    "non-empty printable string)",
				    keys[i]);
		*token = strdup(json_string_value(t));
		return *token ? 0 : -ENOMEM;
	}
	return berr(e, -EINVAL,
		    "The registry's token server answered without a token; check the registry's "
		    "auth setup");
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_decode(const char *in, char **out, size_t *out_len)
{
	size_t n = strlen(in);
	*out = NULL;
	if (n % 4 != 0)
		return -EINVAL;
	char *o = malloc(n / 4 * 3 + 1);
	if (!o)
		return -ENOMEM;
	size_t j = 0;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];
			if (c == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad) { /* data after padding */
				free(o);
				return -EINVAL;
			}
			v[k] = b64val(c);
			if (v[k] < 0) {
				free(o);
				return -EINVAL;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		o[j++] = (char)(w >> 16);
		if (pad < 2)
			o[j++] = (char)(w >> 8 & 0xff);
		if (pad < 1)
			o[j++] = (char)(w & 0xff);
	}
	o[j] = 0;
	*out = o;
	if (out_len)
		*out_len = j;
	return 0;
}

char *base64_encode(const void *data, size_t len)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *d = data;
	char *o = malloc((len + 2) / 3 * 4 + 1);
	if (!o)
		return NULL;
	size_t j = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t w = (uint32_t)d[i] << 16;
		if (i + 1 < len)
			w |= (uint32_t)d[i + 1] << 8;
		if (i + 2 < len)
			w |= d[i + 2];
		o[j++] = tbl[w >> 18 & 63];
		o[j++] = tbl[w >> 12 & 63];
		o[j++] = i + 1 < len ? tbl[w >> 6 & 63] : '=';
		o[j++] = i + 2 < len ? tbl[w & 63] : '=';
	}
	o[j] = 0;
	return o;
}

/* Normalise an auth file key: drop a scheme and, for URLs, any path ("https://h/v1/" -> "h"). */
static char *normalize_key(const char *key)
{
	const char *k = key;
	bool url = false;
	if (!strncasecmp(k, "https://", 8)) {
		k += 8;
		url = true;
	} else if (!strncasecmp(k, "http://", 7)) {
		k += 7;
		url = true;
	}
	size_t n = strlen(k);
	if (url) {
		const char *slash = strchr(k, '/');
		if (slash)
			n = (size_t)(slash - k);
	}
	while (n > 0 && k[n - 1] == '/')
		n--;
	return strndup(k, n);
}

/* How well key matches host/repository: 0 = no match, else the matched length. */
static size_t key_match(const char *key, const char *host, const char *repository)
{
	size_t hl = strlen(host);
	if (strncmp(key, host, hl) != 0)
		return 0;
	if (key[hl] == 0)
		return hl;
	if (key[hl] != '/' || !repository)
		return 0;
	const char *ns = key + hl + 1;
	size_t nl = strlen(ns);
	if (nl == 0 || strncmp(repository, ns, nl) != 0)
		return 0;
	if (repository[nl] != 0 && repository[nl] != '/')
		return 0;
	return hl + 1 + nl;
}

static int decode_entry(json_t *entry, const char *what, const char *key, char **user, char **pass,
			berth_err *e)
{
	if (!json_is_object(entry))
		return berr(e, -EINVAL, "Entry '%s' in %s is not a JSON object; fix or remove it",
			    key, what);
	json_t *a = json_object_get(entry, "auth");
	if (json_is_string(a) && *json_string_value(a)) {
		_cleanup_free_ char *dec = NULL;
		size_t dl = 0;
		if (base64_decode(json_string_value(a), &dec, &dl) < 0 || strlen(dec) != dl)
			return berr(
			    e, -EINVAL,
			    "The \"auth\" of '%s' in %s is not valid base64; log in again or "
			    "fix the file",
			    key, what);
		char *colon = strchr(dec, ':');
		if (!colon)
			return berr(e, -EINVAL,
				    "The \"auth\" of '%s' in %s does not have the form "
				    "base64(user:password); log in again or fix the file",
				    key, what);
		*colon = 0;
		*user = strdup(dec);
		*pass = strdup(colon + 1);
	} else {
		json_t *u = json_object_get(entry, "username");
		json_t *p = json_object_get(entry, "password");
		if (!json_is_string(u) || !json_is_string(p))
			return 0; /* e.g. only an identitytoken or a credential helper: not ours */
		*user = strdup(json_string_value(u));
		*pass = strdup(json_string_value(p));
	}
	if (!*user || !*pass) {
		free(*user);
		free(*pass);
		*user = *pass = NULL;
		return -ENOMEM;
	}
	return 1;
}

int auth_lookup_json(const char *json, size_t len, const char *what, const char *registry,
		     const char *repository, char **user, char **pass, berth_err *e)
{
	*user = *pass = NULL;
	json_error_t je;
	_cleanup_json_ json_t *j = json_loadb(json, len, 0, &je);
	if (!j || !json_is_object(j))
		return berr(e, -EINVAL, "%s is not a valid JSON object (line %d: %s); fix it", what,
			    je.line, j ? "not an object" : je.text);
	json_t *auths = json_object_get(j, "auths");
	if (!auths)
		return 0;
	if (!json_is_object(auths))
		return berr(e, -EINVAL, "\"auths\" in %s is not a JSON object; fix it", what);

	/* Docker Hub is known under several names. */
	const char *hosts[4] = {registry, NULL, NULL, NULL};
	if (!strcmp(registry, "docker.io")) {
		hosts[1] = "index.docker.io";
		hosts[2] = "registry-1.docker.io";
	}
	const char *key;
	json_t *val;
	json_t *best = NULL;
	const char *best_key = NULL;
	size_t best_len = 0;
	json_object_foreach(auths, key, val)
	{
		_cleanup_free_ char *nk = normalize_key(key);
		if (!nk)
			return -ENOMEM;
		for (size_t i = 0; i < ARRAY_SIZE(hosts) && hosts[i]; i++) {
			size_t m = key_match(nk, hosts[i], repository);
			if (m > best_len) {
				best_len = m;
				best = val;
				best_key = key;
			}
		}
	}
	if (!best)
		return 0;
	return decode_entry(best, what, best_key, user, pass, e);
}

static int read_small_file(const char *path, char **buf, size_t *len, berth_err *e)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR
			   ? -ENOENT
			   : berr_errno(e, -errno, "Cannot read the auth file %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return berr_errno(e, -errno, "Cannot read the auth file %s", path);
	if (S_ISCHR(st.st_mode)) /* REGISTRY_AUTH_FILE=/dev/null: no credentials */
		st.st_size = 0;
	else if (!S_ISREG(st.st_mode))
		return berr(e, -EINVAL, "The auth file %s is not a regular file", path);
	if (st.st_size > AUTH_FILE_MAX)
		return berr(e, -E2BIG,
			    "The auth file %s is larger than 1 MiB; is it the right file?", path);
	_cleanup_free_ char *b = malloc((size_t)st.st_size + 1);
	if (!b)
		return -ENOMEM;
	size_t n = 0;
	while (n < (size_t)st.st_size) {
		ssize_t k = read(fd, b + n, (size_t)st.st_size - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return berr_errno(e, -errno, "Cannot read the auth file %s", path);
		if (k == 0)
			break;
		n += (size_t)k;
	}
	b[n] = 0;
	*buf = TAKE_PTR(b);
	*len = n;
	return 0;
}

int auth_find_credentials(const char *registry, const char *repository, char **user, char **pass,
			  char **source, berth_err *e)
{
	*user = *pass = *source = NULL;
	char *paths[3] = {NULL, NULL, NULL};
	const char *env = getenv("REGISTRY_AUTH_FILE");
	if (env && *env)
		paths[0] = strdup(env);
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg && *xdg == '/' && asprintf(&paths[1], "%s/containers/auth.json", xdg) < 0)
		paths[1] = NULL;
	const char *home = getenv("HOME");
	if (!home || *home != '/') {
		struct passwd *pw = getpwuid(geteuid());
		home = pw ? pw->pw_dir : NULL;
	}
	if (home && asprintf(&paths[2], "%s/.docker/config.json", home) < 0)
		paths[2] = NULL;

	int r = 0;
	for (size_t i = 0; i < ARRAY_SIZE(paths) && r == 0; i++) {
		if (!paths[i])
			continue;
		_cleanup_free_ char *buf = NULL;
		size_t len = 0;
		int k = read_small_file(paths[i], &buf, &len, e);
		if (k == -ENOENT)
			continue;
		if (k < 0) {
			r = k;
			break;
		}
		if (strspn(buf, " \t\r\n") == len)
			continue; /* an empty file has no credentials */
		r = auth_lookup_json(buf, len, paths[i], registry, repository, user, pass, e);
		if (r > 0)
			*source = TAKE_PTR(paths[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		free(paths[i]);
	return r;
}
