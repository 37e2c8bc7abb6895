/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "unit.h"

static void test_blobs(berth_store *s)
{
	berth_err e = {0};
	char d[DIGEST_STR_LEN];
	CHECK(store_write_blob(s, "hello", 5, NULL, d, &e) == 0);
	CHECK(store_has_blob(s, d));
	char *buf = NULL;
	size_t len = 0;
	CHECK(store_read_blob(s, d, 100, &buf, &len, &e) == 0);
	CHECK(len == 5 && buf && !memcmp(buf, "hello", 5));
	free(buf);

	/* Wrong expected digest: refused, nothing stored under the expected name. */
	char other[DIGEST_STR_LEN];
	sha256_buf("other", 5, other);
	berr_clear(&e);
	CHECK(store_write_blob(s, "hello", 5, other, d, &e) == -EBADMSG);
	CHECK(!store_has_blob(s, other));
	CHECK(strstr(e.msg, other) != NULL);

	/* A blob corrupted on disk is detected on read. */
	char *path = store_blob_path(s, d);
	CHECK(path != NULL);
	FILE *f = fopen(path, "w");
	fputs("HELLO", f);
	fclose(f);
	free(path);
	berr_clear(&e);
	buf = NULL;
	CHECK(store_read_blob(s, d, 100, &buf, &len, &e) == -EBADMSG);
	CHECK(strstr(e.msg, "corrupt") != NULL);
	free(buf);

	/* Size bound. */
	sha256_buf("big", 3, other);
	CHECK(store_write_blob(s, "big", 3, other, NULL, &e) == 0);
	berr_clear(&e);
	CHECK(store_read_blob(s, other, 2, &buf, &len, &e) == -EFBIG);

	/* Invalid digests never become paths. */
	CHECK(store_blob_path(s, "sha256:../../etc/passwd") == NULL);
	berr_clear(&e);
	CHECK(store_open_blob(s, "sha256:../x", &e) == -EINVAL);
}

static void test_writer_resume(berth_store *s)
{
	static char data[3 << 20];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + i / 1000);
	char d[DIGEST_STR_LEN];
	sha256_buf(data, sizeof(data), d);
	berth_err e = {0};
	blob_writer w;
	uint64_t off = 99;
	CHECK(blob_writer_open(s, d, sizeof(data), &w, &off, &e) == 0);
	CHECK(off == 0);
	CHECK(blob_writer_write(&w, data, 1 << 20, &e) == 0);
	blob_writer_close(&w); /* interrupted */
	CHECK(!store_has_blob(s, d));

	/* Resume where it stopped. */
	CHECK(blob_writer_open(s, d, sizeof(data), &w, &off, &e) == 0);
	CHECK(off == 1 << 20);
	CHECK(blob_writer_write(&w, data + off, sizeof(data) - off, &e) == 0);
	/* Writing past the declared size is refused. */
	berr_clear(&e);
	CHECK(blob_writer_write(&w, "x", 1, &e) == -EFBIG);
	berr_clear(&e);
	CHECK(blob_writer_commit(&w, &e) == 0);
	CHECK(store_has_blob(s, d));
	char part[128];
	snprintf(part, sizeof(part), "%s.part", digest_hex(d));
	CHECK(faccessat(s->ingest_fd, part, F_OK, 0) < 0);

	/* Already present: open says so. */
	CHECK(blob_writer_open(s, d, sizeof(data), &w, &off, &e) == 1);

	/* Corrupt data: commit fails, nothing visible, partial removed. */
	char d2[DIGEST_STR_LEN];
	sha256_buf("expected", 8, d2);
	CHECK(blob_writer_open(s, d2, 8, &w, &off, &e) == 0);
	CHECK(blob_writer_write(&w, "tampered", 8, &e) == 0);
	berr_clear(&e);
	CHECK(blob_writer_commit(&w, &e) == -EBADMSG);
	CHECK(strstr(e.msg, d2) != NULL);
	CHECK(!store_has_blob(s, d2));
	snprintf(part, sizeof(part), "%s.part", digest_hex(d2));
	CHECK(faccessat(s->ingest_fd, part, F_OK, 0) < 0);

	/* Reset after the server ignored Range. */
	CHECK(blob_writer_open(s, d2, 8, &w, &off, &e) == 0);
	CHECK(blob_writer_write(&w, "exp", 3, &e) == 0);
	CHECK(blob_writer_reset(&w, &e) == 0);
	CHECK(blob_writer_write(&w, "expected", 8, &e) == 0);
	berr_clear(&e);
	CHECK(blob_writer_commit(&w, &e) == 0);
	CHECK(store_has_blob(s, d2));
}

