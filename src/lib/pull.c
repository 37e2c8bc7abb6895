/* SPDX-License-Identifier: MIT */
/*
 * `image pull`: resolve a reference on a registry to one platform's manifest, download the
 * config and the layers (several at once, resuming partial downloads), unpack each layer as
 * soon as its blob is stored, then tag the image in the store. A Docker schema 2 manifest is
 * stored converted to OCI (the store is an OCI layout), its registry digest kept beside it.
 */
#include "pull.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "image.h"
#include "layers.h"
#include "manifest-convert.h"
#include "manifest.h"
#include "progress.h"
#include "registry.h"

#define DEFAULT_PARALLEL 4
#define MAX_PARALLEL 32

typedef enum layer_state {
	LAYER_DOWNLOAD, /* blob missing: waiting for (or in) download */
	LAYER_READY,	/* blob in the store, not yet unpacked */
	LAYER_UNPACKING,
	LAYER_DONE,
} layer_state;

typedef struct pull_job {
	const berth_ctx *ctx;
	berth_store *s;
	registry *reg;
	const oci_manifest *m;
	const image_config *cfg;
	char (*chains)[DIGEST_STR_LEN];
	progress *prog;

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;
	layer_state *state;
	int *prog_id;	   /* progress line of each layer (shared by layers with one blob) */
	size_t *downloads; /* layer index of each distinct blob to download */
	size_t n_downloads, next_download;
	size_t n_done;
	berth_err err; /* the first failure */
	atomic_bool abort;
} pull_job;

static void job_fail(pull_job *j, const berth_err *e)
{
	pthread_mutex_lock(&j->lock);
	if (!j->err.code)
		j->err = *e;
	atomic_store(&j->abort, true);
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

typedef struct dl_progress {
	progress *p;
	int id;
} dl_progress;

static void on_blob_progress(void *userdata, uint64_t done)
{
	dl_progress *d = userdata;
	progress_update(d->p, d->id, done);
}

static void *download_main(void *arg)
{
	pull_job *j = arg;
	berth_err e = {0};
	registry_conn *c = registry_conn_new(j->reg, &e);
	if (!c) {
		job_fail(j, &e);
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&j->lock);
		if (atomic_load(&j->abort) || j->next_download >= j->n_downloads) {
			pthread_mutex_unlock(&j->lock);
			break;
		}
		size_t i = j->downloads[j->next_download++];
		dl_progress dp = {j->prog, j->prog_id[i]};
		pthread_mutex_unlock(&j->lock);

		const oci_descriptor *l = &j->m->layers[i];
		int k = registry_fetch_blob(c, j->s, l->digest, l->size, on_blob_progress, &dp, &e);
		if (k < 0) {
			progress_done(j->prog, dp.id, "failed");
			job_fail(j, &e);
			break;
		}
		progress_update(j->prog, dp.id, (uint64_t)l->size);
		progress_done(j->prog, dp.id, "unpacking");
		pthread_mutex_lock(&j->lock);
		for (size_t k2 = 0; k2 < j->m->n_layers; k2++)
			if (j->state[k2] == LAYER_DOWNLOAD &&
			    !strcmp(j->m->layers[k2].digest, l->digest))
				j->state[k2] = LAYER_READY;
		pthread_cond_broadcast(&j->cond);
		pthread_mutex_unlock(&j->lock);
	}
	registry_conn_free(c);
	return NULL;
}

static void *unpack_main(void *arg)
{
	pull_job *j = arg;
	const oci_manifest *m = j->m;
	for (;;) {
		pthread_mutex_lock(&j->lock);
		size_t i = m->n_layers;
		while (!atomic_load(&j->abort) && j->n_done < m->n_layers) {
			for (i = 0; i < m->n_layers && j->state[i] != LAYER_READY; i++)
				;
			if (i < m->n_layers)
				break;
			pthread_cond_wait(&j->cond, &j->lock);
		}
		if (atomic_load(&j->abort) || j->n_done >= m->n_layers) {
			pthread_mutex_unlock(&j->lock);
			return NULL;
		}
		j->state[i] = LAYER_UNPACKING;
		pthread_mutex_unlock(&j->lock);

		berth_err e = {0};
		int k = layer_unpack_one(j->ctx, j->s, &m->layers[i], i ? j->chains[i - 1] : NULL,
					 j->cfg->diff_ids[i], &e);
		if (k < 0) {
			progress_done(j->prog, j->prog_id[i], "failed");
			job_fail(j, &e);
			return NULL;
		}
		pthread_mutex_lock(&j->lock);
		j->state[i] = LAYER_DONE;
		j->n_done++;
		bool last = true; /* of the layers sharing this blob */
		for (size_t k2 = 0; k2 < m->n_layers; k2++)
			if (j->state[k2] != LAYER_DONE && j->prog_id[k2] == j->prog_id[i])
				last = false;
		pthread_cond_broadcast(&j->cond);
		pthread_mutex_unlock(&j->lock);
		if (last)
			progress_done(j->prog, j->prog_id[i], "done");
	}
}

