/* SPDX-License-Identifier: MIT */
/* Garbage collection of the store: mark from index.json and holds/, sweep the rest. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "layers.h"
#include "manifest.h"
#include "store.h"

typedef struct mark_set {
	char **items; /* hex strings */
	size_t n, cap;
} mark_set;

static int mark_add(mark_set *m, const char *hex)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->items[i], hex))
			return 0;
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;
		char **items = realloc(m->items, cap * sizeof(char *));
		if (!items)
			return -ENOMEM;
		m->items = items;
		m->cap = cap;
	}
	m->items[m->n] = strdup(hex);
	if (!m->items[m->n])
		return -ENOMEM;
	m->n++;
	return 0;
}

static bool mark_has(const mark_set *m, const char *hex)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->items[i], hex))
			return true;
	return false;
}

static void mark_free(mark_set *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->items[i]);
	free(m->items);
}

/* Mark a manifest (or index) and everything it reaches. Missing or corrupt blobs are
 * skipped: prune must never fail because something is already broken. */
static int mark_manifest(berth_store *s, const char *digest, mark_set *blobs, mark_set *layers,
			 int depth)
{
	if (!digest_valid(digest) || depth > 8)
		return 0;
	int r = mark_add(blobs, digest_hex(digest));
	if (r < 0)
		return r;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	berth_err ignored = {0};
	if (store_read_blob(s, digest, MANIFEST_MAX_SIZE, &buf, &len, &ignored) < 0)
		return 0;
	manifest_kind kind = manifest_detect(buf, len, NULL);
	if (kind == MANIFEST_INDEX) {
		oci_index ix = {0};
		if (index_parse(buf, len, &ix, &ignored) == 0)
			for (size_t i = 0; i < ix.n_manifests && r == 0; i++)
				if (store_has_blob(s, ix.manifests[i].digest))
					r = mark_manifest(s, ix.manifests[i].digest, blobs, layers,
							  depth + 1);
		index_free(&ix);
		return r;
	}
	oci_manifest m = {0};
	if (manifest_parse(buf, len, &m, &ignored) < 0) {
		manifest_free(&m);
		return 0;
	}
	r = mark_add(blobs, digest_hex(m.config.digest));
	for (size_t i = 0; i < m.n_layers && r == 0; i++)
		r = mark_add(blobs, digest_hex(m.layers[i].digest));
	_cleanup_free_ char *cbuf = NULL;
	image_config cfg = {0};
	if (r == 0 &&
	    store_read_blob(s, m.config.digest, MANIFEST_MAX_SIZE, &cbuf, &len, &ignored) == 0 &&
	    config_parse(cbuf, len, &cfg, &ignored) == 0) {
		char(*chains)[DIGEST_STR_LEN] = NULL;
		if (image_chain_ids(&cfg, &chains, &ignored) == 0) {
			for (size_t i = 0; i < cfg.n_diff_ids && r == 0; i++)
				r = mark_add(layers, digest_hex(chains[i]));
			free(chains);
		}
	}
	config_free(&cfg);
	manifest_free(&m);
	return r;
}

static int mark_holds(berth_store *s, mark_set *blobs, mark_set *layers, berth_err *e)
{
	int fd = openat(s->holds_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berr_errno(e, -errno, "Cannot read %s/holds", s->root);
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return berr_errno(e, -errno, "Cannot read %s/holds", s->root);
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_close_ int hf =
		    openat(s->holds_fd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (hf < 0)
			continue;
		_cleanup_fclose_ FILE *f = fdopen(hf, "r");
		if (!f)
			continue;
		hf = -1;
		char line[256];
		while (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\r\n")] = 0;
			int r = mark_manifest(s, line, blobs, layers, 0);
			if (r < 0)
				return berr(e, r, "Out of memory while pruning");
		}
	}
	return 0;
}

/* Remove every entry of dirfd not in keep (keep NULL: remove all but dotfiles). */
static int sweep_dir(berth_store *s, int dirfd, const char *what, const mark_set *keep,
		     bool count_as_layers, prune_report *rep, berth_err *e)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berr_errno(e, -errno, "Cannot read %s/%s", s->root, what);
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return berr_errno(e, -errno, "Cannot read %s/%s", s->root, what);
	}
	struct dirent *de;
	int r = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (keep && mark_has(keep, de->d_name))
			continue;
		struct stat st;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			rep->bytes += (uint64_t)st.st_size;
		int q = rm_rf_at(dirfd, de->d_name, e);
		if (q < 0 && s->rm_foreign) {
			berr_clear(e);
			q = s->rm_foreign(dirfd, de->d_name, e);
		}
		if (q < 0) {
			r = q;
			continue;
		}
		if (keep && count_as_layers)
			rep->layers++;
		else if (keep)
			rep->blobs++;
	}
	return r;
}