static void test_index_and_holds(berth_store *s)
{
	berth_err e = {0};
	char d[DIGEST_STR_LEN];
	CHECK(store_write_blob(s, "{}", 2, NULL, d, &e) == 0);
	CHECK(store_tag(s, "docker.io/library/debian:latest", d, NULL, 2, &e) == 0);
	CHECK(store_tag(s, "docker.io/library/debian:latest", d, NULL, 2, &e) == 0);
	json_t *idx = NULL;
	CHECK(store_index_load(s, &idx, &e) == 0);
	CHECK(json_array_size(json_object_get(idx, "manifests")) == 1);
	json_decref(idx);

	char *got = NULL, *ref = NULL;
	CHECK(store_resolve(s, d, &got, NULL, &e) == 0);
	CHECK_STREQ(got, d);
	free(got);
	char prefix[16];
	snprintf(prefix, sizeof(prefix), "%.8s", digest_hex(d));
	CHECK(store_resolve(s, prefix, &got, &ref, &e) == 0);
	CHECK_STREQ(got, d);
	CHECK_STREQ(ref, "docker.io/library/debian:latest");
	free(got);
	free(ref);
	berr_clear(&e);
	CHECK(store_resolve(s, "nosuchimage", &got, NULL, &e) == -ENOENT);
	CHECK(strstr(e.msg, "nosuchimage") != NULL);

	CHECK(store_hold_set(s, "machine-a", d, &e) == 0);
	char **holders = NULL;
	CHECK(store_hold_list(s, d, &holders, &e) == 1);
	CHECK(holders && holders[0] && !strcmp(holders[0], "machine-a"));
	for (char **p = holders; p && *p; p++)
		free(*p);
	free(holders);
	berr_clear(&e);
	CHECK(store_hold_set(s, "../evil", d, &e) == -EINVAL);
	CHECK(store_hold_release(s, "machine-a", &e) == 0);

	CHECK(store_untag(s, "docker.io/library/debian:latest", &e) == 0);
	berr_clear(&e);
	CHECK(store_untag(s, "docker.io/library/debian:latest", &e) == -ENOENT);
}

