/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "auth.h"
#include "unit.h"

static int parse(const char *h, auth_challenge *c)
{
	berth_err e = {0};
	int r = auth_parse_challenge(h, c, &e);
	if (r < 0) {
		CHECK(e.code == r);
		CHECK(e.msg[0] != 0);
	}
	return r;
}

static void test_challenge_ok(void)
{
	auth_challenge c;
	CHECK(parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
		    "scope=\"repository:library/debian:pull\"",
		    &c) == 0);
	CHECK(c.scheme == AUTH_SCHEME_BEARER);
	CHECK_STREQ(c.realm, "https://auth.docker.io/token");
	CHECK_STREQ(c.service, "registry.docker.io");
	CHECK_STREQ(c.scope, "repository:library/debian:pull");
	auth_challenge_free(&c);

	/* Case-insensitive scheme and names, whitespace around '=' and ',', token values. */
	CHECK(parse("  bearer  Realm = \"http://127.0.0.1:5001/auth\" ,  SERVICE=reg  ", &c) == 0);
	CHECK(c.scheme == AUTH_SCHEME_BEARER);
	CHECK_STREQ(c.realm, "http://127.0.0.1:5001/auth");
	CHECK_STREQ(c.service, "reg");
	CHECK(c.scope == NULL);
	auth_challenge_free(&c);

	/* Basic. */
	CHECK(parse("Basic realm=\"Registry Realm\"", &c) == 0);
	CHECK(c.scheme == AUTH_SCHEME_BASIC);
	CHECK_STREQ(c.realm, "Registry Realm");
	auth_challenge_free(&c);
	CHECK(parse("Basic", &c) == 0);
	CHECK(c.scheme == AUTH_SCHEME_BASIC);
	auth_challenge_free(&c);

	/* Quoted-pair escapes, commas inside quotes. */
	CHECK(parse("Bearer realm=\"https://a/t?x=1,y=2\",service=\"a\\\"b\\\\c\"", &c) == 0);
	CHECK_STREQ(c.realm, "https://a/t?x=1,y=2");
	CHECK_STREQ(c.service, "a\"b\\c");
	auth_challenge_free(&c);

	/* Several challenges: Bearer wins over Basic, whatever the order; unknown schemes
	 * (with token68 or params) are skipped. */
	CHECK(parse("Basic realm=\"x\", Bearer realm=\"https://t/\",service=s", &c) == 0);
	CHECK(c.scheme == AUTH_SCHEME_BEARER);
	CHECK_STREQ(c.realm, "https://t/");
	CHECK_STREQ(c.service, "s");
	auth_challenge_free(&c);
	CHECK(parse("Bearer realm=\"https://t/\", Basic realm=\"x\"", &c) == 0);
	CHECK(c.scheme == AUTH_SCHEME_BEARER);
	CHECK_STREQ(c.realm, "https://t/");
	auth_challenge_free(&c);
	CHECK(parse("Negotiate abc123==, NTLM, Basic realm=\"r\"", &c) == 0);
	CHECK(c.scheme == AUTH_SCHEME_BASIC);
	CHECK_STREQ(c.realm, "r");
	auth_challenge_free(&c);
	CHECK(parse("Digest realm=\"d\", nonce=\"n\", Basic realm=\"b\"", &c) == 0);
	CHECK(c.scheme == AUTH_SCHEME_BASIC);
	CHECK_STREQ(c.realm, "b");
	auth_challenge_free(&c);

	/* Unknown parameters are ignored; empty list elements are allowed. */
	CHECK(parse("Bearer ,realm=\"https://t/\",, error=\"insufficient_scope\",", &c) == 0);
	CHECK_STREQ(c.realm, "https://t/");
	auth_challenge_free(&c);
	/* Empty quoted value. */
	CHECK(parse("Basic realm=\"\"", &c) == 0);
	CHECK_STREQ(c.realm, "");
	auth_challenge_free(&c);
}

