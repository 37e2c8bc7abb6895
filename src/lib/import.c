/* SPDX-License-Identifier: MIT */
/*
 * `image import`: find out what PATH is (an OCI layout directory, an OCI archive, a
 * docker archive or a root filesystem tar, by content, never by name), hand it to the
 * part that reads that kind, then unpack the layers and tag the result. The parts live in
 * import-tar.c, import-oci.c, import-docker.c and import-rootfs.c.
 */
#include "import.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "image.h"
#include "import-internal.h"
#include "layers.h"
#include "ref.h"

/* ---- spooling ---- */

int import_scratch(import_job *job, berth_err *e)
{
	if (job->scratch_fd >= 0)
		return 0;
	int r = store_mkdtemp(job->s, &job->scratch, e);
	if (r < 0)
		return r;
	job->scratch_fd =
	    openat(job->s->tmp_fd, job->scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (job->scratch_fd < 0)
		return berr_errno(e, -errno, "Cannot open the scratch directory %s/tmp/%s",
				  job->s->root, job->scratch);
	return 0;
}

int spool_open(import_job *job, spool *sp, berth_err *e)
{
	*sp = (spool){.fd = -1};
	int r = import_scratch(job, e);
	if (r < 0)
		return r;
	for (;;) {
		snprintf(sp->name, sizeof(sp->name), "s%lu", ++job->spool_seq);
		sp->fd = openat(job->scratch_fd, sp->name,
				O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (sp->fd >= 0)
			break;
		if (errno != EEXIST)
			return berr_errno(e, -errno, "Cannot create a file in %s/tmp/%s",
					  job->s->root, job->scratch);
	}
	r = sha256_init(&sp->hash);
	if (r < 0) {
		spool_close(sp);
		return berr(e, r, "Cannot start a SHA-256 digest");
	}
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

int spool_write(spool *sp, const void *data, size_t len, berth_err *e)
{
	if (sp->head_len < sizeof(sp->head)) {
		size_t n = sizeof(sp->head) - sp->head_len;
		if (n > len)
			n = len;
		memcpy(sp->head + sp->head_len, data, n);
		sp->head_len += n;
	}
	int r = write_all(sp->fd, data, len);
	if (r < 0)
		return berr_errno(e, r, "Cannot write a temporary file for the import");
	sha256_update(&sp->hash, data, len);
	sp->size += len;
	return 0;
}

void spool_finish(spool *sp, char digest[DIGEST_STR_LEN])
{
	sha256_final(&sp->hash, digest);
}

void spool_close(spool *sp)
{
	sha256_free(&sp->hash);
	if (sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
}

int spool_commit(import_job *job, const char *name, const char *digest, berth_err *e)
{
	if (store_has_blob(job->s, digest))
		return 0;
	_cleanup_close_ int fd = openat(job->scratch_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fsync(fd) < 0)
		return berr_errno(e, -errno, "Cannot flush blob %s to disk", digest);
	if (renameat(job->scratch_fd, name, job->s->blobs_fd, digest_hex(digest)) < 0)
		return berr_errno(e, -errno, "Cannot move blob %s into the store", digest);
	return 0;
}

int import_copy_fd_blob(import_job *job, int fd, const char *digest, int64_t size, const char *what,
			berth_err *e)
{
	blob_writer w;
	uint64_t resume = 0;
	int r = blob_writer_open(job->s, digest, size, &w, &resume, e);
	if (r < 0)
		return r;
	if (r == 1)
		return 0; /* already stored (and verified when it was) */
	if (resume > 0 && (r = blob_writer_reset(&w, e)) < 0) {
		blob_writer_close(&w);
		return r;
	}
	char label[64];
	snprintf(label, sizeof(label), "Copying blob %.12s", digest_hex(digest));
	int id = progress_add(job->p, label, size > 0 ? (uint64_t)size : 0);
	static const size_t bufsz = 1 << 20;
	_cleanup_free_ unsigned char *buf = malloc(bufsz);
	if (!buf) {
		blob_writer_close(&w);
		return berr(e, -ENOMEM, "Out of memory copying blob %s", digest);
	}
	for (;;) {
		ssize_t n = read(fd, buf, bufsz);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = berr_errno(e, -errno, "Cannot read blob %s from %s", digest, what);
			blob_writer_close(&w);
			return r;
		}
		if (n == 0)
			break;
		r = blob_writer_write(&w, buf, (size_t)n, e);
		if (r < 0) {
			blob_writer_close(&w);
			return berr_prefix(e, "In %s", what);
		}
		progress_update(job->p, id, w.written);
	}
	r = blob_writer_commit(&w, e);
	if (r < 0)
		return berr_prefix(e, "In %s", what);
	progress_done(job->p, id, "done");
	return 0;
}

int import_read_small(int fd, size_t max, char **buf, size_t *len, const char *what, berth_err *e)
{
	size_t cap = 4096, got = 0;
	_cleanup_free_ char *b = malloc(cap + 1);
	if (!b)
		return berr(e, -ENOMEM, "Out of memory reading %s", what);
	for (;;) {
		if (got == cap) {
			if (cap > max)
				return berr(e, -EFBIG,
					    "%s is larger than %zu bytes; it is not a valid "
					    "image file",
					    what, max);
			cap *= 2;
			char *nb = realloc(b, cap + 1);
			if (!nb)
				return berr(e, -ENOMEM, "Out of memory reading %s", what);
			b = nb;
		}
		ssize_t n = read(fd, b + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berr_errno(e, -errno, "Cannot read %s", what);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > max)
		return berr(e, -EFBIG, "%s is larger than %zu bytes; it is not a valid image file",
			    what, max);
	b[got] = 0;
	*buf = TAKE_PTR(b);
	*len = got;
	return 0;
}

/* ---- references ---- */

char *import_normalise_ref(const char *s, berth_err *e)
{
	berth_ref ref = {0};
	if (ref_parse(s, &ref, e) < 0)
		return NULL;
	if (!ref.tag) {
		berr(e, -EINVAL,
		     "Image name '%s' has a digest but no tag; an imported image is named with a "
		     "tag such as 'name:1'",
		     s);
		ref_free(&ref);
		return NULL;
	}
	/* A name carries a tag only: the digest is the imported manifest's own. */
	free(ref.digest);
	ref.digest = NULL;
	char *out = ref_format(&ref);
	ref_free(&ref);
	if (!out)
		berr(e, -ENOMEM, "Out of memory");
	return out;
}

bool import_ref_is_full(const char *s)
{
	const char *slash = strchr(s, '/');
	if (!slash || slash == s)
		return false;
	size_t n = (size_t)(slash - s);
	if (!memchr(s, '.', n) && !memchr(s, ':', n) && !(n == 9 && !strncmp(s, "localhost", 9)))
		return false;
	berth_err e = {0};
	berth_ref ref = {0};
	if (ref_parse(s, &ref, &e) < 0)
		return false;
	bool ok = ref.tag != NULL;
	ref_free(&ref);
	return ok;
}

const char *import_basename(const import_job *job)
{
	const char *b = strrchr(job->path, '/');
	return b && b[1] ? b + 1 : job->path;
}

int import_set_manifest(import_job *job, const char *digest, const char *media_type, int64_t size,
			berth_err *e)
{
	free(job->manifest_media_type);
	job->manifest_media_type = strdup(media_type ? media_type : MT_OCI_MANIFEST);
	if (!job->manifest_media_type)
		return berr(e, -ENOMEM, "Out of memory");
	memcpy(job->manifest_digest, digest, DIGEST_STR_LEN);
	job->manifest_size = size;
	return 0;
}

/* ---- the verb ---- */

/* PATH or PATH:NAME. The longest existing prefix ending before a ':' is the path, so
 * paths that contain ':' still work. */
static int split_path(const char *arg, char **path, char **name, berth_err *e)
{
	struct stat st;
	if (lstat(arg, &st) == 0 || errno != ENOENT) {
		*path = strdup(arg);
		*name = NULL;
		return *path ? 0 : berr(e, -ENOMEM, "Out of memory");
	}
	for (const char *c = strrchr(arg, ':'); c;
	     c = c > arg ? memrchr(arg, ':', (size_t)(c - arg)) : NULL) {
		if (c == arg || !c[1])
			continue;
		_cleanup_free_ char *p = strndup(arg, (size_t)(c - arg));
		if (!p)
			return berr(e, -ENOMEM, "Out of memory");
		if (lstat(p, &st) == 0) {
			*name = strdup(c + 1);
			if (!*name)
				return berr(e, -ENOMEM, "Out of memory");
			*path = TAKE_PTR(p);
			return 0;
		}
	}
	return berr(e, -ENOENT,
		    "%s does not exist; give the path of an OCI layout directory, an "
		    "OCI or docker archive, or a root filesystem tar",
		    arg);
}

static int import_file(import_job *job, int fd, uint64_t size, berth_err *e)
{
	tar_scan ts = {0};
	int r = tar_scan_fd(job, fd, size, &ts, e);
	if (r < 0)
		goto out;
	switch (ts.kind) {
	case TAR_NOT_TAR:
		r = berr(e, -EINVAL,
			 "%s is neither an OCI layout, an OCI or docker archive, nor a root "
			 "filesystem tar (.tar, .tar.gz, .tar.zst)",
			 job->path);
		break;
	case TAR_EMPTY:
		r = berr(e, -EINVAL,
			 "%s is a tar archive without any files; there is nothing to import",
			 job->path);
		break;
	case TAR_OCI:
		r = import_oci_archive(job, &ts, e);
		break;
	case TAR_DOCKER:
		r = import_docker_archive(job, &ts, e);
		break;
	case TAR_ROOTFS:
		if (job->name) {
			r = berr(e, -EINVAL,
				 "%s is a root filesystem tar, which holds one image without a "
				 "name, so ':%s' picks nothing; name the result with --tag",
				 job->path, job->name);
			break;
		}
		tar_scan_free(&ts);
		r = import_rootfs(job, fd, e);
		break;
	}
out:
	tar_scan_free(&ts);
	return r;
}

static int import_source(import_job *job, berth_err *e)
{
	_cleanup_close_ int fd = open(job->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == EACCES || errno == EPERM)
			return berr(e, -errno,
				    "Cannot read %s: permission denied; check its permissions or "
				    "run berth as a user who can read it",
				    job->path);
		return berr_errno(e, -errno, "Cannot open %s", job->path);
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		return berr_errno(e, -errno, "Cannot stat %s", job->path);
	job->source_mtime = (int64_t)st.st_mtim.tv_sec;
	if (S_ISDIR(st.st_mode)) {
		if (faccessat(fd, "oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			return berr(e, -EINVAL,
				    "Directory %s is not an OCI image layout (it has no oci-layout "
				    "file); give an OCI layout directory or an image archive",
				    job->path);
		return import_oci_dir(job, fd, e);
	}
	if (!S_ISREG(st.st_mode))
		return berr(e, -EINVAL,
			    "%s is not a regular file or a directory; save the image to a file "
			    "first",
			    job->path);
	if (st.st_size == 0)
		return berr(e, -EINVAL,
			    "%s is empty; give an OCI layout, an OCI or docker archive, or a root "
			    "filesystem tar",
			    job->path);
	return import_file(job, fd, (uint64_t)st.st_size, e);
}

static char *default_ref(const char *digest)
{
	char *r = NULL;
	if (asprintf(&r, "localhost/import-%.12s:latest", digest_hex(digest)) < 0)
		return NULL;
	return r;
}

int image_import(const berth_ctx *ctx, berth_store *s, const char *path, const char *tag,
		 char manifest_digest[DIGEST_STR_LEN], char **tag_out, berth_err *e)
{
	_cleanup_free_ char *file = NULL, *name = NULL, *ref = NULL;
	if (tag && !(ref = import_normalise_ref(tag, e)))
		return berr_prefix(e, "Cannot use --tag");
	int r = split_path(path, &file, &name, e);
	if (r < 0)
		return r;
	import_job job = {
	    .ctx = ctx,
	    .s = s,
	    .path = file,
	    .name = name,
	    .scratch_fd = -1,
	    .p = progress_new(ctx->tty && !ctx->quiet && !ctx->json),
	};
	stored_image img = {0};
	r = import_source(&job, e);
	if (r < 0)
		goto out;
	berth_debug(ctx, "imported manifest %s (%s) from %s", job.manifest_digest,
		    job.manifest_media_type, file);
	r = stored_image_load(s, job.manifest_digest, &img, e);
	if (r < 0)
		goto out;
	r = image_unpack(ctx, s, &img.manifest, &img.config, 0, job.p, e);
	if (r < 0) {
		berr_prefix(e, "Cannot unpack the image imported from %s", file);
		goto out;
	}
	if (!ref)
		ref =
		    job.archive_name ? strdup(job.archive_name) : default_ref(job.manifest_digest);
	if (!ref) {
		r = berr(e, -ENOMEM, "Out of memory");
		goto out;
	}
	r = store_tag_source(s, ref, job.manifest_digest, job.manifest_media_type,
			     job.manifest_size, job.source_digest[0] ? job.source_digest : NULL, e);
	if (r < 0)
		goto out;
	memcpy(manifest_digest, job.manifest_digest, DIGEST_STR_LEN);
	if (tag_out)
		*tag_out = TAKE_PTR(ref);
out:
	stored_image_free(&img);
	progress_free(job.p);
	if (job.scratch_fd >= 0) {
		close(job.scratch_fd);
		berth_err ignore = {0};
		rm_rf_at(s->tmp_fd, job.scratch, &ignore);
	}
	free(job.scratch);
	free(job.manifest_media_type);
	free(job.archive_name);
	return r;
}
