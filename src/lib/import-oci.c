/* SPDX-License-Identifier: MIT */
/*
 * OCI image layouts, as a directory or inside an archive: pick the image from index.json
 * (by name as skopeo's oci:DIR:NAME does, else the only one, else by this host's
 * platform), follow nested indexes to the host's platform, and copy the manifest, config
 * and layers into the store, each verified against its digest. A Docker schema 2 manifest
 * is stored converted to OCI, as pull stores it.
 */
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "import-internal.h"
#include "manifest-convert.h"
#include "ref.h"

#define ANNOTATION_CONTAINERD_NAME "io.containerd.image.name"

int oci_layout_check(const char *buf, size_t len, const char *where, berth_err *e)
{
	_cleanup_json_ json_t *j = json_loadb(buf, len, 0, NULL);
	const char *v = json_string_value(json_object_get(j, "imageLayoutVersion"));
	if (!v)
		return berr(e, -EBADMSG,
			    "The oci-layout file of %s is not valid (no imageLayoutVersion); it is "
			    "not an OCI image layout",
			    where);
	if (strncmp(v, "1.", 2) != 0)
		return berr(e, -ENOTSUP,
			    "%s is an OCI image layout of version %.20s, which berth does not "
			    "read (it reads version 1)",
			    where, v);
	return 0;
}

static const char *annotation(json_t *m, const char *key)
{
	return json_string_value(json_object_get(json_object_get(m, "annotations"), key));
}

/* The name to show for an index entry: containerd's full name when there is one (docker
 * save writes ref.name "latest" next to it), else ref.name. */
static const char *entry_name(json_t *m)
{
	const char *n = annotation(m, ANNOTATION_CONTAINERD_NAME);
	return n ? n : annotation(m, ANNOTATION_REF_NAME);
}

/* Does the ref.name of an index entry match what the user asked for? Exact text, or
 * the same reference once both are normalised. */
static bool name_matches(const char *have, const char *want)
{
	if (!have)
		return false;
	if (!strcmp(have, want))
		return true;
	berth_err ignore = {0};
	_cleanup_free_ char *a = import_normalise_ref(have, &ignore);
	berr_clear(&ignore);
	_cleanup_free_ char *b = import_normalise_ref(want, &ignore);
	return a && b && !strcmp(a, b);
}

static char *list_names(json_t *manifests)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	size_t i, n = 0;
	json_t *m;
	json_array_foreach(manifests, i, m)
	{
		const char *name = entry_name(m);
		if (n++ >= 20) {
			fputs(", ...", f);
			break;
		}
		fprintf(f, "%s%.100s", n > 1 ? ", " : "", name ? name : "(unnamed)");
	}
	fclose(f);
	return out;
}

/* The image's own name: its ref.name when that is a full reference (a bare "latest"
 * is not), else containerd's name annotation. */
static int set_archive_name(import_job *job, json_t *m, berth_err *e)
{
	json_t *ann = json_object_get(m, "annotations");
	const char *keys[] = {ANNOTATION_REF_NAME, ANNOTATION_CONTAINERD_NAME};
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *v = json_string_value(json_object_get(ann, keys[i]));
		if (!v || !import_ref_is_full(v))
			continue;
		berth_err ignore = {0};
		job->archive_name = import_normalise_ref(v, &ignore);
		if (job->archive_name)
			return 0;
	}
	(void)e;
	return 0;
}

/* Choose the entry of index.json to import. */
static int select_entry(import_job *job, json_t *manifests, json_t **out, berth_err *e)
{
	size_t n = json_array_size(manifests);
	if (n == 0)
		return berr(e, -ENOENT, "The index.json of %s lists no images", job->path);
	_cleanup_json_ json_t *cands = json_array();
	if (!cands)
		return berr(e, -ENOMEM, "Out of memory");
	size_t i;
	json_t *m;
	json_array_foreach(manifests, i, m)
	{
		if (!json_is_object(m))
			return berr(e, -EBADMSG,
				    "The index.json of %s has an entry that is not an "
				    "object; the layout is corrupt",
				    job->path);
		if (!job->name || name_matches(annotation(m, ANNOTATION_REF_NAME), job->name) ||
		    name_matches(annotation(m, ANNOTATION_CONTAINERD_NAME), job->name))
			json_array_append(cands, m);
	}
	size_t nc = json_array_size(cands);
	if (nc == 0) {
		_cleanup_free_ char *names = list_names(manifests);
		return berr(e, -ENOENT, "%s has no image named '%s'; it has: %s", job->path,
			    job->name, names ? names : "(out of memory)");
	}
	if (nc == 1) {
		*out = json_array_get(cands, 0);
		return 0;
	}
	/* Several: the same image for several platforms, or several images. */
	json_array_foreach(cands, i, m)
	{
		if (!json_is_object(json_object_get(m, "platform"))) {
			_cleanup_free_ char *names = list_names(cands);
			return berr(e, -EINVAL, "%s holds %zu images (%s); pick one with %s:NAME",
				    job->path, nc, names ? names : "(out of memory)", job->path);
		}
	}
	_cleanup_json_ json_t *doc = json_pack("{s:i,s:O}", "schemaVersion", 2, "manifests", cands);
	_cleanup_free_ char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (!text)
		return berr(e, -ENOMEM, "Out of memory");
	oci_index ix = {0};
	int r = index_parse(text, strlen(text), &ix, e);
	if (r < 0)
		return berr_prefix(e, "The index.json of %s", job->path);
	int k = index_select_platform(&ix, NULL, e);
	index_free(&ix);
	if (k < 0)
		return berr_prefix(e, "%s", job->path);
	*out = json_array_get(cands, (size_t)k);
	return 0;
}