static int start_threads(pthread_t *t, size_t n, void *(*fn)(void *), pull_job *j, size_t *started,
			 berth_err *e)
{
	*started = 0;
	for (size_t i = 0; i < n; i++) {
		int k = pthread_create(&t[i], NULL, fn, j);
		if (k != 0) {
			if (*started == 0)
				return berr_errno(e, -k, "Cannot start a thread for the pull");
			break;
		}
		(*started)++;
	}
	return 0;
}

/* Download every missing layer blob and unpack every layer, overlapping the two. */
static int fetch_layers(pull_job *j, int parallel, berth_err *e)
{
	const oci_manifest *m = j->m;
	size_t n = m->n_layers;
	if (n == 0)
		return 0;
	j->state = calloc(n, sizeof(*j->state));
	j->prog_id = calloc(n, sizeof(*j->prog_id));
	j->downloads = calloc(n, sizeof(*j->downloads));
	if (!j->state || !j->prog_id || !j->downloads)
		return berr(e, -ENOMEM, "Out of memory");
	for (size_t i = 0; i < n; i++) {
		const oci_descriptor *l = &m->layers[i];
		size_t first = 0;
		while (first < i && strcmp(m->layers[first].digest, l->digest) != 0)
			first++;
		if (first < i) { /* the same blob again (rare, but allowed) */
			j->prog_id[i] = j->prog_id[first];
			j->state[i] = j->state[first] == LAYER_DONE ? LAYER_READY : j->state[first];
			continue;
		}
		char label[64];
		snprintf(label, sizeof(label), "Copying blob %.12s", digest_hex(l->digest));
		j->prog_id[i] = progress_add(j->prog, label, (uint64_t)l->size);
		if (!store_has_blob(j->s, l->digest)) {
			j->state[i] = LAYER_DOWNLOAD;
			j->downloads[j->n_downloads++] = i;
		} else if (layer_is_unpacked(j->s, j->chains[i])) {
			j->state[i] = LAYER_DONE;
			j->n_done++;
			progress_done(j->prog, j->prog_id[i], "exists");
		} else {
			j->state[i] = LAYER_READY;
			progress_done(j->prog, j->prog_id[i], "unpacking");
		}
	}
	/* A repeated blob whose first use was already unpacked still needs its own unpack
	 * (another parent); count it as pending. */
	for (size_t i = 0; i < n; i++)
		if (j->state[i] == LAYER_READY && layer_is_unpacked(j->s, j->chains[i])) {
			j->state[i] = LAYER_DONE;
			j->n_done++;
		}
	if (j->n_done == n)
		return 0;

	size_t n_dl = j->n_downloads < (size_t)parallel ? j->n_downloads : (size_t)parallel;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n_up = cpus > 0 ? (size_t)cpus : 1;
	if (n_up > n - j->n_done)
		n_up = n - j->n_done;
	if (n_up > MAX_PARALLEL)
		n_up = MAX_PARALLEL;
	pthread_t dl[MAX_PARALLEL], up[MAX_PARALLEL];
	size_t dl_started = 0, up_started = 0;
	int r = start_threads(dl, n_dl, download_main, j, &dl_started, e);
	if (r == 0)
		r = start_threads(up, n_up, unpack_main, j, &up_started, e);
	if (r < 0) {
		atomic_store(&j->abort, true);
		pthread_mutex_lock(&j->lock);
		pthread_cond_broadcast(&j->cond);
		pthread_mutex_unlock(&j->lock);
	}
	for (size_t i = 0; i < dl_started; i++)
		pthread_join(dl[i], NULL);
	/* Wake unpackers waiting for downloads that will never come. */
	pthread_mutex_lock(&j->lock);
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
	for (size_t i = 0; i < up_started; i++)
		pthread_join(up[i], NULL);
	if (r < 0)
		return r;
	if (j->err.code) {
		*e = e->code ? *e : j->err;
		return e->code;
	}
	if (j->n_done != n)
		return berr(e, -EIO, "Not every layer of the image could be unpacked");
	return 0;
}