static void test_challenge_bad(void)
{
	auth_challenge c;
	CHECK(parse("", &c) == -ENOTSUP);
	CHECK(parse("   ", &c) == -ENOTSUP);
	CHECK(parse("Negotiate abc==", &c) == -ENOTSUP);
	CHECK(parse("Bearer", &c) == -EINVAL); /* no realm */
	CHECK(parse("Bearer service=\"x\"", &c) == -EINVAL);
	CHECK(parse("Bearer realm=\"\"", &c) == -EINVAL);
	CHECK(parse("Bearer realm=\"https://t/", &c) == -EINVAL); /* unterminated */
	CHECK(parse("Bearer realm=\"https://t/\\", &c) == -EINVAL);
	CHECK(parse("Bearer realm=", &c) == -EINVAL);
	CHECK(parse("Bearer realm=,service=x", &c) == -EINVAL);
	CHECK(parse("Bearer realm=\"a\" service=\"b\"", &c) == -EINVAL); /* missing comma */
	CHECK(parse("Bearer realm=\"a\",realm=\"b\"", &c) == -EINVAL);	 /* repeated */
	CHECK(parse("Bearer realm=\"a\r\nX-Injected: 1\"", &c) == -EINVAL);
	CHECK(parse("Bearer realm=\"a\x01\"", &c) == -EINVAL);
	CHECK(parse("realm=\"x\"", &c) == -EINVAL); /* parameter without a scheme */
	CHECK(parse("Bearer realm=\"https://t/\",\x7f", &c) == -EINVAL);
	CHECK(parse("Bear\"er realm=x", &c) == -EINVAL);
	CHECK(parse("Bearer =x", &c) == -EINVAL);
	CHECK(parse(NULL, &c) == -EINVAL);

	/* Oversized values and headers. */
	size_t n = AUTH_PARAM_MAX + 100;
	char *big = malloc(n + 64);
	strcpy(big, "Bearer realm=\"");
	memset(big + strlen(big), 'a', AUTH_PARAM_MAX + 1);
	big[14 + AUTH_PARAM_MAX + 1] = 0;
	strcat(big, "\"");
	CHECK(parse(big, &c) == -EINVAL);
	strcpy(big, "Bearer realm=");
	memset(big + strlen(big), 'a', AUTH_PARAM_MAX + 1);
	big[13 + AUTH_PARAM_MAX + 1] = 0;
	CHECK(parse(big, &c) == -EINVAL);
	free(big);
	size_t hn = 5 * AUTH_PARAM_MAX;
	char *huge = malloc(hn + 1);
	memset(huge, ' ', hn);
	memcpy(huge, "Basic", 5);
	huge[hn] = 0;
	CHECK(parse(huge, &c) == -EINVAL);
	free(huge);
	/* An error message quotes the header sanitized. */
	berth_err e = {0};
	CHECK(auth_parse_challenge("Bearer realm=\"\x1b[31m", &c, &e) == -EINVAL);
	CHECK(strchr(e.msg, '\x1b') == NULL);
}

static void test_token(void)
{
	char *t = NULL;
	berth_err e = {0};
	const char *a = "{\"token\":\"abc.def\",\"access_token\":\"zzz\",\"expires_in\":300}";
	CHECK(auth_parse_token_response(a, strlen(a), &t, &e) == 0);
	CHECK_STREQ(t, "abc.def");
	free(t);
	const char *b = "{\"access_token\":\"xyz\"}";
	CHECK(auth_parse_token_response(b, strlen(b), &t, &e) == 0);
	CHECK_STREQ(t, "xyz");
	free(t);
	const char *bad[] = {
	    "",
	    "[]",
	    "{}",
	    "{\"token\":1}",
	    "{\"token\":\"\"}",
	    "{\"token\":\"a b\"}",
	    "{\"token\":\"a\\r\\nX: y\"}",
	    "{\"token\":\"a\",\"token\":\"b\"}",
	    "{\"token\":\"\\u00e9\"}",
	    "not json",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		berth_err e2 = {0};
		t = NULL;
		CHECK(auth_parse_token_response(bad[i], strlen(bad[i]), &t, &e2) < 0);
		CHECK(t == NULL);
		CHECK(e2.msg[0] != 0);
	}
}

static void test_base64(void)
{
	char *o = NULL;
	size_t n = 0;
	CHECK(base64_decode("dXNlcjpwYXNz", &o, &n) == 0);
	CHECK_STREQ(o, "user:pass");
	CHECK(n == 9);
	free(o);
	CHECK(base64_decode("YQ==", &o, &n) == 0 && n == 1 && !strcmp(o, "a"));
	free(o);
	CHECK(base64_decode("YWI=", &o, &n) == 0 && n == 2 && !strcmp(o, "ab"));
	free(o);
	CHECK(base64_decode("", &o, &n) == 0 && n == 0);
	free(o);
	CHECK(base64_decode("YQ=", &o, &n) < 0);
	CHECK(base64_decode("Y===", &o, &n) < 0);
	CHECK(base64_decode("YQ==YQ==", &o, &n) < 0);
	CHECK(base64_decode("Y=Q=", &o, &n) < 0);
	CHECK(base64_decode("dXNl cjpw", &o, &n) < 0);
	CHECK(base64_decode("dXNl\ncjpw", &o, &n) < 0);
	const char *samples[] = {"", "a", "ab", "abc", "user:p@ss:w0rd", "\xff\x00\x01"};
	size_t lens[] = {0, 1, 2, 3, 14, 3};
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		char *enc = base64_encode(samples[i], lens[i]);
		CHECK(enc != NULL);
		CHECK(base64_decode(enc, &o, &n) == 0);
		CHECK(n == lens[i] && memcmp(o, samples[i], n) == 0);
		free(o);
		free(enc);
	}
	char *enc = base64_encode("user:pass", 9);
	CHECK_STREQ(enc, "dXNlcjpwYXNz");
	free(enc);
}

