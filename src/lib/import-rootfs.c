/* SPDX-License-Identifier: MIT */
/*
 * A plain root filesystem tar (optionally gzip or zstd compressed) becomes a one-layer
 * image: the file is stored as the layer blob as it is, its uncompressed digest is the
 * diff id, and a config and manifest for this host's platform are written around it.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "decompress.h"
#include "import-internal.h"
#include "unpack.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Copy fd into a spool file, hashing it. */
static int copy_to_spool(import_job *job, int fd, spool *sp, berth_err *e)
{
	if (lseek(fd, 0, SEEK_SET) < 0)
		return berr_errno(e, -errno, "Cannot seek in %s", job->path);
	struct stat st;
	uint64_t total = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	char label[80];
	snprintf(label, sizeof(label), "Copying %.60s", import_basename(job));
	int id = progress_add(job->p, label, total);
	static const size_t bufsz = 1 << 20;
	_cleanup_free_ char *buf = malloc(bufsz);
	if (!buf)
		return berr(e, -ENOMEM, "Out of memory");
	for (;;) {
		ssize_t n = read(fd, buf, bufsz);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berr_errno(e, -errno, "Cannot read %s", job->path);
		if (n == 0)
			break;
		int r = spool_write(sp, buf, (size_t)n, e);
		if (r < 0)
			return r;
		progress_update(job->p, id, sp->size);
	}
	progress_done(job->p, id, "done");
	return 0;
}

/* sha256 of the uncompressed stream: the layer's diff id. */
static int diff_id_of(import_job *job, int fd, layer_compression comp, char diff_id[DIGEST_STR_LEN],
		      berth_err *e)
{
	if (lseek(fd, 0, SEEK_SET) < 0)
		return berr_errno(e, -errno, "Cannot seek in the copy of %s", job->path);
	_cleanup_decompressor_ decompressor *d = NULL;
	int r = decompressor_new(fd, comp, &d, e);
	if (r < 0)
		return r;
	sha256_ctx h = {0};
	r = sha256_init(&h);
	if (r < 0)
		return berr(e, r, "Cannot start a SHA-256 digest");
	static const size_t bufsz = 1 << 20;
	_cleanup_free_ char *buf = malloc(bufsz);
	if (!buf) {
		sha256_free(&h);
		return berr(e, -ENOMEM, "Out of memory");
	}
	for (;;) {
		ssize_t n = decompressor_read(d, buf, bufsz, e);
		if (n < 0) {
			sha256_free(&h);
			return berr_prefix(e, "%s", job->path);
		}
		if (n == 0)
			break;
		sha256_update(&h, buf, (size_t)n);
	}
	sha256_final(&h, diff_id);
	return 0;
}

static int write_config(import_job *job, const char *diff_id, char digest[DIGEST_STR_LEN],
			int64_t *size, berth_err *e)
{
	_cleanup_free_ char *os = NULL, *arch = NULL, *variant = NULL;
	int r = platform_parse(platform_host(), &os, &arch, &variant, e);
	if (r < 0)
		return r;
	char created[32];
	/* The file's own time, not now: importing the same file twice gives the same image. */
	time_t when = (time_t)job->source_mtime;
	struct tm tm;
	if (!gmtime_r(&when, &tm))
		return berr(e, -EINVAL, "%s has a modification time berth cannot represent",
			    job->path);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	char comment[300];
	snprintf(comment, sizeof(comment), "imported from %.250s", import_basename(job));
	_cleanup_json_ json_t *cfg =
	    json_pack("{s:s,s:s,s:s,s:{s:[s]},s:{s:s,s:[s]},s:[{s:s,s:s,s:s}]}", "created", created,
		      "architecture", arch, "os", os, "config", "Env", DEFAULT_PATH, "rootfs",
		      "type", "layers", "diff_ids", diff_id, "history", "created", created,
		      "created_by", "berth image import", "comment", comment);
	if (!cfg || (variant && json_object_set_new(cfg, "variant", json_string(variant)) < 0))
		return berr(e, -ENOMEM, "Out of memory");
	_cleanup_free_ char *text = json_dumps(cfg, JSON_COMPACT);
	if (!text)
		return berr(e, -ENOMEM, "Out of memory");
	*size = (int64_t)strlen(text);
	return store_write_blob(job->s, text, strlen(text), NULL, digest, e);
}

static const char *media_type_of(layer_compression c)
{
	return c == COMPRESSION_GZIP   ? MT_OCI_LAYER_GZIP
	       : c == COMPRESSION_ZSTD ? MT_OCI_LAYER_ZSTD
				       : MT_OCI_LAYER;
}

int import_rootfs(import_job *job, int fd, berth_err *e)
{
	spool sp;
	int r = spool_open(job, &sp, e);
	if (r < 0)
		return r;
	r = copy_to_spool(job, fd, &sp, e);
	char layer[DIGEST_STR_LEN], diff_id[DIGEST_STR_LEN];
	spool_finish(&sp, layer);
	uint64_t layer_size = sp.size;
	layer_compression comp = compression_sniff(sp.head, sp.head_len);
	if (r >= 0)
		r = diff_id_of(job, sp.fd, comp, diff_id, e);
	char name[sizeof(sp.name)];
	memcpy(name, sp.name, sizeof(name));
	spool_close(&sp);
	if (r < 0)
		return r;
	berth_debug(job->ctx, "root filesystem layer %s, diff id %s", layer, diff_id);
	r = spool_commit(job, name, layer, e);
	if (r < 0)
		return r;

	char cfg_digest[DIGEST_STR_LEN];
	int64_t cfg_size = 0;
	r = write_config(job, diff_id, cfg_digest, &cfg_size, e);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *m =
	    json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:[{s:s,s:s,s:I}]}", "schemaVersion", 2,
		      "mediaType", MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG, "digest",
		      cfg_digest, "size", (json_int_t)cfg_size, "layers", "mediaType",
		      media_type_of(comp), "digest", layer, "size", (json_int_t)layer_size);
	_cleanup_free_ char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
	if (!text)
		return berr(e, -ENOMEM, "Out of memory");
	char digest[DIGEST_STR_LEN];
	r = store_write_blob(job->s, text, strlen(text), NULL, digest, e);
	if (r < 0)
		return r;
	return import_set_manifest(job, digest, MT_OCI_MANIFEST, (int64_t)strlen(text), e);
}
