/* SPDX-License-Identifier: MIT */
/*
 * One pass over an archive to import: is it a tar at all, an OCI archive, a docker
 * archive or a root filesystem? For image archives the regular files are spooled into
 * a scratch directory as they stream by (entries may come in any order, and
 * manifest.json usually comes last), and listed with their digests. Names in the
 * archive are only ever looked up, never used as paths on the host.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "import-internal.h"

static void archive_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/*
 * Normalise a path inside an archive: drop a leading "/" or "./", empty and "."
 * components. ".." is allowed only with allow_dotdot (then it pops a component), and
 * never past the top. Returns NULL when the name leaves the archive or out of memory.
 */
static char *norm_path(const char *base, const char *p, bool allow_dotdot)
{
	size_t bl = base ? strlen(base) : 0, pl = strlen(p);
	_cleanup_free_ char *in = malloc(bl + pl + 2);
	_cleanup_free_ char *out = malloc(bl + pl + 2);
	if (!in || !out)
		return NULL;
	snprintf(in, bl + pl + 2, "%s%s%s", base && *p != '/' ? base : "",
		 base && *base && *p != '/' ? "/" : "", p);
	size_t o = 0;
	for (char *save = NULL, *c = strtok_r(in, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			if (!allow_dotdot || o == 0)
				return NULL;
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		if (o)
			out[o++] = '/';
		size_t n = strlen(c);
		memcpy(out + o, c, n);
		o += n;
	}
	out[o] = 0;
	return TAKE_PTR(out);
}

/* Names an OCI or docker archive has: the marker files, blobs/<alg>/<hex>, and docker's
 * <hex>.json, <hex>.tar, <hex>/layer.tar, <hex>/json, <hex>/VERSION. */
static bool image_archive_name(const char *n)
{
	static const char *const top[] = {"oci-layout", "index.json", "manifest.json",
					  "repositories", "blobs"};
	for (size_t i = 0; i < ARRAY_SIZE(top); i++)
		if (!strcmp(n, top[i]))
			return true;
	if (!strncmp(n, "blobs/", 6)) {
		const char *alg = n + 6, *slash = strchr(alg, '/');
		return !slash || (slash > alg && !strchr(slash + 1, '/'));
	}
	size_t l = strlen(n);
	if (l < DIGEST_HEX_LEN || !is_hex(n, DIGEST_HEX_LEN))
		return false;
	const char *rest = n + DIGEST_HEX_LEN;
	if (!*rest)
		return true;
	if (*rest == '.')
		return !strchr(rest, '/');
	return *rest == '/' && rest[1] && !strchr(rest + 1, '/');
}

static bool is_marker(const char *n)
{
	return !strcmp(n, "oci-layout") || !strcmp(n, "index.json") || !strcmp(n, "manifest.json");
}

static int read_entry_mem(struct archive *a, const char *name, char **out, size_t *len,
			  const char *path, berth_err *e)
{
	if (*out)
		return berr(e, -EBADMSG,
			    "%s has '%s' more than once; the archive is corrupt or "
			    "hostile",
			    path, name);
	size_t cap = 4096, got = 0;
	_cleanup_free_ char *b = malloc(cap + 1);
	if (!b)
		return berr(e, -ENOMEM, "Out of memory");
	for (;;) {
		if (got == cap) {
			if (cap >= MANIFEST_MAX_SIZE)
				return berr(e, -EFBIG,
					    "'%s' in %s is larger than %d bytes; it is not a valid "
					    "image archive",
					    name, path, MANIFEST_MAX_SIZE);
			cap *= 2;
			char *nb = realloc(b, cap + 1);
			if (!nb)
				return berr(e, -ENOMEM, "Out of memory");
			b = nb;
		}
		la_ssize_t n = archive_read_data(a, b + got, cap - got);
		if (n < 0)
			return berr(e, -EIO, "Cannot read '%s' from %s: %s", name, path,
				    archive_error_string(a));
		if (n == 0)
			break;
		got += (size_t)n;
	}
	b[got] = 0;
	*out = TAKE_PTR(b);
	*len = got;
	return 0;
}

static int spool_entry(import_job *job, struct archive *a, tar_entry *te, berth_err *e)
{
	spool sp;
	int r = spool_open(job, &sp, e);
	if (r < 0)
		return r;
	static const size_t bufsz = 1 << 20;
	_cleanup_free_ char *buf = malloc(bufsz);
	if (!buf) {
		spool_close(&sp);
		return berr(e, -ENOMEM, "Out of memory");
	}
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, bufsz);
		if (n < 0) {
			spool_close(&sp);
			return berr(e, -EIO, "Cannot read '%s' from %s: %s", te->name, job->path,
				    archive_error_string(a));
		}
		if (n == 0)
			break;
		r = spool_write(&sp, buf, (size_t)n, e);
		if (r < 0) {
			spool_close(&sp);
			return r;
		}
	}
	spool_finish(&sp, te->digest);
	te->size = sp.size;
	memcpy(te->head, sp.head, sp.head_len);
	te->head_len = sp.head_len;
	memcpy(te->spool_name, sp.name, sizeof(te->spool_name));
	spool_close(&sp);
	/* A blob named by its digest must have that digest. */
	static const char prefix[] = "blobs/sha256/";
	if (strncmp(te->name, prefix, sizeof(prefix) - 1) != 0)
		return 0;
	const char *hex = te->name + sizeof(prefix) - 1;
	if (strlen(hex) == DIGEST_HEX_LEN && is_hex(hex, DIGEST_HEX_LEN) &&
	    strcmp(digest_hex(te->digest), hex) != 0)
		return berr(
		    e, -EBADMSG,
		    "Blob sha256:%s in %s is corrupt: its content hashes to %s; the archive "
		    "was damaged or tampered with",
		    hex, job->path, te->digest);
	return 0;
}

