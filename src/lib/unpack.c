/* SPDX-License-Identifier: MIT */
#include "unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "decompress.h"
#include "inroot.h"
#include "read-ahead.h"
#include "strset.h"
#include "unpack-meta.h"

#define BUF_SIZE (1u << 20)
#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define WH_META ".wh..wh."

/* A directory whose mode and times are applied at the end, deepest first. */
typedef struct dir_meta {
	char *path;
	size_t depth, seq;
	mode_t mode;
	bool times;
	struct timespec ts[2];
} dir_meta;

typedef struct unpacker {
	int root;
	const unpack_opts *opts;
	const char *ovl_prefix;
	unpack_stats *stats;
	berth_err *e;
	struct archive *a;
	const char *entry; /* raw name of the entry being unpacked, for messages */
	/* parent directory cache: consecutive entries mostly share one */
	char *cache_path;
	int cache_fd;
	dir_meta *dirs;
	size_t n_dirs, cap_dirs;
	strset created; /* WHITEOUT_APPLY: paths this layer made, kept by an opaque dir */
	/* source */
	unpack_read_fn rd;
	void *rd_opaque;
	berth_err *rd_err; /* filled by the source when it has a better sentence */
	read_ahead *ra;	   /* instead of rd: chunks read (and hashed) ahead by another thread */
	unsigned char *buf;
	bool src_eof;
	ssize_t src_fail;
} unpacker;

/* ---- paths ---------------------------------------------------------------------------- */

/* Normalise a tar path ("" is the layer root), refusing '..' with a sentence. */
static int norm_path(unpacker *u, const char *raw, const char *what, char **out)
{
	int r = inroot_normalize(raw, out);
	if (r == -EPERM)
		return berr(
		    u->e, r,
		    "Layer entry '%s' has a '..' component%s%s%s that leaves the layer; the "
		    "image is corrupt or hostile",
		    u->entry, what ? " in its " : "", what ? what : "", what ? " target" : "");
	if (r < 0)
		return berr(u->e, r, "Out of memory unpacking layer entry '%s'", u->entry);
	return 0;
}

static size_t path_depth(const char *p)
{
	if (!*p)
		return 0;
	size_t d = 1;
	for (; *p; p++)
		d += *p == '/';
	return d;
}

/* ---- the set of created paths --------------------------------------------------------- */

/* Remember path and its ancestors as made by this layer (WHITEOUT_APPLY only). Ancestors
 * go in with their descendants, so the walk up stops at the first one present. */
static int track(unpacker *u, const char *path)
{
	if (u->opts->whiteouts != WHITEOUT_APPLY)
		return 0;
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return berr(u->e, -ENOMEM, "Out of memory unpacking layer entry '%s'", u->entry);
	while (*p && !strset_has(&u->created, p)) {
		if (strset_add(&u->created, p) < 0)
			return berr(u->e, -ENOMEM, "Out of memory unpacking layer entry '%s'",
				    u->entry);
		char *slash = strrchr(p, '/');
		if (!slash)
			break;
		*slash = 0;
	}
	return 0;
}

/* ---- removing ------------------------------------------------------------------------- */

static void cache_drop(unpacker *u)
{
	free(u->cache_path);
	u->cache_path = NULL;
	if (u->cache_fd >= 0)
		close(u->cache_fd);
	u->cache_fd = -1;
}

/* Make room for a new entry at pfd/name. Returns 1 when an existing directory was kept
 * (keep_dir and it is a real directory), 0 otherwise. */
static int clear_spot(unpacker *u, int pfd, const char *name, bool keep_dir)
{
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return berr_errno(u->e, -errno,
				  "Cannot inspect the existing file for layer entry '%s'",
				  u->entry);
	}
	if (keep_dir && S_ISDIR(st.st_mode))
		return 1;
	/* pfd is the cached parent; what goes is a child of it, so the cache stays right */
	int r = inroot_rm_rf(pfd, name);
	if (r < 0)
		return berr_errno(u->e, r, "Cannot replace the existing file for layer entry '%s'",
				  u->entry);
	return 0;
}