static int lookup(const char *json, const char *reg, const char *repo, char **u, char **p)
{
	berth_err e = {0};
	int r = auth_lookup_json(json, strlen(json), "test.json", reg, repo, u, p, &e);
	if (r < 0)
		CHECK(strstr(e.msg, "test.json") != NULL);
	return r;
}

static void test_lookup(void)
{
	char *u = NULL, *p = NULL;
	/* base64("alice:s3cret:x") -> the password may contain colons. */
	const char *j = "{\"auths\":{"
			"\"localhost:5000\":{\"auth\":\"YWxpY2U6czNjcmV0Ong=\"},"
			"\"localhost:5000/team\":{\"auth\":\"Ym9iOnB3\"},"
			"\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1YnB3\"},"
			"\"http://quay.io\":{\"username\":\"q\",\"password\":\"qp\"},"
			"\"helper.io\":{\"identitytoken\":\"x\"}"
			"}}";
	CHECK(lookup(j, "localhost:5000", "app", &u, &p) == 1);
	CHECK_STREQ(u, "alice");
	CHECK_STREQ(p, "s3cret:x");
	free(u), free(p);
	/* The most specific key wins. */
	CHECK(lookup(j, "localhost:5000", "team/app", &u, &p) == 1);
	CHECK_STREQ(u, "bob");
	free(u), free(p);
	/* ... but only on whole path components. */
	CHECK(lookup(j, "localhost:5000", "teamster/app", &u, &p) == 1);
	CHECK_STREQ(u, "alice");
	free(u), free(p);
	CHECK(lookup(j, "localhost:500", "app", &u, &p) == 0);
	CHECK(lookup(j, "localhost", "app", &u, &p) == 0);
	CHECK(lookup(j, "docker.io", "library/debian", &u, &p) == 1);
	CHECK_STREQ(u, "hub");
	CHECK_STREQ(p, "hubpw");
	free(u), free(p);
	CHECK(lookup(j, "quay.io", "a/b", &u, &p) == 1);
	CHECK_STREQ(u, "q");
	free(u), free(p);
	CHECK(lookup(j, "helper.io", "a", &u, &p) == 0);
	CHECK(lookup(j, "other.io", "a", &u, &p) == 0);
	CHECK(u == NULL && p == NULL);
	CHECK(lookup("{}", "x", "y", &u, &p) == 0);
	CHECK(lookup("{\"credsStore\":\"desktop\"}", "x", "y", &u, &p) == 0);

	/* Malformed files fail with a sentence naming the file. */
	CHECK(lookup("{", "x", "y", &u, &p) < 0);
	CHECK(lookup("[]", "x", "y", &u, &p) < 0);
	CHECK(lookup("{\"auths\":[]}", "x", "y", &u, &p) < 0);
	CHECK(lookup("{\"auths\":{\"x\":1}}", "x", "y", &u, &p) < 0);
	CHECK(lookup("{\"auths\":{\"x\":{\"auth\":\"!!!!\"}}}", "x", "y", &u, &p) < 0);
	CHECK(lookup("{\"auths\":{\"x\":{\"auth\":\"bm9jb2xvbg==\"}}}", "x", "y", &u, &p) < 0);
	/* NUL inside the decoded credentials. */
	CHECK(lookup("{\"auths\":{\"x\":{\"auth\":\"YQBiOmM=\"}}}", "x", "y", &u, &p) < 0);
	CHECK(u == NULL && p == NULL);
}

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(s, f);
		fclose(f);
	}
}