/* Refuse layers that must come from elsewhere ("urls": foreign / non-distributable). */
static int check_no_urls(const char *buf, size_t len, const char *name, berth_err *e)
{
	_cleanup_json_ json_t *j = json_loadb(buf, len, 0, NULL);
	json_t *layers = j ? json_object_get(j, "layers") : NULL;
	size_t i;
	json_t *l;
	json_array_foreach(layers, i, l)
	{
		json_t *urls = json_object_get(l, "urls");
		if (urls && !(json_is_array(urls) && json_array_size(urls) == 0))
			return berr(
			    e, -ENOTSUP,
			    "Layer %zu of %s is a foreign (non-distributable) layer that must "
			    "be downloaded from external URLs; berth does not pull those",
			    i + 1, name);
	}
	return 0;
}

/* Warn when the image's platform is not the one asked for (or this host's). */
static void check_platform(const berth_ctx *ctx, const image_config *cfg, const pull_opts *o,
			   const char *name)
{
	const char *want = o->platform ? o->platform : platform_host();
	char *os = NULL, *arch = NULL, *variant = NULL;
	berth_err ignore = {0};
	if (platform_parse(want, &os, &arch, &variant, &ignore) < 0)
		return;
	if ((cfg->os && strcmp(cfg->os, os) != 0) || (cfg->arch && strcmp(cfg->arch, arch) != 0))
		berth_warn(ctx, "Image %s is for %s/%s, not %s; it may not run here", name,
			   cfg->os ? cfg->os : "?", cfg->arch ? cfg->arch : "?", want);
	free(os);
	free(arch);
	free(variant);
}

typedef struct pull_state {
	registry *reg;
	registry_conn *conn;
	char *name;	/* for messages: registry/repository[:tag|@digest] */
	char *buf, *ct; /* current manifest document */
	size_t len;
	oci_index ix;
	oci_manifest m;
	image_config cfg;
	char *cfg_buf;
	size_t cfg_len;
	char (*chains)[DIGEST_STR_LEN];
	progress *prog;
	pull_job job;
} pull_state;

static void pull_state_free(pull_state *st)
{
	registry_conn_free(st->conn);
	registry_close(st->reg);
	free(st->name);
	free(st->buf);
	free(st->ct);
	index_free(&st->ix);
	manifest_free(&st->m);
	config_free(&st->cfg);
	free(st->cfg_buf);
	free(st->chains);
	progress_free(st->prog);
	free(st->job.state);
	free(st->job.prog_id);
	free(st->job.downloads);
	pthread_mutex_destroy(&st->job.lock);
	pthread_cond_destroy(&st->job.cond);
}

/* Resolve the reference to one image manifest in st->buf (following an index). */
static int resolve_manifest(const berth_ctx *ctx, berth_store *s, const berth_ref *ref,
			    const pull_opts *o, pull_state *st, berth_err *e)
{
	const char *reference = ref->digest ? ref->digest : ref->tag ? ref->tag : "latest";
	int k = registry_get_manifest(st->conn, reference, &st->buf, &st->len, &st->ct, e);
	if (k < 0)
		return k;
	manifest_kind kind = manifest_detect(st->buf, st->len, st->ct);
	if (kind == MANIFEST_INDEX) {
		char ixd[DIGEST_STR_LEN];
		k = index_parse(st->buf, st->len, &st->ix, e);
		if (k < 0)
			return berr_prefix(e, "%s", st->name);
		k = index_select_platform(&st->ix, o->platform, e);
		if (k < 0)
			return berr_prefix(e, "%s", st->name);
		const oci_descriptor *d = &st->ix.manifests[k];
		berth_debug(ctx, "index of %s: picked %s for %s/%s%s%s", st->name, d->digest,
			    d->os ? d->os : "?", d->arch ? d->arch : "?", d->variant ? "/" : "",
			    d->variant ? d->variant : "");
		if (store_write_blob(s, st->buf, st->len, NULL, ixd, e) < 0)
			return e->code;
		free(st->buf);
		free(st->ct);
		st->buf = st->ct = NULL;
		k = registry_get_manifest(st->conn, d->digest, &st->buf, &st->len, &st->ct, e);
		if (k < 0)
			return k;
		if ((int64_t)st->len != d->size)
			return berr(e, -EBADMSG,
				    "Manifest %s of %s is %zu bytes, but the index says %lld; the "
				    "registry sent corrupt or hostile data",
				    d->digest, st->name, st->len, (long long)d->size);
		kind = manifest_detect(st->buf, st->len, st->ct);
		if (kind != MANIFEST_IMAGE)
			return berr(
			    e, -EBADMSG,
			    "The index of %s points at %s, which is not an image manifest; the "
			    "image is corrupt",
			    st->name, d->digest);
	} else if (kind != MANIFEST_IMAGE) {
		_cleanup_free_ char *ct = NULL;
		if (st->ct)
			ct = strndup(st->ct, 100);
		return berr(e, -EMEDIUMTYPE,
			    "Registry %s sent a document for %s that is neither an image manifest "
			    "nor an index (Content-Type '%s'); berth cannot pull it",
			    registry_display(st->reg), st->name, ct ? ct : "none");
	}
	k = manifest_parse(st->buf, st->len, &st->m, e);
	if (k < 0)
		return berr_prefix(e, "%s", st->name);
	return check_no_urls(st->buf, st->len, st->name, e);
}