/* A converted manifest keeps its source digest: resolvable by it, kept by new names. */
static void test_source_digest(berth_store *s)
{
	berth_err e = {0};
	char d[DIGEST_STR_LEN], src[DIGEST_STR_LEN];
	CHECK(store_write_blob(s, "{\"oci\":1}", 9, NULL, d, &e) == 0);
	sha256_buf("{\"docker\":1}", 12, src);
	CHECK(store_tag_source(s, "example.com/a:1", d, NULL, 9, src, &e) == 0);
	CHECK(store_tag_source(s, "example.com/a:1", d, NULL, 9, src, &e) == 0);
	CHECK(store_tag(s, "example.com/b:1", d, NULL, 9, &e) == 0);
	json_t *idx = NULL;
	CHECK(store_index_load(s, &idx, &e) == 0);
	size_t n = 0, i;
	json_t *m;
	json_array_foreach(json_object_get(idx, "manifests"), i, m)
	{
		const char *have = json_string_value(
		    json_object_get(json_object_get(m, "annotations"), ANNOTATION_SOURCE_DIGEST));
		if (!strcmp(json_string_value(json_object_get(m, "digest")), d)) {
			n++;
			CHECK_STREQ(have, src);
		}
	}
	CHECK(n == 2);
	CHECK_STREQ(store_index_source_digest(idx, d), src);
	CHECK(store_index_source_digest(idx, src) == NULL);
	json_decref(idx);

	char *got = NULL, *ref = NULL;
	CHECK(store_resolve(s, src, &got, &ref, &e) == 0);
	CHECK_STREQ(got, d);
	CHECK(ref && (!strcmp(ref, "example.com/a:1") || !strcmp(ref, "example.com/b:1")));
	free(got);
	free(ref);
	/* The source digest is not an id: its prefix does not resolve. */
	char prefix[16];
	snprintf(prefix, sizeof(prefix), "%.12s", digest_hex(src));
	berr_clear(&e);
	got = NULL;
	CHECK(store_resolve(s, prefix, &got, NULL, &e) == -ENOENT);
	free(got);
	/* A source digest equal to the stored one is not recorded. */
	berr_clear(&e);
	CHECK(store_tag_source(s, "example.com/c:1", src, NULL, 9, src, &e) == 0);
	CHECK(store_index_load(s, &idx, &e) == 0);
	CHECK(store_index_source_digest(idx, src) == NULL);
	json_decref(idx);
	berr_clear(&e);
	CHECK(store_tag_source(s, "example.com/d:1", d, NULL, 9, "sha256:nothex", &e) == -EINVAL);
	CHECK(store_untag(s, "example.com/a:1", &e) == 0);
	CHECK(store_untag(s, "example.com/b:1", &e) == 0);
	CHECK(store_untag(s, "example.com/c:1", &e) == 0);
}

/* Many processes tagging at once: every tag survives, index.json stays valid. */
static void test_concurrent_tags(const char *root)
{
	enum { N = 8 };
	pid_t pids[N];
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			berth_store s;
			berth_err e = {0};
			if (store_open(root, &s, &e) < 0)
				_exit(1);
			char d[DIGEST_STR_LEN], ref[64];
			for (int k = 0; k < 10; k++) {
				snprintf(ref, sizeof(ref), "localhost/p%d:t%d", i, k);
				if (store_write_blob(&s, ref, strlen(ref), NULL, d, &e) < 0 ||
				    store_tag(&s, ref, d, NULL, (int64_t)strlen(ref), &e) < 0)
					_exit(1);
			}
			store_close(&s);
			_exit(0);
		}
	}
	for (int i = 0; i < N; i++) {
		int st = 0;
		waitpid(pids[i], &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	berth_store s;
	berth_err e = {0};
	CHECK(store_open(root, &s, &e) == 0);
	json_t *idx = NULL;
	CHECK(store_index_load(&s, &idx, &e) == 0);
	CHECK(json_array_size(json_object_get(idx, "manifests")) == N * 10);
	json_decref(idx);
	store_close(&s);
}

int main(void)
{
	char root[] = "/tmp/berth-test-store-XXXXXX";
	CHECK(mkdtemp(root) != NULL);
	char sub[256];
	snprintf(sub, sizeof(sub), "%s/a/b", root);
	berth_store s;
	berth_err e = {0};
	CHECK(store_open(sub, &s, &e) == 0);
	struct stat st;
	CHECK(fstatat(s.store_fd, "oci-layout", &st, 0) == 0);
	CHECK(fstatat(s.store_fd, "index.json", &st, 0) == 0);
	CHECK(fstat(s.layers_fd, &st) == 0 && (st.st_mode & 0777) == 0700);
	test_blobs(&s);
	test_writer_resume(&s);
	test_index_and_holds(&s);
	test_source_digest(&s);
	store_close(&s);

	char root2[300];
	snprintf(root2, sizeof(root2), "%s/concurrent", root);
	test_concurrent_tags(root2);

	int dfd = open("/tmp", O_RDONLY | O_DIRECTORY);
	CHECK(rm_rf_at(dfd, root + 5, &e) == 0);
	close(dfd);
	CHECK(access(root, F_OK) < 0);
	return unit_exit("test-store");
}
