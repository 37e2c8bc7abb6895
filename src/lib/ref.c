/* SPDX-License-Identifier: MIT */
/*
 * Image references, parsed and normalised the way distribution/reference (docker, podman)
 * does: an optional registry (a first component with '.' or ':' or equal to "localhost"),
 * a repository of lowercase path components, an optional tag and an optional sha256 digest.
 * References come from users and from hostile image archives alike, so every part is
 * checked and every failure gets its own sentence.
 */
#include "ref.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "digest.h"

#define DEFAULT_REGISTRY "docker.io"
#define DOCKER_API_HOST "registry-1.docker.io"
#define OFFICIAL_PREFIX "library/"
#define NAME_TOTAL_MAX 255
#define TAG_MAX 128
/* Longest input looked at at all: a name, a tag and a digest with room to spare. */
#define REF_INPUT_MAX 1024
/* How much of a bad reference an error message quotes. */
#define QUOTE_MAX 300

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_word(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static int bad(berth_err *e, const char *s, const char *why)
{
	size_t n = strlen(s);
	return berr(e, -EINVAL, "Image reference '%.*s%s' %s", QUOTE_MAX, s,
		    n > QUOTE_MAX ? "..." : "", why);
}

/* Tag: [\w][\w.-]{0,127} */
static int check_tag(const char *s, const char *tag, berth_err *e)
{
	if (!*tag)
		return bad(
		    e, s,
		    "has an empty tag after ':'; give a tag such as ':latest' or drop the ':'.");
	if (strlen(tag) > TAG_MAX)
		return bad(e, s, "has a tag longer than 128 characters; use a shorter tag.");
	if (!is_word(tag[0]))
		return bad(
		    e, s,
		    "has a tag that does not start with a letter, digit or '_'; fix the tag.");
	for (const char *p = tag; *p; p++)
		if (!is_word(*p) && *p != '.' && *p != '-')
			return bad(
			    e, s,
			    "has a tag with a character other than letters, digits, '_', '.' "
			    "and '-'; fix the tag.");
	return 0;
}

static int check_digest(const char *s, const char *d, berth_err *e)
{
	if (!*d)
		return bad(e, s, "has an empty digest after '@'; give '@sha256:<64 hex digits>'.");
	const char *colon = strchr(d, ':');
	if (!colon || colon == d)
		return bad(e, s,
			   "has a digest without an algorithm; digests look like "
			   "'@sha256:<64 hex digits>'.");
	if ((size_t)(colon - d) != 6 || strncmp(d, "sha256", 6) != 0)
		return bad(e, s,
			   "uses a digest algorithm other than sha256; only sha256 digests are "
			   "supported, so refer to the image by its sha256 digest or by a tag.");
	if (!digest_valid(d))
		return bad(e, s,
			   "has a malformed digest; a sha256 digest is exactly 64 lowercase hex "
			   "digits after 'sha256:'.");
	return 0;
}

/* Hostname: labels of [A-Za-z0-9-] not starting or ending with '-', joined by '.'. */
static bool valid_hostname(const char *h, size_t n)
{
	if (n == 0)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return false;
		if (c == '-' && label == 0)
			return false;
		label++;
	}
	return label > 0 && h[n - 1] != '-';
}