static void test_find(void)
{
	char dir[] = "/tmp/berth-test-auth-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char envfile[256], xdg[256], xdgdir[256], home[256], dockerdir[256], dockercfg[256];
	snprintf(envfile, sizeof(envfile), "%s/env.json", dir);
	snprintf(xdg, sizeof(xdg), "%s/run", dir);
	snprintf(xdgdir, sizeof(xdgdir), "%s/run/containers", dir);
	snprintf(home, sizeof(home), "%s/home", dir);
	snprintf(dockerdir, sizeof(dockerdir), "%s/home/.docker", dir);
	snprintf(dockercfg, sizeof(dockercfg), "%s/home/.docker/config.json", dir);
	CHECK(mkdir(xdg, 0700) == 0 && mkdir(xdgdir, 0700) == 0);
	CHECK(mkdir(home, 0700) == 0 && mkdir(dockerdir, 0700) == 0);
	char xdgfile[300];
	snprintf(xdgfile, sizeof(xdgfile), "%s/auth.json", xdgdir);
	write_file(envfile, "{\"auths\":{\"a.io\":{\"auth\":\"ZW52OjE=\"}}}");
	write_file(xdgfile, "{\"auths\":{\"a.io\":{\"auth\":\"eGRnOjI=\"},"
			    "\"b.io\":{\"auth\":\"eGRnOjI=\"}}}");
	write_file(dockercfg,
		   "{\"auths\":{\"a.io\":{\"auth\":\"ZG9jOjM=\"},"
		   "\"b.io\":{\"auth\":\"ZG9jOjM=\"},\"c.io\":{\"auth\":\"ZG9jOjM=\"}}}");
	setenv("REGISTRY_AUTH_FILE", envfile, 1);
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	setenv("HOME", home, 1);
	char *u = NULL, *p = NULL, *src = NULL;
	berth_err e = {0};
	CHECK(auth_find_credentials("a.io", "r", &u, &p, &src, &e) == 1);
	CHECK_STREQ(u, "env");
	CHECK_STREQ(src, envfile);
	free(u), free(p), free(src);
	CHECK(auth_find_credentials("b.io", "r", &u, &p, &src, &e) == 1);
	CHECK_STREQ(u, "xdg");
	free(u), free(p), free(src);
	CHECK(auth_find_credentials("c.io", "r", &u, &p, &src, &e) == 1);
	CHECK_STREQ(u, "doc");
	CHECK_STREQ(src, dockercfg);
	free(u), free(p), free(src);
	CHECK(auth_find_credentials("d.io", "r", &u, &p, &src, &e) == 0);
	CHECK(u == NULL && src == NULL);
	/* /dev/null and empty files hold no credentials: the next file is asked. */
	setenv("REGISTRY_AUTH_FILE", "/dev/null", 1);
	CHECK(auth_find_credentials("a.io", "r", &u, &p, &src, &e) == 1);
	CHECK_STREQ(u, "xdg");
	free(u), free(p), free(src);
	write_file(envfile, " \n");
	setenv("REGISTRY_AUTH_FILE", envfile, 1);
	CHECK(auth_find_credentials("a.io", "r", &u, &p, &src, &e) == 1);
	CHECK_STREQ(u, "xdg");
	free(u), free(p), free(src);
	/* A directory is refused with a sentence. */
	setenv("REGISTRY_AUTH_FILE", dir, 1);
	CHECK(auth_find_credentials("a.io", "r", &u, &p, &src, &e) < 0);
	CHECK(strstr(e.msg, dir) != NULL);
	berr_clear(&e);
	setenv("REGISTRY_AUTH_FILE", envfile, 1);
	/* A missing file is skipped; a broken one is an error naming it. */
	unlink(envfile);
	CHECK(auth_find_credentials("a.io", "r", &u, &p, &src, &e) == 1);
	CHECK_STREQ(u, "xdg");
	free(u), free(p), free(src);
	write_file(xdgfile, "{\"auths\":");
	CHECK(auth_find_credentials("a.io", "r", &u, &p, &src, &e) < 0);
	CHECK(strstr(e.msg, xdgfile) != NULL);
	unlink(xdgfile);
	unlink(dockercfg);
	rmdir(xdgdir);
	rmdir(xdg);
	rmdir(dockerdir);
	rmdir(home);
	rmdir(dir);
}

static void test_sanitize(void)
{
	char *s = auth_sanitize("a\x1b[31mb\n", 9, 100);
	CHECK_STREQ(s, "a?[31mb?");
	free(s);
	s = auth_sanitize("abcdef", 6, 3);
	CHECK_STREQ(s, "abc...");
	free(s);
}

int main(void)
{
	test_challenge_ok();
	test_challenge_bad();
	test_token();
	test_base64();
	test_lookup();
	test_find();
	test_sanitize();
	return unit_exit("test-auth");
}
