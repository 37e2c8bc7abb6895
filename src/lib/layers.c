/* SPDX-License-Identifier: MIT */
/* Unpacked layers: one directory per chain id, unpacked once, shared between images. */
#include "layers.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "unpack.h"

/* Apparent size bound for one file in a layer; sparse files are written sparse. */
#define LAYER_MAX_FILE_SIZE (1ULL << 40)

void chain_id_next(const char *parent_chain, const char *diff_id, char out[DIGEST_STR_LEN])
{
	if (!parent_chain) {
		memcpy(out, diff_id, DIGEST_STR_LEN);
		return;
	}
	char buf[2 * DIGEST_STR_LEN + 2];
	int n = snprintf(buf, sizeof(buf), "%s %s", parent_chain, diff_id);
	sha256_buf(buf, (size_t)n, out);
}

int image_chain_ids(const image_config *cfg, char (**chain_ids)[DIGEST_STR_LEN], berth_err *e)
{
	size_t n = cfg->n_diff_ids ? cfg->n_diff_ids : 1;
	char(*ids)[DIGEST_STR_LEN] = calloc(n, DIGEST_STR_LEN);
	if (!ids)
		return berr(e, -ENOMEM, "Out of memory");
	for (size_t i = 0; i < cfg->n_diff_ids; i++)
		chain_id_next(i ? ids[i - 1] : NULL, cfg->diff_ids[i], ids[i]);
	*chain_ids = ids;
	return 0;
}