/* ---- parents -------------------------------------------------------------------------- */

static int parent_error(unpacker *u, int r, const char *parent)
{
	if (r == -ENOTDIR || r == -ENOENT || r == -ELOOP)
		return berr(u->e, -ENOTDIR,
			    "Layer entry '%s' needs '%s' to be a directory, but it is not (it may "
			    "be a file or a symlink that leads nowhere); the image is corrupt",
			    u->entry, parent);
	return berr_errno(u->e, r, "Cannot open directory '%s' for layer entry '%s'", parent,
			  u->entry);
}

static int made_dir(const char *path, void *opaque)
{
	return track(opaque, path);
}

/* The parent directory of an entry, resolved inside the root (borrowed fd). With create,
 * missing directories are made; without, -ENOENT is returned quietly. */
static int open_parent(unpacker *u, const char *parent, bool create)
{
	if (u->cache_path && strcmp(u->cache_path, parent) == 0)
		return u->cache_fd;
	int fd = inroot_open(u->root, parent, O_PATH | O_DIRECTORY);
	if (fd == -ENOENT && !create)
		return fd;
	if (fd == -ENOENT)
		fd = inroot_mkdirs(u->root, parent, 0755, made_dir, u);
	if (fd < 0)
		return u->e->code ? fd : parent_error(u, fd, parent);
	char *copy = strdup(parent);
	if (!copy) {
		close(fd);
		return berr(u->e, -ENOMEM, "Out of memory unpacking layer entry '%s'", u->entry);
	}
	cache_drop(u);
	u->cache_path = copy;
	u->cache_fd = fd;
	return fd;
}

/* ---- metadata ------------------------------------------------------------------------- */

static int record_dir(unpacker *u, const char *path, struct archive_entry *ent)
{
	if (u->n_dirs == u->cap_dirs) {
		size_t ncap = u->cap_dirs ? u->cap_dirs * 2 : 64;
		dir_meta *nd = realloc(u->dirs, ncap * sizeof(*nd));
		if (!nd)
			return berr(u->e, -ENOMEM, "Out of memory unpacking layer entry '%s'",
				    u->entry);
		u->dirs = nd;
		u->cap_dirs = ncap;
	}
	dir_meta *d = &u->dirs[u->n_dirs];
	d->path = strdup(path);
	if (!d->path)
		return berr(u->e, -ENOMEM, "Out of memory unpacking layer entry '%s'", u->entry);
	d->depth = path_depth(path);
	d->seq = u->n_dirs++;
	d->mode = archive_entry_mode(ent) & 07777;
	meta_times(ent, d->ts, &d->times);
	return 0;
}

