/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include "ref.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Parse s and compare the normalised form and the parts. tag/digest may be NULL. */
static void ok(const char *s, const char *registry, const char *repository, const char *tag,
	       const char *digest, const char *formatted)
{
	berth_ref r;
	berth_err e = {0};
	int rc = ref_parse(s, &r, &e);
	unit_checks++;
	if (rc != 0) {
		unit_failures++;
		fprintf(stderr, "ref_parse(\"%s\") failed: %s\n", s, e.msg);
		return;
	}
	CHECK_STREQ(r.registry, registry);
	CHECK_STREQ(r.repository, repository);
	if (tag)
		CHECK_STREQ(r.tag, tag);
	else
		CHECK(r.tag == NULL);
	if (digest)
		CHECK_STREQ(r.digest, digest);
	else
		CHECK(r.digest == NULL);
	char *f = ref_format(&r);
	CHECK_STREQ(f, formatted);
	/* The normalised form parses to itself. */
	berth_ref again;
	berth_err e2 = {0};
	CHECK(ref_parse(f, &again, &e2) == 0);
	char *f2 = ref_format(&again);
	CHECK_STREQ(f2, formatted);
	free(f);
	free(f2);
	ref_free(&again);
	ref_free(&r);
	/* Safe twice. */
	ref_free(&r);
}

/* Parse must fail with -EINVAL and a message containing want. */
static void fails(const char *s, const char *want)
{
	berth_ref r;
	berth_err e = {0};
	int rc = ref_parse(s, &r, &e);
	unit_checks++;
	if (rc != -EINVAL || e.code != -EINVAL || !strstr(e.msg, want)) {
		unit_failures++;
		fprintf(stderr, "ref_parse(\"%.80s\") = %d \"%s\", expected -EINVAL with \"%s\"\n",
			s ? s : "(null)", rc, e.msg, want);
	}
	/* The struct is left zeroed, so freeing it is safe. */
	CHECK(r.registry == NULL && r.repository == NULL && r.tag == NULL && r.digest == NULL);
	ref_free(&r);
}

static void test_valid(void)
{
	ok("debian", "docker.io", "library/debian", "latest", NULL,
	   "docker.io/library/debian:latest");
	ok("debian:bookworm", "docker.io", "library/debian", "bookworm", NULL,
	   "docker.io/library/debian:bookworm");
	ok("user/app", "docker.io", "user/app", "latest", NULL, "docker.io/user/app:latest");
	ok("user/app:1", "docker.io", "user/app", "1", NULL, "docker.io/user/app:1");
	ok("docker.io/debian", "docker.io", "library/debian", "latest", NULL,
	   "docker.io/library/debian:latest");
	ok("docker.io/library/debian:12", "docker.io", "library/debian", "12", NULL,
	   "docker.io/library/debian:12");
	ok("index.docker.io/debian", "docker.io", "library/debian", "latest", NULL,
	   "docker.io/library/debian:latest");
	ok("index.docker.io/user/app:v2", "docker.io", "user/app", "v2", NULL,
	   "docker.io/user/app:v2");
	ok("localhost/app", "localhost", "app", "latest", NULL, "localhost/app:latest");
	ok("localhost:5000/app", "localhost:5000", "app", "latest", NULL,
	   "localhost:5000/app:latest");
	ok("localhost:5000/team/app:1.2.3", "localhost:5000", "team/app", "1.2.3", NULL,
	   "localhost:5000/team/app:1.2.3");
	ok("127.0.0.1:5000/app", "127.0.0.1:5000", "app", "latest", NULL,
	   "127.0.0.1:5000/app:latest");
	ok("[::1]:5000/app:x", "[::1]:5000", "app", "x", NULL, "[::1]:5000/app:x");
	ok("[fe80::1]/app", "[fe80::1]", "app", "latest", NULL, "[fe80::1]/app:latest");
	ok("quay.io/a/b", "quay.io", "a/b", "latest", NULL, "quay.io/a/b:latest");
	ok("ghcr.io/org/sub/deep/app:tag", "ghcr.io", "org/sub/deep/app", "tag", NULL,
	   "ghcr.io/org/sub/deep/app:tag");
	/* A registry with a port but no dot. */
	ok("myregistry:5000/app", "myregistry:5000", "app", "latest", NULL,
	   "myregistry:5000/app:latest");
	/* Uppercase is fine in a registry host, as in distribution/reference. */
	ok("Registry.Example.COM/app", "Registry.Example.COM", "app", "latest", NULL,
	   "Registry.Example.COM/app:latest");
	/* Without a slash, "localhost:5000" is the image localhost with tag 5000. */
	ok("localhost:5000", "docker.io", "library/localhost", "5000", NULL,
	   "docker.io/library/localhost:5000");
	/* The first component is a namespace, not a registry, without '.', ':' or localhost. */
	ok("registry/app", "docker.io", "registry/app", "latest", NULL,
	   "docker.io/registry/app:latest");
	/* Separators inside a component. */
	ok("x/a.b_c__d-e---f", "docker.io", "x/a.b_c__d-e---f", "latest", NULL,
	   "docker.io/x/a.b_c__d-e---f:latest");
	ok("0/1", "docker.io", "0/1", "latest", NULL, "docker.io/0/1:latest");
	/* Tags. */
	ok("app:_x", "docker.io", "library/app", "_x", NULL, "docker.io/library/app:_x");
	ok("app:V1.0-rc_2", "docker.io", "library/app", "V1.0-rc_2", NULL,
	   "docker.io/library/app:V1.0-rc_2");
	/* Digests: tag stays NULL unless given; both kept. */
	ok("debian@sha256:" HEX64, "docker.io", "library/debian", NULL, "sha256:" HEX64,
	   "docker.io/library/debian@sha256:" HEX64);
	ok("quay.io/a/b:1@sha256:" HEX64, "quay.io", "a/b", "1", "sha256:" HEX64,
	   "quay.io/a/b:1@sha256:" HEX64);
	ok("localhost:5000/app@sha256:" HEX64, "localhost:5000", "app", NULL, "sha256:" HEX64,
	   "localhost:5000/app@sha256:" HEX64);
}