/* Record the manifest to tag: as it is when it is OCI, else (Docker schema 2, which some
 * tools write into layouts) converted to OCI, as pull does, keeping its digest as the
 * source digest. */
static int store_converted(import_job *job, const oci_manifest *m, const char *digest, int64_t len,
			   berth_err *e)
{
	if (!manifest_is_docker(m))
		return import_set_manifest(job, digest, m->media_type, len, e);
	_cleanup_free_ char *oci = NULL;
	size_t oci_len = 0;
	int r = manifest_to_oci(m, &oci, &oci_len, e);
	if (r < 0)
		return berr_prefix(e, "Manifest %s in %s", digest, job->path);
	char stored[DIGEST_STR_LEN];
	r = store_write_blob(job->s, oci, oci_len, NULL, stored, e);
	if (r < 0)
		return r;
	memcpy(job->source_digest, digest, DIGEST_STR_LEN);
	return import_set_manifest(job, stored, MT_OCI_MANIFEST, (int64_t)oci_len, e);
}

int oci_import_index(import_job *job, const char *index_buf, size_t index_len,
		     import_fetch_fn fetch, void *opaque, berth_err *e)
{
	json_error_t jerr;
	_cleanup_json_ json_t *ix = json_loadb(index_buf, index_len, 0, &jerr);
	if (!ix)
		return berr(e, -EBADMSG, "The index.json of %s is not valid JSON (line %d: %s)",
			    job->path, jerr.line, jerr.text);
	json_t *manifests = json_object_get(ix, "manifests");
	if (!json_is_array(manifests))
		return berr(e, -EBADMSG,
			    "The index.json of %s has no manifests list; it is not an "
			    "OCI image index",
			    job->path);
	json_t *chosen = NULL;
	int r = select_entry(job, manifests, &chosen, e);
	if (r < 0)
		return r;
	r = set_archive_name(job, chosen, e);
	if (r < 0)
		return r;

	const char *d = json_string_value(json_object_get(chosen, "digest"));
	const char *mt0 = json_string_value(json_object_get(chosen, "mediaType"));
	json_t *jsize = json_object_get(chosen, "size");
	if (!digest_valid(d) || !json_is_integer(jsize) || json_integer_value(jsize) < 0)
		return berr(e, -EBADMSG,
			    "The index.json of %s has an entry without a valid sha256 digest and "
			    "size; the layout is corrupt or uses an unsupported digest",
			    job->path);
	char digest[DIGEST_STR_LEN];
	snprintf(digest, sizeof(digest), "%s", d);
	_cleanup_free_ char *mt = mt0 ? strdup(mt0) : NULL;
	int64_t size = json_integer_value(jsize);

	for (int depth = 0; depth <= IMPORT_MAX_INDEX_DEPTH; depth++) {
		r = fetch(job, opaque, digest, size, e);
		if (r < 0)
			return r;
		_cleanup_free_ char *buf = NULL;
		size_t len = 0;
		r = store_read_blob(job->s, digest, MANIFEST_MAX_SIZE, &buf, &len, e);
		if (r < 0)
			return r;
		manifest_kind kind = manifest_detect(buf, len, mt);
		if (kind == MANIFEST_INDEX) {
			oci_index sub = {0};
			r = index_parse(buf, len, &sub, e);
			if (r < 0)
				return berr_prefix(e, "Index %s in %s", digest, job->path);
			int k = index_select_platform(&sub, NULL, e);
			if (k < 0) {
				index_free(&sub);
				return berr_prefix(e, "%s", job->path);
			}
			oci_descriptor *sd = &sub.manifests[k];
			snprintf(digest, sizeof(digest), "%s", sd->digest);
			size = sd->size;
			free(mt);
			mt = sd->media_type ? strdup(sd->media_type) : NULL;
			index_free(&sub);
			continue;
		}
		if (kind != MANIFEST_IMAGE)
			return berr(e, -EBADMSG,
				    "Blob %s in %s is neither an image manifest nor an index",
				    digest, job->path);
		oci_manifest m = {0};
		r = manifest_parse(buf, len, &m, e);
		if (r < 0)
			return berr_prefix(e, "Manifest %s in %s", digest, job->path);
		r = fetch(job, opaque, m.config.digest, m.config.size, e);
		for (size_t i = 0; r >= 0 && i < m.n_layers; i++)
			r = fetch(job, opaque, m.layers[i].digest, m.layers[i].size, e);
		if (r >= 0)
			r = store_converted(job, &m, digest, (int64_t)len, e);
		manifest_free(&m);
		return r;
	}
	return berr(e, -ELOOP, "Indexes in %s nest more than %d deep", job->path,
		    IMPORT_MAX_INDEX_DEPTH);
}