static int add_entry(import_job *job, struct archive *a, struct archive_entry *ent,
		     const char *name, tar_scan *ts, berth_err *e)
{
	if (ts->n_entries >= IMPORT_MAX_ENTRIES)
		return berr(e, -E2BIG,
			    "%s has more than %d entries; it is not an image archive "
			    "berth accepts",
			    job->path, IMPORT_MAX_ENTRIES);
	tar_entry *ne = realloc(ts->entries, (ts->n_entries + 1) * sizeof(*ne));
	if (!ne)
		return berr(e, -ENOMEM, "Out of memory");
	ts->entries = ne;
	tar_entry *te = &ts->entries[ts->n_entries];
	*te = (tar_entry){.name = strdup(name)};
	if (!te->name)
		return berr(e, -ENOMEM, "Out of memory");
	ts->n_entries++;
	const char *hl = archive_entry_hardlink(ent);
	mode_t type = archive_entry_filetype(ent);
	if (hl) {
		te->type = ENTRY_HARDLINK;
		te->target = strdup(hl);
	} else if (type == AE_IFLNK) {
		const char *t = archive_entry_symlink(ent);
		te->type = ENTRY_SYMLINK;
		te->target = strdup(t ? t : "");
	} else if (type == AE_IFREG) {
		te->type = ENTRY_FILE;
		return spool_entry(job, a, te, e);
	} else {
		te->type = ENTRY_OTHER;
		return 0;
	}
	return te->target ? 0 : berr(e, -ENOMEM, "Out of memory");
}

int tar_scan_fd(import_job *job, int fd, uint64_t file_size, tar_scan *ts, berth_err *e)
{
	*ts = (tar_scan){0};
	if (lseek(fd, 0, SEEK_SET) < 0)
		return berr_errno(e, -errno, "Cannot seek in %s", job->path);
	_cleanup_(archive_freep) struct archive *a = archive_read_new();
	if (!a)
		return berr(e, -ENOMEM, "Out of memory");
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK) {
		ts->kind = TAR_NOT_TAR;
		return 0;
	}
	char label[80];
	snprintf(label, sizeof(label), "Reading %.60s", import_basename(job));
	int pid = progress_add(job->p, label, file_size);
	bool first = true, marker = false;
	for (;;) {
		struct archive_entry *ent;
		int ar = archive_read_next_header(a, &ent);
		if (ar == ARCHIVE_EOF) {
			if (first)
				ts->kind = TAR_EMPTY;
			break;
		}
		if (ar < ARCHIVE_WARN) {
			if (first) {
				ts->kind = TAR_NOT_TAR;
				return 0;
			}
			return berr(e, -EBADMSG, "%s is a damaged or truncated archive: %s",
				    job->path, archive_error_string(a));
		}
		first = false;
		const char *raw = archive_entry_pathname(ent);
		_cleanup_free_ char *name = raw ? norm_path(NULL, raw, false) : NULL;
		if (!name || (*name && !image_archive_name(name))) {
			/* Not an image archive: a root filesystem. */
			ts->kind = TAR_ROOTFS;
			return 0;
		}
		if (!*name || archive_entry_filetype(ent) == AE_IFDIR)
			continue;
		int r;
		bool reg = archive_entry_filetype(ent) == AE_IFREG && !archive_entry_hardlink(ent);
		if (reg && !strcmp(name, "oci-layout")) {
			size_t len;
			r = read_entry_mem(a, name, &ts->oci_layout, &len, job->path, e);
		} else if (reg && !strcmp(name, "index.json")) {
			r = read_entry_mem(a, name, &ts->index_json, &ts->index_json_len, job->path,
					   e);
		} else if (reg && !strcmp(name, "manifest.json")) {
			r = read_entry_mem(a, name, &ts->manifest_json, &ts->manifest_json_len,
					   job->path, e);
		} else if (!strcmp(name, "repositories")) {
			r = 0;
		} else {
			r = add_entry(job, a, ent, name, ts, e);
		}
		if (r < 0)
			return r;
		marker = marker || is_marker(name);
		progress_update(job->p, pid, (uint64_t)archive_filter_bytes(a, -1));
	}
	progress_done(job->p, pid, "read");
	if (ts->kind == TAR_EMPTY)
		return 0;
	if (ts->oci_layout && ts->index_json)
		ts->kind = TAR_OCI;
	else if (ts->manifest_json)
		ts->kind = TAR_DOCKER;
	else if (marker)
		return berr(e, -EBADMSG,
			    "%s looks like an OCI archive but lacks %s; the archive is incomplete",
			    job->path, ts->oci_layout ? "index.json" : "oci-layout");
	else
		ts->kind = TAR_ROOTFS;
	return 0;
}