static int cmp_dir(const void *a, const void *b)
{
	const dir_meta *x = a, *y = b;
	if (x->depth != y->depth)
		return x->depth > y->depth ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Directory modes and times, deepest first, once nothing else will touch them. */
static int finish_dirs(unpacker *u)
{
	if (u->n_dirs)
		qsort(u->dirs, u->n_dirs, sizeof(*u->dirs), cmp_dir);
	for (size_t i = 0; i < u->n_dirs; i++) {
		dir_meta *d = &u->dirs[i];
		u->entry = d->path;
		char *slash = strrchr(d->path, '/');
		const char *name = slash ? slash + 1 : d->path;
		if (slash)
			*slash = 0;
		int fd;
		if (!*d->path && !slash) {
			fd = inroot_open(u->root, "", O_RDONLY | O_DIRECTORY);
		} else {
			_cleanup_close_ int pfd =
			    inroot_open(u->root, slash ? d->path : "", O_PATH | O_DIRECTORY);
			fd = pfd < 0 ? pfd
				     : openat(pfd, name,
					      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0 && pfd >= 0)
				fd = -errno;
		}
		if (slash)
			*slash = '/';
		/* replaced or whited out by a later entry */
		if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
			continue;
		if (fd < 0)
			return berr_errno(u->e, fd, "Cannot open directory '%s' of the layer",
					  d->path);
		int r = fchmod(fd, d->mode) < 0 ? -errno : 0;
		if (r == 0 && d->times && futimens(fd, d->ts) < 0)
			r = -errno;
		close(fd);
		if (r < 0)
			return berr_errno(
			    u->e, r, "Cannot set the mode and times of directory '%s'", d->path);
	}
	return 0;
}

/* ---- entry kinds ---------------------------------------------------------------------- */

static int write_data(unpacker *u, int fd, uint64_t size)
{
	uint64_t end = 0;
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int r = archive_read_data_block(u->a, &buf, &len, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return -EBADMSG; /* reported by the caller from archive_error_string */
		if (off < 0 || (uint64_t)off > size || len > size - (uint64_t)off)
			return berr(u->e, -EBADMSG,
				    "Layer entry '%s' has data beyond its declared size of %llu "
				    "bytes; the image is corrupt",
				    u->entry, (unsigned long long)size);
		const char *p = buf;
		while (len) {
			ssize_t n = pwrite(fd, p, len, off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return berr_errno(u->e, n < 0 ? -errno : -EIO,
						  "Cannot write layer entry '%s'", u->entry);
			p += n;
			off += n;
			len -= (size_t)n;
			u->stats->bytes += (uint64_t)n;
		}
		end = (uint64_t)off;
	}
	/* a trailing hole of a sparse file (or data that never came) */
	if (end != size && ftruncate(fd, (off_t)size) < 0)
		return berr_errno(u->e, -errno, "Cannot set the size of layer entry '%s'",
				  u->entry);
	return 0;
}

static int do_file(unpacker *u, struct archive_entry *ent, int pfd, const char *name)
{
	la_int64_t size = archive_entry_size(ent);
	if (size < 0)
		return berr(u->e, -EBADMSG, "Layer entry '%s' has a negative size", u->entry);
	if (u->opts->max_file_size && (uint64_t)size > u->opts->max_file_size)
		return berr(u->e, -EFBIG,
			    "Layer entry '%s' is a file of %lld bytes, more than the limit of %llu "
			    "bytes; the image is corrupt or hostile",
			    u->entry, (long long)size, (unsigned long long)u->opts->max_file_size);
	int r;
	_cleanup_close_ int fd = -1;
	for (bool cleared = false;; cleared = true) {
		fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST || cleared)
			break;
		if ((r = clear_spot(u, pfd, name, false)) < 0)
			return r;
	}
	if (fd < 0)
		return berr_errno(u->e, -errno, "Cannot create layer entry '%s'", u->entry);
	r = write_data(u, fd, (uint64_t)size);
	if (r < 0)
		return r;
	struct timespec ts[2];
	bool have;
	meta_times(ent, ts, &have);
	/* chown clears setuid and file capabilities, so mode and xattrs come after it */
	if ((r = meta_owner(ent, fd, -1, NULL, u->opts->chown, u->entry, u->e)) < 0)
		return r;
	if (fchmod(fd, archive_entry_mode(ent) & 07777) < 0)
		return berr_errno(u->e, -errno, "Cannot set the mode of layer entry '%s'",
				  u->entry);
	if ((r = meta_xattrs(ent, fd, -1, NULL, u->opts->chown, u->entry, u->e)) < 0)
		return r;
	if (have && futimens(fd, ts) < 0)
		return berr_errno(u->e, -errno, "Cannot set the times of layer entry '%s'",
				  u->entry);
	return 0;
}

static int do_dir(unpacker *u, struct archive_entry *ent, const char *path, int pfd,
		  const char *name)
{
	_cleanup_close_ int fd = -1;
	if (!*path) {
		fd = inroot_open(u->root, "", O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			return berr_errno(u->e, fd, "Cannot open the layer directory");
	} else {
		int r = mkdirat(pfd, name, 0700) < 0 ? -errno : 0;
		if (r == -EEXIST) {
			r = clear_spot(u, pfd, name, true);
			if (r == 0)
				r = mkdirat(pfd, name, 0700) < 0 ? -errno : 0;
			else if (r == 1)
				r = 0; /* an existing directory is kept, its metadata updated */
		}
		if (r < 0)
			return berr_errno(u->e, r, "Cannot create directory for layer entry '%s'",
					  u->entry);
		fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return berr_errno(u->e, -errno, "Cannot open directory of layer entry '%s'",
					  u->entry);
	}
	int r = meta_owner(ent, fd, -1, NULL, u->opts->chown, u->entry, u->e);
	if (r == 0)
		r = meta_xattrs(ent, fd, -1, NULL, u->opts->chown, u->entry, u->e);
	if (r == 0)
		r = record_dir(u, path, ent);
	return r;
}

static int do_symlink(unpacker *u, struct archive_entry *ent, int pfd, const char *name)
{
	const char *target = archive_entry_symlink(ent);
	if (!target)
		target = archive_entry_symlink_utf8(ent);
	if (!target || !*target)
		return berr(u->e, -EBADMSG, "Layer entry '%s' is a symlink without a target",
			    u->entry);
	int r = symlinkat(target, pfd, name) < 0 ? -errno : 0;
	if (r == -EEXIST && (r = clear_spot(u, pfd, name, false)) == 0)
		r = symlinkat(target, pfd, name) < 0 ? -errno : 0;
	if (r < 0)
		return u->e->code
			   ? r
			   : berr_errno(u->e, r, "Cannot create symlink for layer entry '%s'",
					u->entry);
	if ((r = meta_owner(ent, -1, pfd, name, u->opts->chown, u->entry, u->e)) < 0)
		return r;
	if ((r = meta_xattrs(ent, -1, pfd, name, u->opts->chown, u->entry, u->e)) < 0)
		return r;
	struct timespec ts[2];
	bool have;
	meta_times(ent, ts, &have);
	if (have && utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return berr_errno(u->e, -errno, "Cannot set the times of layer entry '%s'",
				  u->entry);
	return 0;
}

static int do_hardlink(unpacker *u, const char *path, const char *raw_target, int pfd,
		       const char *name)
{
	_cleanup_free_ char *target = NULL;
	int r = norm_path(u, raw_target, "hard link", &target);
	if (r < 0)
		return r;
	if (!*target || !strcmp(target, path))
		return berr(u->e, -EBADMSG,
			    "Layer entry '%s' is a hard link to '%s', which is itself or the layer "
			    "root; the image is corrupt",
			    u->entry, raw_target);
	_cleanup_close_ int tfd = inroot_open(u->root, target, O_PATH | O_NOFOLLOW);
	if (tfd == -ENOENT || tfd == -ENOTDIR)
		return berr(u->e, -ENOENT,
			    "Layer entry '%s' is a hard link to '%s', which does not exist in the "
			    "layer; the image is corrupt",
			    u->entry, raw_target);
	if (tfd < 0)
		return berr_errno(u->e, tfd, "Cannot open '%s', the target of layer entry '%s'",
				  raw_target, u->entry);
	for (bool cleared = false;; cleared = true) {
		if (linkat(tfd, "", pfd, name, AT_EMPTY_PATH) == 0)
			return 0;
		/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH in the initial user namespace;
		 * linking the fd's procfs magic link does not */
		if (errno == ENOENT || errno == EPERM) {
			char proc[64];
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", tfd);
			if (linkat(AT_FDCWD, proc, pfd, name, AT_SYMLINK_FOLLOW) == 0)
				return 0;
		}
		if (errno != EEXIST || cleared)
			break;
		if ((r = clear_spot(u, pfd, name, false)) < 0)
			return r;
	}
	return berr_errno(u->e, -errno, "Cannot hard-link layer entry '%s' to '%s'", u->entry,
			  raw_target);
}

/* Overlay whiteout: char device 0:0 at pfd/name. */
static int make_whiteout(unpacker *u, int pfd, const char *name)
{
	int r = mknodat(pfd, name, S_IFCHR | 0, makedev(0, 0)) < 0 ? -errno : 0;
	if (r == -EEXIST && (r = clear_spot(u, pfd, name, false)) == 0)
		r = mknodat(pfd, name, S_IFCHR | 0, makedev(0, 0)) < 0 ? -errno : 0;
	if (r < 0)
		return u->e->code
			   ? r
			   : berr_errno(u->e, r,
					"Cannot create the overlay whiteout for layer entry '%s'",
					u->entry);
	return 0;
}

/* WHITEOUT_APPLY opaque directory: drop everything under it this layer did not make. */
static int clear_lower(unpacker *u, int dfd, const char *dirpath)
{
	_cleanup_close_ int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berr_errno(u->e, -errno, "Cannot open directory '%s' for layer entry '%s'",
				  dirpath, u->entry);
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d)
		return berr_errno(u->e, -errno, "Cannot read directory '%s'", dirpath);
	fd = -1; /* owned by d now */
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_free_ char *child = NULL;
		if (asprintf(&child, "%s%s%s", dirpath, *dirpath ? "/" : "", de->d_name) < 0)
			return berr(u->e, -ENOMEM, "Out of memory unpacking layer entry '%s'",
				    u->entry);
		int r;
		if (!strset_has(&u->created, child)) {
			r = inroot_rm_rf(dirfd(d), de->d_name);
			if (r < 0)
				return berr_errno(u->e, r,
						  "Cannot remove '%s' for opaque layer entry '%s'",
						  child, u->entry);
			continue;
		}
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		_cleanup_close_ int cfd =
		    openat(dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0)
			return berr_errno(u->e, -errno, "Cannot open directory '%s'", child);
		if ((r = clear_lower(u, cfd, child)) < 0)
			return r;
	}
	if (errno)
		return berr_errno(u->e, -errno, "Cannot read directory '%s'", dirpath);
	return 0;
}

/* WHITEOUT_APPLY: delete parent/victim (recursively, never following symlinks). */
static int delete_path(unpacker *u, const char *parent, const char *victim)
{
	cache_drop(u);
	int pfd = inroot_open(u->root, parent, O_PATH | O_DIRECTORY);
	if (pfd == -ENOENT || pfd == -ENOTDIR)
		return 0; /* nothing below a missing directory to delete */
	if (pfd < 0)
		return parent_error(u, pfd, parent);
	int r = inroot_rm_rf(pfd, victim);
	close(pfd);
	if (r < 0)
		return berr_errno(u->e, r, "Cannot remove '%s' for whiteout layer entry '%s'",
				  victim, u->entry);
	return 0;
}

static int do_whiteout(unpacker *u, const char *parent, const char *name)
{
	bool apply = u->opts->whiteouts == WHITEOUT_APPLY;
	if (!strcmp(name, WH_OPAQUE)) {
		int pfd = open_parent(u, parent, !apply);
		if (pfd == -ENOENT)
			return 0;
		if (pfd < 0)
			return pfd;
		if (apply) {
			int r = clear_lower(u, pfd, parent);
			cache_drop(u); /* the cached directory may have been below parent */
			return r;
		}
		_cleanup_close_ int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		_cleanup_free_ char *xn = NULL;
		if (asprintf(&xn, "%sopaque", u->ovl_prefix) < 0)
			return berr(u->e, -ENOMEM, "Out of memory");
		if (fd < 0 || fsetxattr(fd, xn, "y", 1, 0) < 0)
			return berr_errno(
			    u->e, -errno,
			    "Cannot mark directory '%s' opaque (%s) for layer entry '%s'", parent,
			    xn, u->entry);
		return 0;
	}
	if (!strncmp(name, WH_META, strlen(WH_META))) {
		u->stats->skipped++; /* aufs bookkeeping such as .wh..wh.plnk */
		return 0;
	}
	const char *victim = name + strlen(WH_PREFIX);
	if (!*victim || !strcmp(victim, ".") || !strcmp(victim, ".."))
		return berr(u->e, -EBADMSG,
			    "Layer entry '%s' is a whiteout without a valid name; the image is "
			    "corrupt or hostile",
			    u->entry);
	if (apply)
		return delete_path(u, parent, victim);
	int pfd = open_parent(u, parent, true);
	if (pfd < 0)
		return pfd;
	return make_whiteout(u, pfd, victim);
}

static int do_entry(unpacker *u, struct archive_entry *ent)
{
	const char *raw = archive_entry_pathname(ent);
	if (!raw)
		raw = archive_entry_pathname_utf8(ent);
	if (!raw)
		return berr(u->e, -EBADMSG, "A layer entry has no path; the image is corrupt");
	u->entry = raw;
	u->stats->entries++;
	_cleanup_free_ char *path = NULL;
	int r = norm_path(u, raw, NULL, &path);
	if (r < 0)
		return r;
	char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	_cleanup_free_ char *parent = strndup(path, slash ? (size_t)(slash - path) : 0);
	if (!parent)
		return berr(u->e, -ENOMEM, "Out of memory unpacking layer entry '%s'", raw);
	if (!strncmp(name, WH_PREFIX, strlen(WH_PREFIX)))
		return do_whiteout(u, parent, name);

	const char *hardlink = archive_entry_hardlink(ent);
	if (!hardlink)
		hardlink = archive_entry_hardlink_utf8(ent);
	mode_t type = archive_entry_filetype(ent);
	bool whiteout = false;
	if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
		whiteout = type == AE_IFCHR && archive_entry_rdev(ent) == 0;
		if (!whiteout || !*path) {
			u->stats->skipped++; /* devices and FIFOs: the runtime provides /dev */
			return 0;
		}
	}
	if (!*path && (hardlink || type != AE_IFDIR))
		return berr(
		    u->e, -EBADMSG,
		    "Layer entry '%s' names the layer root but is not a directory; the image "
		    "is corrupt",
		    raw);
	if (whiteout && u->opts->whiteouts == WHITEOUT_APPLY)
		return delete_path(u, parent, name);

	int pfd = -1;
	if (*path) {
		pfd = open_parent(u, parent, true);
		if (pfd < 0)
			return pfd;
	}
	if (whiteout)
		r = make_whiteout(u, pfd, name);
	else if (hardlink)
		r = do_hardlink(u, path, hardlink, pfd, name);
	else if (type == AE_IFDIR)
		r = do_dir(u, ent, path, pfd, name);
	else if (type == AE_IFLNK)
		r = do_symlink(u, ent, pfd, name);
	else
		r = do_file(u, ent, pfd, name);
	if (r < 0)
		return r;
	return track(u, path);
}

