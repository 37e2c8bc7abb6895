/* SPDX-License-Identifier: MIT */
/* The image store: an OCI image layout plus berth's own bookkeeping directories. */
#include "store.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fs-spread.h"
#include "inroot.h"
#include "manifest.h"
#include "ref.h"

#define INDEX_MAX_SIZE (64 * 1024 * 1024)

static int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int open_subdir(int dirfd, const char *name, berth_err *e, const char *root)
{
	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return berr_errno(e, -errno, "Cannot create %s/%s", root, name);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return berr_errno(e, -errno, "Cannot open %s/%s", root, name);
	return fd;
}

static int random_name(char *buf, size_t len, const char *prefix)
{
	unsigned char rnd[8];
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -EIO;
	snprintf(buf, len, "%s%02x%02x%02x%02x%02x%02x%02x%02x", prefix, rnd[0], rnd[1], rnd[2],
		 rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write data to dirfd/name atomically: temp file in the same directory, fsync, rename. */
static int write_file_atomic(int dirfd, const char *name, const void *data, size_t len,
			     berth_err *e, const char *what)
{
	char tmp[64];
	if (random_name(tmp, sizeof(tmp), ".tmp-") < 0)
		return berr(e, -EIO, "Cannot get random bytes for a temporary name");
	_cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return berr_errno(e, -errno, "Cannot write %s", what);
	int r = write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return berr_errno(e, r, "Cannot write %s", what);
	}
	return 0;
}

int store_open(const char *root, berth_store *s, berth_err *e)
{
	*s = (berth_store){.root_fd = -1,
			   .store_fd = -1,
			   .blobs_fd = -1,
			   .ingest_fd = -1,
			   .layers_fd = -1,
			   .tmp_fd = -1,
			   .holds_fd = -1,
			   .gc_fd = -1};
	int r = mkdir_p(root, 0711);
	if (r < 0)
		return berr_errno(e, r, "Cannot create the state directory %s", root);
	char abs[PATH_MAX];
	if (!realpath(root, abs))
		return berr_errno(e, -errno, "Cannot resolve the state directory %s", root);
	s->root = strdup(abs);
	if (!s->root)
		return berr(e, -ENOMEM, "Out of memory");
	s->root_fd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0) {
		r = berr_errno(e, -errno, "Cannot open the state directory %s", abs);
		goto fail;
	}
	if ((s->store_fd = open_subdir(s->root_fd, "store", e, abs)) < 0 ||
	    (s->ingest_fd = open_subdir(s->root_fd, "ingest", e, abs)) < 0 ||
	    (s->layers_fd = open_subdir(s->root_fd, "layers", e, abs)) < 0 ||
	    (s->tmp_fd = open_subdir(s->root_fd, "tmp", e, abs)) < 0 ||
	    (s->holds_fd = open_subdir(s->root_fd, "holds", e, abs)) < 0) {
		r = e->code;
		goto fail;
	}
	fs_spread_subdirs(s->tmp_fd); /* layers are unpacked below tmp/; see fs-spread.h */
	if (mkdirat(s->store_fd, "blobs", 0700) < 0 && errno != EEXIST) {
		r = berr_errno(e, -errno, "Cannot create %s/store/blobs", abs);
		goto fail;
	}
	s->blobs_fd = openat(s->store_fd, "blobs", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (s->blobs_fd < 0) {
		r = berr_errno(e, -errno, "Cannot open %s/store/blobs", abs);
		goto fail;
	}
	int sha = open_subdir(s->blobs_fd, "sha256", e, abs);
	if (sha < 0) {
		r = sha;
		goto fail;
	}
	close(s->blobs_fd);
	s->blobs_fd = sha;
	s->gc_fd = openat(s->store_fd, ".gc.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->gc_fd < 0) {
		r = berr_errno(e, -errno, "Cannot open %s/store/.gc.lock", abs);
		goto fail;
	}
	while (flock(s->gc_fd, LOCK_SH) < 0) {
		if (errno == EINTR)
			continue;
		r = berr_errno(e, -errno, "Cannot lock %s/store/.gc.lock", abs);
		goto fail;
	}

	/* oci-layout and index.json, created once under the lock. */
	if (faccessat(s->store_fd, "index.json", F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		_cleanup_close_ int lk = store_lock(s, true, e);
		if (lk < 0) {
			r = lk;
			goto fail;
		}
		static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
		static const char index[] = "{\"schemaVersion\":2,\"manifests\":[]}";
		if (faccessat(s->store_fd, "oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
		    (r = write_file_atomic(s->store_fd, "oci-layout", layout, strlen(layout), e,
					   "the store's oci-layout file")) < 0)
			goto fail;
		if (faccessat(s->store_fd, "index.json", F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
		    (r = write_file_atomic(s->store_fd, "index.json", index, strlen(index), e,
					   "the store's index.json")) < 0)
			goto fail;
	}
	return 0;
fail:
	store_close(s);
	return r;
}

void store_close(berth_store *s)
{
	int *fds[] = {&s->root_fd,   &s->store_fd, &s->blobs_fd, &s->ingest_fd,
		      &s->layers_fd, &s->tmp_fd,   &s->holds_fd, &s->gc_fd};
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	free(s->root);
	s->root = NULL;
}

int store_lock(berth_store *s, bool exclusive, berth_err *e)
{
	int fd = openat(s->store_fd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return berr_errno(e, -errno, "Cannot open the store lock %s/store/.lock", s->root);
	while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
		if (errno == EINTR)
			continue;
		int r = -errno;
		close(fd);
		return berr_errno(e, r, "Cannot lock the store %s", s->root);
	}
	return fd;
}

bool store_has_blob(berth_store *s, const char *digest)
{
	if (!digest_valid(digest))
		return false;
	return faccessat(s->blobs_fd, digest_hex(digest), F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

char *store_blob_path(berth_store *s, const char *digest)
{
	char *p = NULL;
	if (!digest_valid(digest))
		return NULL;
	if (asprintf(&p, "%s/store/blobs/sha256/%s", s->root, digest_hex(digest)) < 0)
		return NULL;
	return p;
}

int store_open_blob(berth_store *s, const char *digest, berth_err *e)
{
	if (!digest_valid(digest))
		return berr(e, -EINVAL, "'%s' is not a valid sha256 digest", digest ? digest : "");
	int fd = openat(s->blobs_fd, digest_hex(digest), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return berr(
			    e, -ENOENT,
			    "Blob %s is missing from the store %s; pull or import the image "
			    "again",
			    digest, s->root);
		return berr_errno(e, -errno, "Cannot open blob %s", digest);
	}
	return fd;
}

int store_read_blob(berth_store *s, const char *digest, size_t max, char **buf, size_t *len,
		    berth_err *e)
{
	_cleanup_close_ int fd = store_open_blob(s, digest, e);
	if (fd < 0)
		return fd;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return berr_errno(e, -errno, "Cannot stat blob %s", digest);
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max)
		return berr(e, -EFBIG, "Blob %s is %lld bytes, more than the %zu allowed here",
			    digest, (long long)st.st_size, max);
	_cleanup_free_ char *data = malloc((size_t)st.st_size + 1);
	if (!data)
		return berr(e, -ENOMEM, "Out of memory reading blob %s", digest);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berr_errno(e, -errno, "Cannot read blob %s", digest);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	data[got] = 0;
	char actual[DIGEST_STR_LEN];
	sha256_buf(data, got, actual);
	if (strcmp(actual, digest) != 0)
		return berr(
		    e, -EBADMSG,
		    "Blob %s in the store is corrupt (its content hashes to %s); remove the "
		    "image and pull or import it again",
		    digest, actual);
	*buf = TAKE_PTR(data);
	*len = got;
	return 0;
}

int store_write_blob(berth_store *s, const void *data, size_t len, const char *expected,
		     char out[DIGEST_STR_LEN], berth_err *e)
{
	char actual[DIGEST_STR_LEN];
	sha256_buf(data, len, actual);
	if (expected && strcmp(expected, actual) != 0)
		return berr(e, -EBADMSG, "Content for %s hashes to %s instead; it is corrupt",
			    expected, actual);
	if (out)
		memcpy(out, actual, DIGEST_STR_LEN);
	if (store_has_blob(s, actual))
		return 0;
	char tmp[64];
	if (random_name(tmp, sizeof(tmp), "blob-") < 0)
		return berr(e, -EIO, "Cannot get random bytes for a temporary name");
	_cleanup_close_ int fd =
	    openat(s->tmp_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return berr_errno(e, -errno, "Cannot create a temporary file in %s/tmp", s->root);
	int r = write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && renameat(s->tmp_fd, tmp, s->blobs_fd, digest_hex(actual)) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(s->tmp_fd, tmp, 0);
		return berr_errno(e, r, "Cannot store blob %s", actual);
	}
	return 0;
}

/* ---- streaming writer with resume ---- */

int blob_writer_open(berth_store *s, const char *digest, int64_t size, blob_writer *w,
		     uint64_t *resume_offset, berth_err *e)
{
	*w = (blob_writer){.store = s, .fd = -1, .lock_fd = -1, .size = size};
	if (!digest_valid(digest))
		return berr(e, -EINVAL, "'%s' is not a valid sha256 digest", digest ? digest : "");
	memcpy(w->digest, digest, DIGEST_STR_LEN);
	snprintf(w->part_name, sizeof(w->part_name), "%s.part", digest_hex(digest));
	char lock_name[DIGEST_HEX_LEN + 8];
	snprintf(lock_name, sizeof(lock_name), "%s.lock", digest_hex(digest));
	/* The lock file is removed by whoever holds it when done, so after taking the lock
	 * check it is still the file at that name; otherwise take the new one. */
	for (;;) {
		w->lock_fd = openat(s->ingest_fd, lock_name,
				    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (w->lock_fd < 0)
			return berr_errno(e, -errno, "Cannot create %s/ingest/%s", s->root,
					  lock_name);
		while (flock(w->lock_fd, LOCK_EX) < 0) {
			if (errno == EINTR)
				continue;
			int r =
			    berr_errno(e, -errno, "Cannot lock %s/ingest/%s", s->root, lock_name);
			blob_writer_close(w);
			return r;
		}
		struct stat held, named;
		if (fstat(w->lock_fd, &held) == 0 &&
		    fstatat(s->ingest_fd, lock_name, &named, AT_SYMLINK_NOFOLLOW) == 0 &&
		    held.st_ino == named.st_ino && held.st_dev == named.st_dev)
			break;
		close(w->lock_fd);
		w->lock_fd = -1;
	}
	if (store_has_blob(s, digest)) {
		blob_writer_close(w);
		return 1;
	}
	w->fd = openat(s->ingest_fd, w->part_name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (w->fd < 0) {
		int r = berr_errno(e, -errno, "Cannot create %s/ingest/%s", s->root, w->part_name);
		blob_writer_close(w);
		return r;
	}
	int r = sha256_init(&w->hash);
	if (r < 0) {
		blob_writer_close(w);
		return berr(e, r, "Cannot start a SHA-256 digest");
	}
	/* Hash what an earlier, interrupted pull left, so the download can resume there. */
	struct stat st;
	if (fstat(w->fd, &st) < 0) {
		r = berr_errno(e, -errno, "Cannot stat %s/ingest/%s", s->root, w->part_name);
		blob_writer_close(w);
		return r;
	}
	if (size >= 0 && st.st_size > size) {
		if (ftruncate(w->fd, 0) < 0) {
			r = berr_errno(e, -errno, "Cannot truncate %s", w->part_name);
			blob_writer_close(w);
			return r;
		}
		st.st_size = 0;
	}
	static const size_t bufsz = 1 << 20;
	_cleanup_free_ unsigned char *buf = st.st_size ? malloc(bufsz) : NULL;
	uint64_t have = 0;
	while (buf && have < (uint64_t)st.st_size) {
		ssize_t n = pread(w->fd, buf, bufsz, (off_t)have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		sha256_update(&w->hash, buf, (size_t)n);
		have += (uint64_t)n;
	}
	if (have != (uint64_t)st.st_size && ftruncate(w->fd, (off_t)have) < 0) {
		r = berr_errno(e, -errno, "Cannot truncate %s", w->part_name);
		blob_writer_close(w);
		return r;
	}
	if (lseek(w->fd, (off_t)have, SEEK_SET) < 0) {
		r = berr_errno(e, -errno, "Cannot seek in %s", w->part_name);
		blob_writer_close(w);
		return r;
	}
	w->written = have;
	if (resume_offset)
		*resume_offset = have;
	return 0;
}

int blob_writer_reset(blob_writer *w, berth_err *e)
{
	sha256_free(&w->hash);
	int r = sha256_init(&w->hash);
	if (r < 0)
		return berr(e, r, "Cannot start a SHA-256 digest");
	if (ftruncate(w->fd, 0) < 0 || lseek(w->fd, 0, SEEK_SET) < 0)
		return berr_errno(e, -errno, "Cannot truncate %s/ingest/%s", w->store->root,
				  w->part_name);
	w->written = 0;
	return 0;
}

int blob_writer_write(blob_writer *w, const void *data, size_t len, berth_err *e)
{
	if (w->size >= 0 && w->written + len > (uint64_t)w->size)
		return berr(e, -EFBIG,
			    "Blob %s is larger than the %lld bytes its descriptor declares; the "
			    "registry sent corrupt or hostile data",
			    w->digest, (long long)w->size);
	int r = write_all(w->fd, data, len);
	if (r < 0)
		return berr_errno(e, r, "Cannot write %s/ingest/%s", w->store->root, w->part_name);
	sha256_update(&w->hash, data, len);
	w->written += len;
	return 0;
}

int blob_writer_commit(blob_writer *w, berth_err *e)
{
	char actual[DIGEST_STR_LEN];
	sha256_final(&w->hash, actual);
	berth_store *s = w->store;
	int r = 0;
	if (strcmp(actual, w->digest) != 0 || (w->size >= 0 && w->written != (uint64_t)w->size)) {
		unlinkat(s->ingest_fd, w->part_name, 0);
		r = berr(e, -EBADMSG,
			 "Blob %s failed verification: received %llu bytes hashing to %s "
			 "(expected %lld bytes); the data was corrupt and was discarded",
			 w->digest, (unsigned long long)w->written, actual, (long long)w->size);
	} else if (fsync(w->fd) < 0) {
		r = berr_errno(e, -errno, "Cannot flush blob %s to disk", w->digest);
	} else if (renameat(s->ingest_fd, w->part_name, s->blobs_fd, digest_hex(w->digest)) < 0) {
		r = berr_errno(e, -errno, "Cannot move blob %s into the store", w->digest);
	}
	blob_writer_close(w);
	return r;
}

void blob_writer_close(blob_writer *w)
{
	sha256_free(&w->hash);
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	if (w->lock_fd >= 0) {
		/* Still holding the lock: remove its file so ingest/ keeps only .part files. */
		char lock_name[DIGEST_HEX_LEN + 8];
		snprintf(lock_name, sizeof(lock_name), "%s.lock", digest_hex(w->digest));
		unlinkat(w->store->ingest_fd, lock_name, 0);
		close(w->lock_fd);
	}
	w->lock_fd = -1;
}

/* ---- index.json ---- */

int store_index_load(berth_store *s, json_t **index, berth_err *e)
{
	_cleanup_close_ int fd =
	    openat(s->store_fd, "index.json", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT) {
			*index = json_pack("{s:i,s:[]}", "schemaVersion", 2, "manifests");
			return *index ? 0 : berr(e, -ENOMEM, "Out of memory");
		}
		return berr_errno(e, -errno, "Cannot open %s/store/index.json", s->root);
	}
	_cleanup_fclose_ FILE *f = fdopen(fd, "r");
	if (!f)
		return berr_errno(e, -errno, "Cannot read %s/store/index.json", s->root);
	fd = -1;
	json_error_t je;
	json_t *j = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return berr(
		    e, -EBADMSG,
		    "The store index %s/store/index.json is not valid JSON (%s at line %d); "
		    "restore it or remove the store",
		    s->root, je.text, je.line);
	if (!json_is_object(j) || !json_is_array(json_object_get(j, "manifests"))) {
		json_decref(j);
		return berr(e, -EBADMSG,
			    "The store index %s/store/index.json has no manifests list; restore it "
			    "or remove the store",
			    s->root);
	}
	*index = j;
	return 0;
}

int store_index_save(berth_store *s, json_t *index, berth_err *e)
{
	_cleanup_free_ char *text = json_dumps(index, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text)
		return berr(e, -ENOMEM, "Out of memory");
	return write_file_atomic(s->store_fd, "index.json", text, strlen(text), e,
				 "the store's index.json");
}

static const char *entry_ref(json_t *m)
{
	return json_string_value(
	    json_object_get(json_object_get(m, "annotations"), ANNOTATION_REF_NAME));
}

const char *store_index_source_digest(json_t *index, const char *manifest_digest)
{
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(index, "manifests"), i, m)
	{
		const char *d = json_string_value(json_object_get(m, "digest"));
		const char *src = json_string_value(
		    json_object_get(json_object_get(m, "annotations"), ANNOTATION_SOURCE_DIGEST));
		if (d && src && digest_valid(src) && !strcmp(d, manifest_digest))
			return src;
	}
	return NULL;
}

int store_tag(berth_store *s, const char *ref, const char *manifest_digest, const char *media_type,
	      int64_t size, berth_err *e)
{
	return store_tag_source(s, ref, manifest_digest, media_type, size, NULL, e);
}

int store_tag_source(berth_store *s, const char *ref, const char *manifest_digest,
		     const char *media_type, int64_t size, const char *source_digest, berth_err *e)
{
	if (!digest_valid(manifest_digest))
		return berr(e, -EINVAL, "'%s' is not a valid manifest digest", manifest_digest);
	if (source_digest && !digest_valid(source_digest))
		return berr(e, -EINVAL, "'%s' is not a valid manifest digest", source_digest);
	if (source_digest && !strcmp(source_digest, manifest_digest))
		source_digest = NULL;
	_cleanup_close_ int lk = store_lock(s, true, e);
	if (lk < 0)
		return lk;
	_cleanup_json_ json_t *index = NULL;
	int r = store_index_load(s, &index, e);
	if (r < 0)
		return r;
	_cleanup_free_ char *src = NULL;
	if (!source_digest && store_index_source_digest(index, manifest_digest)) {
		src = strdup(store_index_source_digest(index, manifest_digest));
		if (!src)
			return berr(e, -ENOMEM, "Out of memory");
		source_digest = src;
	}
	json_t *ms = json_object_get(index, "manifests");
	for (size_t i = json_array_size(ms); i-- > 0;) {
		json_t *m = json_array_get(ms, i);
		const char *name = entry_ref(m);
		if (!name || strcmp(name, ref) != 0)
			continue;
		const char *d = json_string_value(json_object_get(m, "digest"));
		const char *have = json_string_value(
		    json_object_get(json_object_get(m, "annotations"), ANNOTATION_SOURCE_DIGEST));
		if (d && !strcmp(d, manifest_digest) &&
		    (!source_digest || (have && !strcmp(have, source_digest))))
			return 0; /* already so: keep the entry and its date */
		json_array_remove(ms, i);
	}
	char created[32];
	time_t now = time(NULL);
	struct tm tm;
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	json_t *entry = json_pack("{s:s,s:s,s:I,s:{s:s,s:s}}", "mediaType",
				  media_type ? media_type : MT_OCI_MANIFEST, "digest",
				  manifest_digest, "size", (json_int_t)size, "annotations",
				  ANNOTATION_REF_NAME, ref, ANNOTATION_CREATED, created);
	if (!entry)
		return berr(e, -ENOMEM, "Out of memory");
	if (source_digest &&
	    json_object_set_new(json_object_get(entry, "annotations"), ANNOTATION_SOURCE_DIGEST,
				json_string(source_digest)) < 0) {
		json_decref(entry);
		return berr(e, -ENOMEM, "Out of memory");
	}
	json_array_append_new(ms, entry);
	return store_index_save(s, index, e);
}

int store_untag(berth_store *s, const char *ref, berth_err *e)
{
	_cleanup_close_ int lk = store_lock(s, true, e);
	if (lk < 0)
		return lk;
	_cleanup_json_ json_t *index = NULL;
	int r = store_index_load(s, &index, e);
	if (r < 0)
		return r;
	json_t *ms = json_object_get(index, "manifests");
	bool found = false;
	for (size_t i = json_array_size(ms); i-- > 0;) {
		const char *name = entry_ref(json_array_get(ms, i));
		if (name && !strcmp(name, ref)) {
			json_array_remove(ms, i);
			found = true;
		}
	}
	if (!found)
		return berr(e, -ENOENT, "No image is named %s; 'berth image ls' lists them", ref);
	return store_index_save(s, index, e);
}

static bool is_hex_prefix(const char *s)
{
	size_t n = strlen(s);
	if (n < 4 || n > DIGEST_HEX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int store_resolve(berth_store *s, const char *name, char **manifest_digest, char **ref_out,
		  berth_err *e)
{
	_cleanup_json_ json_t *index = NULL;
	{
		_cleanup_close_ int lk = store_lock(s, false, e);
		if (lk < 0)
			return lk;
		int r = store_index_load(s, &index, e);
		if (r < 0)
			return r;
	}
	json_t *ms = json_object_get(index, "manifests");
	size_t i;
	json_t *m;

	/* A full digest. */
	if (digest_valid(name)) {
		json_array_foreach(ms, i, m)
		{
			const char *d = json_string_value(json_object_get(m, "digest"));
			if (d && !strcmp(d, name)) {
				*manifest_digest = strdup(d);
				if (ref_out)
					*ref_out = entry_ref(m) ? strdup(entry_ref(m)) : NULL;
				return *manifest_digest ? 0 : berr(e, -ENOMEM, "Out of memory");
			}
		}
		/* The digest a converted manifest had where it came from. */
		json_array_foreach(ms, i, m)
		{
			const char *d = json_string_value(json_object_get(m, "digest"));
			const char *src = json_string_value(json_object_get(
			    json_object_get(m, "annotations"), ANNOTATION_SOURCE_DIGEST));
			if (d && digest_valid(d) && src && !strcmp(src, name)) {
				*manifest_digest = strdup(d);
				if (ref_out)
					*ref_out = entry_ref(m) ? strdup(entry_ref(m)) : NULL;
				return *manifest_digest ? 0 : berr(e, -ENOMEM, "Out of memory");
			}
		}
		return berr(e, -ENOENT, "No image in the store has digest %s", name);
	}

	/* A reference, normalised. */
	berth_ref ref = {0};
	berth_err ref_err = {0};
	if (ref_parse(name, &ref, &ref_err) == 0) {
		_cleanup_free_ char *full = ref_format(&ref);
		ref_free(&ref);
		if (!full)
			return berr(e, -ENOMEM, "Out of memory");
		json_array_foreach(ms, i, m)
		{
			const char *n = entry_ref(m);
			const char *d = json_string_value(json_object_get(m, "digest"));
			if (n && d && !strcmp(n, full)) {
				*manifest_digest = strdup(d);
				if (ref_out)
					*ref_out = strdup(n);
				return *manifest_digest ? 0 : berr(e, -ENOMEM, "Out of memory");
			}
		}
	}

	/* An id: unambiguous hex prefix of a manifest digest. */
	if (is_hex_prefix(name)) {
		const char *found = NULL, *found_ref = NULL;
		json_array_foreach(ms, i, m)
		{
			const char *d = json_string_value(json_object_get(m, "digest"));
			if (!d || !digest_valid(d) || strncmp(digest_hex(d), name, strlen(name)))
				continue;
			if (found && strcmp(found, d) != 0)
				return berr(
				    e, -EINVAL,
				    "The id %s matches more than one image; give more digits",
				    name);
			found = d;
			found_ref = entry_ref(m);
		}
		if (found) {
			*manifest_digest = strdup(found);
			if (ref_out)
				*ref_out = found_ref ? strdup(found_ref) : NULL;
			return *manifest_digest ? 0 : berr(e, -ENOMEM, "Out of memory");
		}
	}
	if (ref_err.code && !is_hex_prefix(name))
		return berr(e, ref_err.code, "%s", ref_err.msg);
	return berr(e, -ENOENT,
		    "No image named %s is in the store; 'berth image ls' lists them and 'berth "
		    "image pull' fetches one",
		    name);
}

/* ---- holds ---- */

static bool holder_name_valid(const char *h)
{
	if (!h || !*h || strlen(h) > 200 || h[0] == '.')
		return false;
	for (const char *p = h; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	return true;
}

int store_hold_set(berth_store *s, const char *holder, const char *manifest_digest, berth_err *e)
{
	if (!holder_name_valid(holder))
		return berr(e, -EINVAL, "'%s' is not a valid holder name", holder ? holder : "");
	if (!digest_valid(manifest_digest))
		return berr(e, -EINVAL, "'%s' is not a valid manifest digest", manifest_digest);
	char line[DIGEST_STR_LEN + 2];
	snprintf(line, sizeof(line), "%s\n", manifest_digest);
	_cleanup_close_ int lk = store_lock(s, true, e);
	if (lk < 0)
		return lk;
	return write_file_atomic(s->holds_fd, holder, line, strlen(line), e, "a hold file");
}

int store_hold_release(berth_store *s, const char *holder, berth_err *e)
{
	if (!holder_name_valid(holder))
		return berr(e, -EINVAL, "'%s' is not a valid holder name", holder ? holder : "");
	_cleanup_close_ int lk = store_lock(s, true, e);
	if (lk < 0)
		return lk;
	if (unlinkat(s->holds_fd, holder, 0) < 0 && errno != ENOENT)
		return berr_errno(e, -errno, "Cannot remove hold %s", holder);
	return 0;
}

/* ---- scratch space and removal ---- */

int store_mkdtemp(berth_store *s, char **name, berth_err *e)
{
	for (int attempt = 0; attempt < 16; attempt++) {
		char n[64];
		if (random_name(n, sizeof(n), "d-") < 0)
			return berr(e, -EIO, "Cannot get random bytes for a temporary name");
		if (mkdirat(s->tmp_fd, n, 0700) == 0) {
			*name = strdup(n);
			return *name ? 0 : berr(e, -ENOMEM, "Out of memory");
		}
		if (errno != EEXIST)
			return berr_errno(e, -errno, "Cannot create a scratch directory in %s/tmp",
					  s->root);
	}
	return berr(e, -EEXIST, "Cannot create a scratch directory in %s/tmp", s->root);
}

int rm_rf_at(int dirfd, const char *name, berth_err *e)
{
	int r = inroot_rm_rf(dirfd, name);
	if (r < 0)
		return berr_errno(e, r, "Cannot remove %s", name);
	return 0;
}