void tar_scan_free(tar_scan *ts)
{
	for (size_t i = 0; i < ts->n_entries; i++) {
		free(ts->entries[i].name);
		free(ts->entries[i].target);
	}
	free(ts->entries);
	free(ts->oci_layout);
	free(ts->index_json);
	free(ts->manifest_json);
	*ts = (tar_scan){0};
}

int tar_lookup(const tar_scan *ts, const char *archive, const char *referrer, const char *ref,
	       tar_entry **out, berth_err *e)
{
	if (!*ref || *ref == '/')
		return berr(e, -EBADMSG,
			    "%s in %s names '%s', which is not a path inside the archive; the "
			    "archive is corrupt or hostile",
			    referrer, archive, ref);
	_cleanup_free_ char *cur = norm_path(NULL, ref, false);
	if (!cur)
		return berr(e, -EBADMSG,
			    "%s in %s names '%s', which leaves the archive; the archive is "
			    "corrupt or hostile",
			    referrer, archive, ref);
	for (int hop = 0; hop <= IMPORT_MAX_LINK_HOPS; hop++) {
		tar_entry *found = NULL;
		for (size_t i = 0; i < ts->n_entries; i++) {
			if (strcmp(ts->entries[i].name, cur) != 0)
				continue;
			if (found)
				return berr(e, -EBADMSG,
					    "%s has '%s' more than once; the archive is corrupt or "
					    "hostile",
					    archive, cur);
			found = &ts->entries[i];
		}
		if (!found)
			return berr(e, -ENOENT,
				    "%s in %s names '%s', which the archive does not contain; the "
				    "archive is incomplete or corrupt",
				    referrer, archive, cur);
		if (found->type == ENTRY_FILE) {
			*out = found;
			return 0;
		}
		if (found->type == ENTRY_OTHER)
			return berr(e, -EBADMSG,
				    "'%s' in %s is not a regular file; the archive is corrupt", cur,
				    archive);
		char *next;
		if (found->type == ENTRY_HARDLINK) {
			next = norm_path(NULL, found->target, false);
		} else {
			_cleanup_free_ char *dir = strdup(cur);
			if (!dir)
				return berr(e, -ENOMEM, "Out of memory");
			char *slash = strrchr(dir, '/');
			if (slash)
				*slash = 0;
			else
				*dir = 0;
			next = norm_path(dir, found->target, true);
		}
		if (!next)
			return berr(e, -EBADMSG,
				    "Link '%s' in %s points to '%s', outside the archive; the "
				    "archive is corrupt or hostile",
				    cur, archive, found->target);
		free(cur);
		cur = next;
	}
	return berr(e, -ELOOP, "Links starting at '%s' in %s go more than %d deep", ref, archive,
		    IMPORT_MAX_LINK_HOPS);
}

int tar_commit_entry(import_job *job, tar_entry *te, berth_err *e)
{
	if (te->committed)
		return 0;
	int r = spool_commit(job, te->spool_name, te->digest, e);
	if (r < 0)
		return r;
	te->committed = true;
	return 0;
}