bool layer_is_unpacked(berth_store *s, const char *chain_id)
{
	if (!digest_valid(chain_id))
		return false;
	char path[DIGEST_HEX_LEN + 16];
	snprintf(path, sizeof(path), "%s/layer.json", digest_hex(chain_id));
	return faccessat(s->layers_fd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static void unpack_opts_for_host(unpack_opts *o, whiteout_mode mode)
{
	bool root = geteuid() == 0;
	*o = (unpack_opts){
	    .whiteouts = mode,
	    .overlay_xattr_prefix = root ? "trusted.overlay." : "user.overlay.",
	    .chown = root,
	    .max_file_size = LAYER_MAX_FILE_SIZE,
	};
}

static int write_layer_json(int dirfd, const oci_descriptor *layer, const char *diff_id,
			    const char *chain_id, const unpack_stats *st, berth_err *e)
{
	_cleanup_json_ json_t *j =
	    json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "digest", layer->digest, "mediaType",
		      layer->media_type ? layer->media_type : "", "diffID", diff_id, "chainID",
		      chain_id, "size", (json_int_t)layer->size, "unpackedBytes",
		      (json_int_t)st->bytes, "entries", (json_int_t)st->entries);
	if (!j)
		return berr(e, -ENOMEM, "Out of memory");
	_cleanup_free_ char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text)
		return berr(e, -ENOMEM, "Out of memory");
	_cleanup_close_ int fd =
	    openat(dirfd, "layer.json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return berr_errno(e, -errno, "Cannot write layer.json for layer %s", layer->digest);
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		return berr_errno(e, -errno, "Cannot write layer.json for layer %s", layer->digest);
	return 0;
}

static layer_compression layer_compression_of(const oci_descriptor *layer, int fd)
{
	layer_compression c = layer_compression_from_media_type(layer->media_type);
	/* Some tools label uncompressed layers as gzip and vice versa; trust the bytes. */
	unsigned char magic[8];
	ssize_t n = pread(fd, magic, sizeof(magic), 0);
	if (n > 0) {
		layer_compression sniffed = compression_sniff(magic, (size_t)n);
		if (sniffed != COMPRESSION_NONE || c == COMPRESSION_INVALID)
			return sniffed;
		if (c != COMPRESSION_NONE)
			return COMPRESSION_NONE;
	}
	return c;
}

int layer_unpack_one(const berth_ctx *ctx, berth_store *s, const oci_descriptor *layer,
		     const char *parent_chain, const char *diff_id, berth_err *e)
{
	char chain[DIGEST_STR_LEN];
	if (!digest_valid(diff_id))
		return berr(e, -EINVAL, "Layer %s has an invalid diff id", layer->digest);
	if (layer_compression_from_media_type(layer->media_type) == COMPRESSION_INVALID)
		return berr(e, -ENOTSUP,
			    "Layer %s has media type %s, which berth cannot unpack (foreign and "
			    "non-tar layers are not supported)",
			    layer->digest, layer->media_type ? layer->media_type : "(none)");
	chain_id_next(parent_chain, diff_id, chain);
	if (layer_is_unpacked(s, chain))
		return 0;

	_cleanup_close_ int blob = store_open_blob(s, layer->digest, e);
	if (blob < 0)
		return blob;
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int tmpfd = -1, difffd = -1;
	int r = store_mkdtemp(s, &tmp, e);
	if (r < 0)
		return r;
	tmpfd = openat(s->tmp_fd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (tmpfd < 0) {
		r = berr_errno(e, -errno, "Cannot open scratch directory %s/tmp/%s", s->root, tmp);
		goto fail;
	}
	if (mkdirat(tmpfd, "diff", 0755) < 0) {
		r = berr_errno(e, -errno, "Cannot create a layer directory in %s/tmp", s->root);
		goto fail;
	}
	difffd = openat(tmpfd, "diff", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (difffd < 0) {
		r = berr_errno(e, -errno, "Cannot open a layer directory in %s/tmp", s->root);
		goto fail;
	}
	unpack_opts opts;
	unpack_opts_for_host(&opts, WHITEOUT_OVERLAY);
	unpack_stats st = {0};
	char actual[DIGEST_STR_LEN] = "";
	berth_debug(ctx, "unpacking layer %s (chain %s)", layer->digest, chain);
	r = unpack_layer_fd(blob, layer_compression_of(layer, blob), difffd, &opts, actual, &st, e);
	if (r < 0) {
		berr_prefix(e, "Cannot unpack layer %s", layer->digest);
		goto fail;
	}
	if (strcmp(actual, diff_id) != 0) {
		r = berr(e, -EBADMSG,
			 "Layer %s unpacks to content with diff id %s, but the image config says "
			 "%s; the image is corrupt",
			 layer->digest, actual, diff_id);
		goto fail;
	}
	/* layer.json marks the layer whole: everything it describes goes to disk first, with
	 * one syncfs for the layer rather than an fsync for each of its files. */
	if (syncfs(tmpfd) < 0) {
		r = berr_errno(e, -errno, "Cannot flush unpacked layer %s to disk", layer->digest);
		goto fail;
	}
	r = write_layer_json(tmpfd, layer, diff_id, chain, &st, e);
	if (r < 0)
		goto fail;
	/* The layer directory itself stays 0700: it holds setuid files of the image. */
	fchmod(tmpfd, 0700);
	if (renameat(s->tmp_fd, tmp, s->layers_fd, digest_hex(chain)) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY) {
			/* Another berth finished the same layer first; its copy is whole. */
			berth_err ignored = {0};
			rm_rf_at(s->tmp_fd, tmp, &ignored);
			return 0;
		}
		r = berr_errno(e, -errno, "Cannot move unpacked layer %s into %s/layers",
			       layer->digest, s->root);
		goto fail;
	}
	return 0;
fail : {
	berth_err ignored = {0};
	rm_rf_at(s->tmp_fd, tmp, &ignored);
}
	return r;
}

typedef struct unpack_job {
	const berth_ctx *ctx;
	berth_store *store;
	const oci_manifest *m;
	const image_config *cfg;
	char (*chains)[DIGEST_STR_LEN];
	progress *prog;
	int *prog_ids;
	pthread_mutex_t lock;
	size_t next;
	berth_err err;
} unpack_job;

static void *unpack_worker(void *arg)
{
	unpack_job *j = arg;
	for (;;) {
		pthread_mutex_lock(&j->lock);
		size_t i = j->next++;
		bool stop = j->err.code != 0;
		pthread_mutex_unlock(&j->lock);
		if (stop || i >= j->m->n_layers)
			return NULL;
		if (layer_is_unpacked(j->store, j->chains[i])) {
			if (j->prog)
				progress_done(j->prog, j->prog_ids[i], "exists");
			continue;
		}
		berth_err e = {0};
		int r = layer_unpack_one(j->ctx, j->store, &j->m->layers[i],
					 i ? j->chains[i - 1] : NULL, j->cfg->diff_ids[i], &e);
		if (j->prog)
			progress_done(j->prog, j->prog_ids[i], r < 0 ? "failed" : "unpacked");
		if (r < 0) {
			pthread_mutex_lock(&j->lock);
			if (!j->err.code)
				j->err = e;
			pthread_mutex_unlock(&j->lock);
		}
	}
}

int image_unpack(const berth_ctx *ctx, berth_store *s, const oci_manifest *m,
		 const image_config *cfg, int parallel, progress *p, berth_err *e)
{
	if (cfg->n_diff_ids != m->n_layers)
		return berr(e, -EBADMSG,
			    "The image lists %zu layers but its config lists %zu diff ids; the "
			    "image is corrupt",
			    m->n_layers, cfg->n_diff_ids);
	if (m->n_layers == 0)
		return 0;
	unpack_job job = {.ctx = ctx, .store = s, .m = m, .cfg = cfg, .prog = p};
	int r = image_chain_ids(cfg, &job.chains, e);
	if (r < 0)
		return r;
	job.prog_ids = calloc(m->n_layers, sizeof(int));
	if (!job.prog_ids) {
		free(job.chains);
		return berr(e, -ENOMEM, "Out of memory");
	}
	if (p)
		for (size_t i = 0; i < m->n_layers; i++) {
			char label[64];
			snprintf(label, sizeof(label), "Unpacking layer %.12s",
				 digest_hex(m->layers[i].digest));
			job.prog_ids[i] = progress_add(p, label, 0);
		}
	pthread_mutex_init(&job.lock, NULL);
	if (parallel <= 0)
		parallel = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (parallel <= 0)
		parallel = 2;
	if ((size_t)parallel > m->n_layers)
		parallel = (int)m->n_layers;
	pthread_t *threads = calloc((size_t)parallel, sizeof(pthread_t));
	int started = 0;
	for (int i = 0; threads && i < parallel; i++) {
		if (pthread_create(&threads[i], NULL, unpack_worker, &job) != 0)
			break;
		started++;
	}
	if (started == 0)
		unpack_worker(&job);
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	pthread_mutex_destroy(&job.lock);
	free(job.chains);
	free(job.prog_ids);
	if (job.err.code) {
		*e = job.err;
		return job.err.code;
	}
	return 0;
}

int image_flatten(const berth_ctx *ctx, berth_store *s, const oci_manifest *m,
		  const image_config *cfg, int dest_dirfd, berth_err *e)
{
	if (cfg->n_diff_ids != m->n_layers)
		return berr(e, -EBADMSG, "The image's manifest and config disagree on its layers");
	unpack_opts opts;
	unpack_opts_for_host(&opts, WHITEOUT_APPLY);
	for (size_t i = 0; i < m->n_layers; i++) {
		_cleanup_close_ int blob = store_open_blob(s, m->layers[i].digest, e);
		if (blob < 0)
			return blob;
		unpack_stats st = {0};
		char actual[DIGEST_STR_LEN] = "";
		berth_debug(ctx, "flattening layer %s", m->layers[i].digest);
		int r = unpack_layer_fd(blob, layer_compression_of(&m->layers[i], blob), dest_dirfd,
					&opts, actual, &st, e);
		if (r < 0)
			return berr_prefix(e, "Cannot unpack layer %s", m->layers[i].digest);
		if (strcmp(actual, cfg->diff_ids[i]) != 0)
			return berr(e, -EBADMSG,
				    "Layer %s unpacks to diff id %s, but the image config says %s; "
				    "the image is corrupt",
				    m->layers[i].digest, actual, cfg->diff_ids[i]);
	}
	return 0;
}