/* ---- a layout directory ---- */

static int open_in_layout(int dirfd, const char *name)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

static int fetch_dir(import_job *job, void *opaque, const char *digest, int64_t size, berth_err *e)
{
	int dirfd = *(int *)opaque;
	if (!digest_valid(digest))
		return berr(e, -EBADMSG, "%s names a blob '%s' that is not a sha256 digest",
			    job->path, digest);
	if (store_has_blob(job->s, digest))
		return 0;
	char rel[DIGEST_HEX_LEN + 16];
	snprintf(rel, sizeof(rel), "blobs/sha256/%s", digest_hex(digest));
	_cleanup_close_ int fd = open_in_layout(dirfd, rel);
	if (fd == -ENOENT)
		return berr(e, -ENOENT,
			    "Blob %s is missing from %s (no %s); the layout is incomplete", digest,
			    job->path, rel);
	if (fd < 0)
		return berr_errno(e, fd, "Cannot open %s/%s", job->path, rel);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return berr_errno(e, -errno, "Cannot stat %s/%s", job->path, rel);
	if (!S_ISREG(st.st_mode))
		return berr(e, -EBADMSG, "%s/%s is not a regular file; the layout is corrupt",
			    job->path, rel);
	return import_copy_fd_blob(job, fd, digest, size, job->path, e);
}

static int read_layout_file(import_job *job, int dirfd, const char *name, char **buf, size_t *len,
			    berth_err *e)
{
	_cleanup_close_ int fd = open_in_layout(dirfd, name);
	if (fd < 0)
		return berr_errno(e, fd, "Cannot open %s/%s", job->path, name);
	char what[64];
	snprintf(what, sizeof(what), "%s", name);
	int r = import_read_small(fd, MANIFEST_MAX_SIZE, buf, len, what, e);
	return r < 0 ? berr_prefix(e, "In %s", job->path) : 0;
}

int import_oci_dir(import_job *job, int dirfd, berth_err *e)
{
	_cleanup_free_ char *layout = NULL, *index = NULL;
	size_t layout_len = 0, index_len = 0;
	int r = read_layout_file(job, dirfd, "oci-layout", &layout, &layout_len, e);
	if (r < 0)
		return r;
	r = oci_layout_check(layout, layout_len, job->path, e);
	if (r < 0)
		return r;
	r = read_layout_file(job, dirfd, "index.json", &index, &index_len, e);
	if (r < 0)
		return r;
	return oci_import_index(job, index, index_len, fetch_dir, &dirfd, e);
}

/* ---- an archive ---- */

static int fetch_archive(import_job *job, void *opaque, const char *digest, int64_t size,
			 berth_err *e)
{
	tar_scan *ts = opaque;
	if (!digest_valid(digest))
		return berr(e, -EBADMSG, "%s names a blob '%s' that is not a sha256 digest",
			    job->path, digest);
	char rel[DIGEST_HEX_LEN + 16];
	snprintf(rel, sizeof(rel), "blobs/sha256/%s", digest_hex(digest));
	tar_entry *te = NULL;
	int r = tar_lookup(ts, job->path, "The image", rel, &te, e);
	if (r == -ENOENT && store_has_blob(job->s, digest)) {
		berr_clear(e);
		return 0;
	}
	if (r < 0)
		return r;
	if (strcmp(te->digest, digest) != 0 || (size >= 0 && te->size != (uint64_t)size))
		return berr(e, -EBADMSG,
			    "Blob %s in %s is corrupt: it has %llu bytes hashing to %s (expected "
			    "%lld bytes)",
			    digest, job->path, (unsigned long long)te->size, te->digest,
			    (long long)size);
	return tar_commit_entry(job, te, e);
}

int import_oci_archive(import_job *job, tar_scan *ts, berth_err *e)
{
	int r = oci_layout_check(ts->oci_layout, strlen(ts->oci_layout), job->path, e);
	if (r < 0)
		return r;
	return oci_import_index(job, ts->index_json, ts->index_json_len, fetch_archive, ts, e);
}