/* ---- driving libarchive --------------------------------------------------------------- */

static la_ssize_t read_cb(struct archive *a, void *opaque, const void **buf)
{
	unpacker *u = opaque;
	*buf = u->buf;
	if (u->src_eof || u->src_fail)
		return u->src_fail ? -1 : 0;
	ssize_t n;
	if (u->ra)
		n = read_ahead_next(u->ra, buf);
	else
		do
			n = u->rd(u->rd_opaque, u->buf, BUF_SIZE);
		while (n == -EINTR);
	if (n < 0) {
		u->src_fail = n;
		if (a)
			archive_set_error(a, (int)-n, "the layer stream could not be read");
		return -1;
	}
	if (n == 0)
		u->src_eof = true;
	return n;
}

static int source_error(unpacker *u)
{
	const berth_err *re = u->ra ? read_ahead_error(u->ra) : u->rd_err;
	if (re && re->code)
		return berr(u->e, re->code, "%s", re->msg);
	return berr_errno(u->e, (int)u->src_fail, "Cannot read the layer's tar stream");
}

static int tar_error(unpacker *u, const char *last)
{
	if (u->src_fail)
		return source_error(u);
	const char *why = archive_error_string(u->a);
	return berr(u->e, -EBADMSG, "The layer's tar data is corrupt %s%s%s: %s",
		    last ? "after entry '" : "at its start", last ? last : "", last ? "'" : "",
		    why ? why : "unknown error");
}