static int fetch_config(berth_store *s, pull_state *st, progress *p, berth_err *e)
{
	const oci_descriptor *c = &st->m.config;
	char label[64];
	snprintf(label, sizeof(label), "Copying config %.12s", digest_hex(c->digest));
	int id = progress_add(p, label, (uint64_t)c->size);
	int k;
	if (store_has_blob(s, c->digest)) {
		k = store_read_blob(s, c->digest, MANIFEST_MAX_SIZE, &st->cfg_buf, &st->cfg_len, e);
		if (k < 0)
			return k;
		progress_done(p, id, "exists");
	} else {
		k = registry_get_blob(st->conn, c->digest, c->size, MANIFEST_MAX_SIZE, &st->cfg_buf,
				      &st->cfg_len, e);
		if (k < 0)
			return k;
		char got[DIGEST_STR_LEN];
		k = store_write_blob(s, st->cfg_buf, st->cfg_len, c->digest, got, e);
		if (k < 0)
			return k;
		progress_update(p, id, st->cfg_len);
		progress_done(p, id, "done");
	}
	k = config_parse(st->cfg_buf, st->cfg_len, &st->cfg, e);
	if (k < 0)
		return berr_prefix(e, "%s", st->name);
	if (st->cfg.n_diff_ids != st->m.n_layers)
		return berr(
		    e, -EBADMSG,
		    "Image %s lists %zu layers but its config lists %zu diff ids; the image "
		    "is corrupt",
		    st->name, st->m.n_layers, st->cfg.n_diff_ids);
	return 0;
}

/* The name the image is tagged with: the normalised ref without a digest when it has a tag,
 * else "name@digest". */
static char *tag_name(const berth_ref *ref)
{
	if (!ref->tag)
		return ref_format(ref);
	berth_ref r = *ref;
	r.digest = NULL;
	return ref_format(&r);
}

/* A pull by digest of an image the store has whole (manifest, config, every layer's blob
 * stored and unpacked), under that digest or as the source digest of a converted manifest:
 * name it and skip the registry. Returns 1 when done, 0 to pull, or a negative errno. */
static int pull_from_store(const berth_ctx *ctx, berth_store *s, const berth_ref *ref,
			   const char *tag, char manifest_digest[DIGEST_STR_LEN], berth_err *e)
{
	if (!ref->digest)
		return 0;
	berth_err ignore = {0};
	_cleanup_free_ char *d = NULL;
	if (store_resolve(s, ref->digest, &d, NULL, &ignore) < 0)
		return 0;
	stored_image img = {0};
	if (stored_image_load(s, d, &img, &ignore) < 0)
		return 0;
	char(*chains)[DIGEST_STR_LEN] = NULL;
	bool whole = image_chain_ids(&img.config, &chains, &ignore) == 0;
	for (size_t i = 0; whole && i < img.manifest.n_layers; i++)
		whole = store_has_blob(s, img.manifest.layers[i].digest) &&
			layer_is_unpacked(s, chains[i]);
	free(chains);
	int k = 0;
	if (whole) {
		berth_debug(ctx, "%s is already in the store as %s", ref->digest, d);
		k = store_tag(s, tag, d, img.manifest.media_type, img.manifest_size, e);
		if (k == 0) {
			memcpy(manifest_digest, d, DIGEST_STR_LEN);
			k = 1;
		}
	}
	stored_image_free(&img);
	return k;
}