static int check_registry(const char *s, const char *reg, berth_err *e)
{
	const char *port = NULL;
	if (reg[0] == '[') {
		const char *close = strchr(reg, ']');
		if (!close)
			return bad(
			    e, s,
			    "has an IPv6 registry address without a closing ']'; write it as "
			    "'[::1]:5000/name'.");
		size_t n = (size_t)(close - reg - 1);
		char addr[INET6_ADDRSTRLEN + 1];
		unsigned char buf[sizeof(struct in6_addr)];
		if (n == 0 || n >= sizeof(addr))
			return bad(e, s,
				   "has an invalid IPv6 registry address between '[' and ']'.");
		memcpy(addr, reg + 1, n);
		addr[n] = 0;
		if (inet_pton(AF_INET6, addr, buf) != 1)
			return bad(e, s,
				   "has an invalid IPv6 registry address between '[' and ']'.");
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return bad(
			    e, s,
			    "has text after the ']' of its IPv6 registry address; only ':port' "
			    "may follow.");
	} else {
		const char *colon = strchr(reg, ':');
		size_t n = colon ? (size_t)(colon - reg) : strlen(reg);
		if (!valid_hostname(reg, n))
			return bad(e, s,
				   "has an invalid registry host name; a host is made of letters, "
				   "digits, '-' and '.', like 'registry.example.com'.");
		if (colon)
			port = colon + 1;
	}
	if (port) {
		size_t n = strlen(port);
		unsigned long v = 0;
		bool ok = n > 0 && n <= 5;
		for (size_t i = 0; ok && i < n; i++) {
			if (port[i] < '0' || port[i] > '9')
				ok = false;
			else
				v = v * 10 + (unsigned long)(port[i] - '0');
		}
		if (!ok || v == 0 || v > 65535)
			return bad(
			    e, s,
			    "has an invalid registry port; a port is a number from 1 to 65535, "
			    "as in 'localhost:5000/name'.");
	}
	return 0;
}

/* [a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)* */
static bool valid_component(const char *c, size_t n)
{
	size_t i = 0;
	if (n == 0 || !is_lower_alnum(c[0]) || !is_lower_alnum(c[n - 1]))
		return false;
	while (i < n) {
		while (i < n && is_lower_alnum(c[i]))
			i++;
		if (i == n)
			break;
		size_t start = i;
		if (c[i] == '.') {
			i++;
		} else if (c[i] == '_') {
			i++;
			if (i < n && c[i] == '_')
				i++;
		} else if (c[i] == '-') {
			while (i < n && c[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i == start || i == n || !is_lower_alnum(c[i]))
			return false;
	}
	return true;
}

static int check_repository(const char *s, const char *repo, berth_err *e)
{
	for (const char *p = repo; *p; p++)
		if (isupper((unsigned char)*p))
			return bad(e, s,
				   "has uppercase letters in its repository name; repository names "
				   "must be lowercase.");
	const char *c = repo;
	for (;;) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);
		if (!valid_component(c, n))
			return bad(
			    e, s,
			    "has an invalid repository path component; each part between '/' "
			    "must be lowercase letters and digits, separated by single '.', "
			    "'_', '__' or runs of '-'.");
		if (!slash)
			return 0;
		c = slash + 1;
	}
}