static int run(unpacker *u)
{
	u->a = archive_read_new();
	if (!u->a)
		return berr(u->e, -ENOMEM, "Out of memory starting to read a layer");
	if (archive_read_support_format_tar(u->a) != ARCHIVE_OK ||
	    archive_read_support_format_empty(u->a) != ARCHIVE_OK ||
	    archive_read_support_filter_none(u->a) != ARCHIVE_OK)
		return berr(u->e, -EIO, "Cannot set up libarchive: %s", archive_error_string(u->a));
	if (archive_read_open(u->a, u, NULL, read_cb, NULL) != ARCHIVE_OK)
		return tar_error(u, NULL);
	_cleanup_free_ char *last = NULL;
	for (;;) {
		struct archive_entry *ent;
		int r = archive_read_next_header(u->a, &ent);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return tar_error(u, last);
		r = do_entry(u, ent);
		if (r < 0) {
			if (!u->e->code) {
				if (u->src_fail)
					return source_error(u);
				const char *why = archive_error_string(u->a);
				return berr(u->e, r,
					    "The layer's tar data is corrupt in entry '%s': %s",
					    u->entry, why ? why : "unknown error");
			}
			return r;
		}
		free(last);
		last = strdup(u->entry);
	}
	/* The diff id covers the whole stream, and the last gzip trailer holds its CRC. */
	while (!u->src_eof) {
		if (read_cb(NULL, u, &(const void *){NULL}) < 0)
			return source_error(u);
	}
	return finish_dirs(u);
}