/* The manifest as the store keeps it: st->buf itself when it is OCI, else (Docker schema 2)
 * a converted copy, written to the store. md gets the stored digest, *mt and *len its media
 * type and size. */
static int store_manifest(berth_store *s, pull_state *st, const char *source_digest,
			  char md[DIGEST_STR_LEN], const char **mt, size_t *len, berth_err *e)
{
	if (!manifest_is_docker(&st->m)) {
		*mt = st->m.media_type;
		*len = st->len;
		return store_write_blob(s, st->buf, st->len, source_digest, md, e);
	}
	_cleanup_free_ char *oci = NULL;
	int k = manifest_to_oci(&st->m, &oci, len, e);
	if (k < 0)
		return berr_prefix(e, "%s", st->name);
	*mt = MT_OCI_MANIFEST;
	return store_write_blob(s, oci, *len, NULL, md, e);
}

int image_pull(const berth_ctx *ctx, berth_store *s, const berth_ref *ref, const pull_opts *o,
	       char manifest_digest[DIGEST_STR_LEN], berth_err *e)
{
	pull_state st = {0};
	pthread_mutex_init(&st.job.lock, NULL);
	pthread_cond_init(&st.job.cond, NULL);
	atomic_init(&st.job.abort, false);
	int k = 0;
	int parallel = o->parallel > 0 ? o->parallel : DEFAULT_PARALLEL;
	if (parallel > MAX_PARALLEL)
		parallel = MAX_PARALLEL;

	/* libcurl runs with CURLOPT_NOSIGNAL (threads), so it cannot shield writes to a socket
	 * the registry closed: take SIGPIPE as EPIPE instead of dying. */
	signal(SIGPIPE, SIG_IGN);
	st.name = ref_format(ref);
	_cleanup_free_ char *tag = tag_name(ref);
	if (!st.name || !tag) {
		k = berr(e, -ENOMEM, "Out of memory");
		goto out;
	}
	st.prog = progress_new(ctx->tty && !ctx->quiet && !ctx->json);
	if (!st.prog) {
		k = berr(e, -ENOMEM, "Out of memory");
		goto out;
	}
	k = pull_from_store(ctx, s, ref, tag, manifest_digest, e);
	if (k != 0)
		goto out;
	k = registry_open(ctx, ref, o->tls_verify, &st.job.abort, &st.reg, e);
	if (k < 0)
		goto out;
	st.conn = registry_conn_new(st.reg, e);
	if (!st.conn) {
		k = e->code;
		goto out;
	}
	k = resolve_manifest(ctx, s, ref, o, &st, e);
	if (k < 0)
		goto out;
	char md[DIGEST_STR_LEN];
	sha256_buf(st.buf, st.len, md);
	berth_debug(ctx, "manifest of %s: %s, %zu layers", st.name, md, st.m.n_layers);

	k = fetch_config(s, &st, st.prog, e);
	if (k < 0)
		goto out;
	check_platform(ctx, &st.cfg, o, st.name);
	k = image_chain_ids(&st.cfg, &st.chains, e);
	if (k < 0)
		goto out;

	st.job.ctx = ctx;
	st.job.s = s;
	st.job.reg = st.reg;
	st.job.m = &st.m;
	st.job.cfg = &st.cfg;
	st.job.chains = st.chains;
	st.job.prog = st.prog;
	k = fetch_layers(&st.job, parallel, e);
	if (k < 0)
		goto out;

	char stored[DIGEST_STR_LEN];
	const char *mt = NULL;
	size_t len = 0;
	k = store_manifest(s, &st, md, stored, &mt, &len, e);
	if (k < 0)
		goto out;
	if (strcmp(stored, md) != 0)
		berth_debug(ctx, "manifest of %s stored as OCI manifest %s", st.name, stored);
	k = store_tag_source(s, tag, stored, mt, (int64_t)len, md, e);
	if (k < 0)
		goto out;
	memcpy(manifest_digest, stored, DIGEST_STR_LEN);
out:
	pull_state_free(&st);
	return k < 0 ? k : 0;
}