static void test_lengths(void)
{
	char tag[200], buf[600];
	/* 128-character tag is the longest allowed. */
	memset(tag, 'a', 128);
	tag[128] = 0;
	snprintf(buf, sizeof(buf), "app:%s", tag);
	berth_ref r;
	berth_err e = {0};
	CHECK(ref_parse(buf, &r, &e) == 0);
	ref_free(&r);
	tag[128] = 'a';
	tag[129] = 0;
	snprintf(buf, sizeof(buf), "app:%s", tag);
	fails(buf, "tag longer than 128");

	/* Name total length counts the normalised name: docker.io/library/<x> is 18 + x. */
	char name[300];
	memset(name, 'a', 237);
	name[237] = 0; /* 18 + 237 = 255 */
	berr_clear(&e);
	CHECK(ref_parse(name, &r, &e) == 0);
	CHECK(r.repository && strlen(r.repository) == 8 + 237);
	ref_free(&r);
	name[237] = 'a';
	name[238] = 0;
	fails(name, "too long");

	/* Very long input is rejected before any work. */
	char *huge = malloc(100000);
	memset(huge, 'a', 99999);
	huge[99999] = 0;
	fails(huge, "too long");
	free(huge);
}

static void test_malformed(void)
{
	fails(NULL, "empty");
	fails("", "empty");
	fails("Debian", "uppercase");
	fails("user/App", "uppercase");
	fails("quay.io/Org/app", "uppercase");
	fails("debian:", "empty tag");
	fails("debian:-x", "does not start with");
	fails("debian:.x", "does not start with");
	fails("debian:a+b", "tag with a character");
	fails("debian:a:b", "invalid repository");
	fails("debian@", "empty digest");
	fails("debian@sha256", "without an algorithm");
	fails("debian@:abc", "without an algorithm");
	fails("debian@sha512:" HEX64 HEX64, "only sha256");
	fails("debian@md5:d41d8cd98f00b204e9800998ecf8427e", "only sha256");
	fails("debian@sha256:abc", "malformed digest");
	fails("debian@sha256:" HEX64 "0", "malformed digest");
	fails("debian@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	      "malformed digest");
	fails("debian@sha256:" HEX64 "@sha256:" HEX64, "more than one '@'");
	fails("@sha256:" HEX64, "no image name");
	fails(":tag", "no image name");
	fails("/debian", "starts with '/'");
	fails("debian/", "trailing slash");
	fails("user/app/", "trailing slash");
	fails("quay.io/", "trailing slash");
	fails("user//app", "'//'");
	fails("quay.io//app", "'//'");
	fails("localhost:0/app", "invalid registry port");
	fails("localhost:65536/app", "invalid registry port");
	fails("localhost:123456/app", "invalid registry port");
	fails("localhost:/app", "invalid registry port");
	fails("localhost:50a0/app", "invalid registry port");
	fails("[::1]:x/app", "invalid registry port");
	fails("[::1/app", "closing ']'");
	fails("[]:5000/app", "invalid IPv6");
	fails("[zz::1]/app", "invalid IPv6");
	fails("[::1]x/app", "after the ']'");
	fails("-bad.io/app", "invalid registry host");
	fails("bad-.io/app", "invalid registry host");
	fails("bad..io/app", "invalid registry host");
	fails("bad_host.io/app", "invalid registry host");
	fails("a..b", "invalid repository");
	fails("a__-b", "invalid repository");
	fails("_a", "invalid repository");
	fails("a_", "invalid repository");
	fails("a.", "invalid repository");
	fails("a___b", "invalid repository");
	fails("user/-app", "invalid repository");
	fails("us$er/app", "invalid repository");
	fails("debian bookworm", "space, control");
	fails("debian\n", "space, control");
	fails("deb\x01ian", "space, control");
	fails("d\xc3\xa9"
	      "bian",
	      "non-ASCII");
	fails(HEX64, "image ID");
}

static void test_helpers(void)
{
	berth_ref r;
	berth_err e = {0};

	CHECK(ref_parse("debian", &r, &e) == 0);
	CHECK_STREQ(ref_api_host(&r), "registry-1.docker.io");
	char *n = ref_name(&r);
	CHECK_STREQ(n, "docker.io/library/debian");
	free(n);
	CHECK(!ref_is_local_registry(&r));
	ref_free(&r);

	CHECK(ref_parse("quay.io/a/b@sha256:" HEX64, &r, &e) == 0);
	CHECK_STREQ(ref_api_host(&r), "quay.io");
	n = ref_name(&r);
	CHECK_STREQ(n, "quay.io/a/b");
	free(n);
	ref_free(&r);

	static const struct {
		const char *ref;
		bool local;
	} local[] = {
	    {"localhost/a", true},
	    {"localhost:5000/a", true},
	    {"LOCALHOST:5000/a", true},
	    {"127.0.0.1/a", true},
	    {"127.0.0.1:5000/a", true},
	    {"127.1.2.3:80/a", true},
	    {"[::1]/a", true},
	    {"[::1]:5000/a", true},
	    {"[0:0:0:0:0:0:0:1]:5000/a", true},
	    {"[::ffff:127.0.0.1]:5000/a", true},
	    {"128.0.0.1:5000/a", false},
	    {"10.0.0.1:5000/a", false},
	    {"[::2]:5000/a", false},
	    {"localhost.example.com/a", false},
	    {"mylocalhost:5000/a", false},
	    {"quay.io/a", false},
	    {"a", false},
	};
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
		berr_clear(&e);
		CHECK(ref_parse(local[i].ref, &r, &e) == 0);
		unit_checks++;
		if (ref_is_local_registry(&r) != local[i].local) {
			unit_failures++;
			fprintf(stderr, "ref_is_local_registry(%s) != %d\n", local[i].ref,
				local[i].local);
		}
		CHECK_STREQ(ref_api_host(&r),
			    strcmp(local[i].ref, "a") == 0 ? "registry-1.docker.io" : r.registry);
		ref_free(&r);
	}

	/* Helpers are safe on a zeroed ref and on NULL. */
	berth_ref z = {0};
	CHECK(ref_format(&z) == NULL);
	CHECK(ref_name(&z) == NULL);
	CHECK(ref_api_host(&z) == NULL);
	CHECK(!ref_is_local_registry(&z));
	CHECK(!ref_is_local_registry(NULL));
	ref_free(&z);
	ref_free(NULL);

	/* A later failure does not overwrite the first error sentence. */
	berr_clear(&e);
	CHECK(ref_parse("Bad", &r, &e) < 0);
	char first[sizeof(e.msg)];
	memcpy(first, e.msg, sizeof(first));
	CHECK(ref_parse("", &r, &e) < 0);
	CHECK_STREQ(e.msg, first);
}

int main(void)
{
	test_valid();
	test_lengths();
	test_malformed();
	test_helpers();
	return unit_exit("test-ref");
}