static int unpack_run(unpack_read_fn rd, void *opaque, berth_err *rd_err, read_ahead *ra,
		      int dest_dirfd, const unpack_opts *opts, unpack_stats *stats, berth_err *e)
{
	static const unpack_opts defaults = {0};
	unpack_stats ignored;
	if (!stats)
		stats = &ignored;
	*stats = (unpack_stats){0};
	if (!opts)
		opts = &defaults;
	unpacker u = {
	    .root = dest_dirfd,
	    .opts = opts,
	    .ovl_prefix =
		opts->overlay_xattr_prefix ? opts->overlay_xattr_prefix : "trusted.overlay.",
	    .stats = stats,
	    .e = e,
	    .cache_fd = -1,
	    .rd = rd,
	    .rd_opaque = opaque,
	    .rd_err = rd_err,
	    .ra = ra,
	};
	if (!ra)
		u.buf = malloc(BUF_SIZE);
	int r = u.buf || ra ? run(&u) : berr(e, -ENOMEM, "Out of memory starting to read a layer");
	if (u.a)
		archive_read_free(u.a);
	cache_drop(&u);
	for (size_t i = 0; i < u.n_dirs; i++)
		free(u.dirs[i].path);
	free(u.dirs);
	strset_free(&u.created);
	free(u.buf);
	return r;
}