static bool looks_like_image_id(const char *name)
{
	size_t n = strlen(name);
	if (n != DIGEST_HEX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return true;
}

int ref_parse(const char *s, berth_ref *out, berth_err *e)
{
	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return berr(e, -EINVAL,
			    "Image reference is empty; give a name such as 'debian:bookworm'.");
	size_t len = strlen(s);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return berr(e, -EINVAL,
				    "Image reference contains a space, control or non-ASCII "
				    "character; references are plain ASCII like "
				    "'registry.example.com/team/app:1'.");
	if (len > REF_INPUT_MAX)
		return bad(e, s, "is too long; image names are at most 255 characters.");

	_cleanup_free_ char *buf = strdup(s);
	if (!buf)
		return berr(e, -ENOMEM, "Out of memory parsing an image reference.");

	char *digest = NULL, *tag = NULL;
	char *at = strchr(buf, '@');
	if (at) {
		if (strchr(at + 1, '@'))
			return bad(e, s,
				   "has more than one '@'; give at most one '@sha256:' digest.");
		*at = 0;
		digest = at + 1;
		int r = check_digest(s, digest, e);
		if (r < 0)
			return r;
	}

	char *name = buf;
	char *last_slash = strrchr(name, '/');
	char *colon = strrchr(last_slash ? last_slash : name, ':');
	if (colon) {
		*colon = 0;
		tag = colon + 1;
		int r = check_tag(s, tag, e);
		if (r < 0)
			return r;
	}

	if (!*name)
		return bad(e, s, "has no image name; give a name such as 'debian'.");
	if (name[0] == '/')
		return bad(e, s, "starts with '/'; drop the leading slash.");
	if (name[strlen(name) - 1] == '/')
		return bad(e, s, "ends with '/'; drop the trailing slash.");
	if (strstr(name, "//"))
		return bad(e, s, "has an empty path component ('//'); use single slashes.");

	const char *registry = DEFAULT_REGISTRY;
	char *repo = name;
	char *slash = strchr(name, '/');
	if (slash) {
		size_t n = (size_t)(slash - name);
		if (memchr(name, '.', n) || memchr(name, ':', n) ||
		    (n == 9 && strncmp(name, "localhost", 9) == 0)) {
			*slash = 0;
			registry = name;
			repo = slash + 1;
			int r = check_registry(s, registry, e);
			if (r < 0)
				return r;
			if (strcasecmp(registry, "index.docker.io") == 0 ||
			    strcasecmp(registry, "docker.io") == 0)
				registry = DEFAULT_REGISTRY;
		}
	}
	if (!slash && looks_like_image_id(name))
		return bad(e, s,
			   "is a 64-digit hex string, which looks like an image ID rather than a "
			   "name; use 'name@sha256:<hex>' to refer to an image by digest.");
	int r = check_repository(s, repo, e);
	if (r < 0)
		return r;

	bool official = strcmp(registry, DEFAULT_REGISTRY) == 0 && !strchr(repo, '/');
	size_t total =
	    strlen(registry) + 1 + (official ? strlen(OFFICIAL_PREFIX) : 0) + strlen(repo);
	if (total > NAME_TOTAL_MAX)
		return bad(e, s, "is too long; image names are at most 255 characters.");

	berth_ref ref = {0};
	ref.registry = strdup(registry);
	if (official) {
		if (asprintf(&ref.repository, OFFICIAL_PREFIX "%s", repo) < 0)
			ref.repository = NULL;
	} else {
		ref.repository = strdup(repo);
	}
	if (tag || !digest)
		ref.tag = strdup(tag ? tag : "latest");
	if (digest)
		ref.digest = strdup(digest);
	if (!ref.registry || !ref.repository || (!ref.tag && (tag || !digest)) ||
	    (digest && !ref.digest)) {
		ref_free(&ref);
		return berr(e, -ENOMEM, "Out of memory parsing an image reference.");
	}
	*out = ref;
	return 0;
}

void ref_free(berth_ref *r)
{
	if (!r)
		return;
	free(r->registry);
	free(r->repository);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

char *ref_format(const berth_ref *r)
{
	if (!r || !r->registry || !r->repository)
		return NULL;
	char *s = NULL;
	if (asprintf(&s, "%s/%s%s%s%s%s", r->registry, r->repository, r->tag ? ":" : "",
		     r->tag ? r->tag : "", r->digest ? "@" : "", r->digest ? r->digest : "") < 0)
		return NULL;
	return s;
}

char *ref_name(const berth_ref *r)
{
	if (!r || !r->registry || !r->repository)
		return NULL;
	char *s = NULL;
	if (asprintf(&s, "%s/%s", r->registry, r->repository) < 0)
		return NULL;
	return s;
}

const char *ref_api_host(const berth_ref *r)
{
	if (!r || !r->registry)
		return NULL;
	if (strcmp(r->registry, DEFAULT_REGISTRY) == 0)
		return DOCKER_API_HOST;
	return r->registry;
}

bool ref_is_local_registry(const berth_ref *r)
{
	if (!r || !r->registry)
		return false;
	const char *reg = r->registry;
	char host[INET6_ADDRSTRLEN + 1];
	size_t n;
	if (reg[0] == '[') {
		const char *close = strchr(reg, ']');
		if (!close)
			return false;
		n = (size_t)(close - reg - 1);
		if (n >= sizeof(host))
			return false;
		memcpy(host, reg + 1, n);
		host[n] = 0;
	} else {
		/* A bare IPv6 address (no port possible) or host[:port]. */
		const char *colon = strchr(reg, ':');
		n = colon && !strchr(colon + 1, ':') ? (size_t)(colon - reg) : strlen(reg);
		if (n >= sizeof(host))
			return false;
		memcpy(host, reg, n);
		host[n] = 0;
	}
	if (strcasecmp(host, "localhost") == 0)
		return true;
	struct in_addr a4;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return ((const unsigned char *)&a4)[0] == 127;
	struct in6_addr a6;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}