int store_prune(berth_store *s, bool wait, prune_report *rep, berth_err *e)
{
	*rep = (prune_report){0};
	/* Wait for every other berth process using the store to finish: they may be writing
	 * blobs and layers that nothing references yet. */
	while (flock(s->gc_fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK)
			return -EAGAIN;
		return berr_errno(e, -errno, "Cannot lock the store %s for pruning", s->root);
	}
	int r;
	/* Declared before the first goto: jumping past a cleanup variable's initialisation
	 * would free garbage (and clang refuses to compile it). */
	mark_set blobs = {0}, layers = {0};
	_cleanup_json_ json_t *index = NULL;
	_cleanup_close_ int lk = store_lock(s, true, e);
	if (lk < 0) {
		r = lk;
		goto out;
	}
	r = store_index_load(s, &index, e);
	if (r < 0)
		goto out_marks;
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(index, "manifests"), i, m)
	{
		r = mark_manifest(s, json_string_value(json_object_get(m, "digest")), &blobs,
				  &layers, 0);
		if (r < 0) {
			r = berr(e, r, "Out of memory while pruning");
			goto out_marks;
		}
	}
	r = mark_holds(s, &blobs, &layers, e);
	if (r < 0)
		goto out_marks;
	r = sweep_dir(s, s->blobs_fd, "store/blobs/sha256", &blobs, false, rep, e);
	if (r == 0)
		r = sweep_dir(s, s->layers_fd, "layers", &layers, true, rep, e);
	/* Nobody else has the store open: partial downloads and scratch space are stale. */
	if (r == 0)
		r = sweep_dir(s, s->ingest_fd, "ingest", NULL, false, rep, e);
	if (r == 0)
		r = sweep_dir(s, s->tmp_fd, "tmp", NULL, false, rep, e);
out_marks:
	mark_free(&blobs);
	mark_free(&layers);
out:
	flock(s->gc_fd, LOCK_SH);
	return r;
}

int store_hold_list(berth_store *s, const char *manifest_digest, char ***holders, berth_err *e)
{
	*holders = NULL;
	int fd = openat(s->holds_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berr_errno(e, -errno, "Cannot read %s/holds", s->root);
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return berr_errno(e, -errno, "Cannot read %s/holds", s->root);
	}
	size_t n = 0;
	char **list = calloc(1, sizeof(char *));
	if (!list)
		return berr(e, -ENOMEM, "Out of memory");
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_close_ int hf =
		    openat(s->holds_fd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (hf < 0)
			continue;
		char buf[4096];
		ssize_t len = read(hf, buf, sizeof(buf) - 1);
		if (len <= 0)
			continue;
		buf[len] = 0;
		if (!strstr(buf, manifest_digest))
			continue;
		char **nl = realloc(list, (n + 2) * sizeof(char *));
		if (!nl || !(nl[n] = strdup(de->d_name))) {
			list = nl ? nl : list;
			list[n] = NULL;
			strvfreep(&list);
			return berr(e, -ENOMEM, "Out of memory");
		}
		list = nl;
		list[++n] = NULL;
	}
	*holders = list;
	return (int)n;
}