int unpack_tar_stream(unpack_read_fn rd, void *opaque, int dest_dirfd, const unpack_opts *opts,
		      unpack_stats *stats, berth_err *e)
{
	return unpack_run(rd, opaque, NULL, NULL, dest_dirfd, opts, stats, e);
}

typedef struct blob_source {
	decompressor *d;
	berth_err err;
} blob_source;

static ssize_t blob_read(void *opaque, void *buf, size_t len)
{
	blob_source *s = opaque;
	return decompressor_read(s->d, buf, len, &s->err);
}

int unpack_layer_fd(int blob_fd, layer_compression comp, int dest_dirfd, const unpack_opts *opts,
		    char diff_id[DIGEST_STR_LEN], unpack_stats *stats, berth_err *e)
{
	diff_id[0] = 0;
	blob_source s = {0};
	int r = decompressor_new(blob_fd, comp, &s.d, e);
	if (r < 0)
		return r;
	sha256_ctx h = {0};
	r = sha256_init(&h);
	if (r < 0) {
		decompressor_free(s.d);
		return berr(e, r, "Cannot start a SHA-256 digest");
	}
	/* Inflating and hashing (in the read-ahead thread) overlap with writing the files. */
	read_ahead *ra = NULL;
	r = read_ahead_start(blob_read, &s, &s.err, &h, &ra, e);
	if (r == 0)
		r = unpack_run(NULL, NULL, NULL, ra, dest_dirfd, opts, stats, e);
	read_ahead_stop(ra); /* before anything the thread uses goes */
	decompressor_free(s.d);
	if (r < 0) {
		sha256_free(&h);
		return r;
	}
	sha256_final(&h, diff_id);
	return 0;
}
