/* SPDX-License-Identifier: MIT */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <grp.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zstd.h>

#include "digest.h"
#include "unit.h"
#include "unpack.h"

/* ---- building tar streams in memory --------------------------------------------------- */

typedef struct mem {
	unsigned char *p;
	size_t n, cap;
} mem;

static void mem_add(mem *m, const void *buf, size_t len)
{
	if (m->n + len > m->cap) {
		m->cap = (m->n + len) * 2;
		m->p = realloc(m->p, m->cap);
		if (!m->p)
			abort();
	}
	memcpy(m->p + m->n, buf, len);
	m->n += len;
}

static la_ssize_t mem_write(struct archive *a, void *o, const void *buf, size_t len)
{
	(void)a;
	mem_add(o, buf, len);
	return (la_ssize_t)len;
}

typedef struct tarw {
	struct archive *a;
	mem out;
} tarw;

static void tar_begin(tarw *t)
{
	*t = (tarw){0};
	t->a = archive_write_new();
	archive_write_set_format_pax(t->a);
	archive_write_set_options(t->a, "hdrcharset=BINARY"); /* names as raw bytes */
	archive_write_add_filter_none(t->a);
	archive_write_set_bytes_in_last_block(t->a, 1);
	if (archive_write_open(t->a, &t->out, NULL, mem_write, NULL) != ARCHIVE_OK)
		abort();
}

static struct archive_entry *ent(const char *path, mode_t type, mode_t mode)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, mode);
	archive_entry_set_mtime(e, 1600000000, 0);
	return e;
}

static void put(tarw *t, struct archive_entry *e, const void *data, size_t len)
{
	if (archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e) &&
	    !archive_entry_size_is_set(e))
		archive_entry_set_size(e, (la_int64_t)len);
	if (archive_write_header(t->a, e) != ARCHIVE_OK) {
		fprintf(stderr, "tar writer: %s\n", archive_error_string(t->a));
		abort();
	}
	if (len && archive_write_data(t->a, data, len) != (la_ssize_t)len)
		abort();
	archive_entry_free(e);
}

static void tar_file(tarw *t, const char *path, const char *content)
{
	put(t, ent(path, AE_IFREG, 0644), content, strlen(content));
}

static void tar_dir(tarw *t, const char *path)
{
	put(t, ent(path, AE_IFDIR, 0755), NULL, 0);
}

static void tar_symlink(tarw *t, const char *path, const char *target)
{
	struct archive_entry *e = ent(path, AE_IFLNK, 0777);
	archive_entry_set_symlink(e, target);
	put(t, e, NULL, 0);
}

static void tar_hardlink(tarw *t, const char *path, const char *target)
{
	struct archive_entry *e = ent(path, AE_IFREG, 0644);
	archive_entry_set_hardlink(e, target);
	archive_entry_set_size(e, 0);
	put(t, e, NULL, 0);
}

static void tar_dev(tarw *t, const char *path, mode_t type, unsigned maj, unsigned min)
{
	struct archive_entry *e = ent(path, type, 0600);
	archive_entry_set_rdevmajor(e, maj);
	archive_entry_set_rdevminor(e, min);
	put(t, e, NULL, 0);
}

static mem tar_end(tarw *t)
{
	archive_write_close(t->a);
	archive_write_free(t->a);
	return t->out;
}

/* ---- reading it back ------------------------------------------------------------------ */

typedef struct memsrc {
	const mem *m;
	size_t pos, chunk;
} memsrc;

static ssize_t mem_read(void *o, void *buf, size_t len)
{
	memsrc *s = o;
	size_t n = s->m->n - s->pos;
	if (n > len)
		n = len;
	if (n > s->chunk)
		n = s->chunk;
	memcpy(buf, s->m->p + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

static int unpack_mem(const mem *m, int dfd, const unpack_opts *o, unpack_stats *st, berth_err *e)
{
	memsrc s = {m, 0, 7001}; /* odd chunks cross tar block boundaries */
	berr_clear(e);
	return unpack_tar_stream(mem_read, &s, dfd, o, st, e);
}

static int memfd_of(const void *p, size_t n)
{
	int fd = memfd_create("layer", MFD_CLOEXEC);
	if (fd < 0 || write(fd, p, n) != (ssize_t)n)
		abort();
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* ---- fixtures ------------------------------------------------------------------------- */

static char base[64]; /* /tmp/berth-test-unpack-XXXXXX: holds dest dirs and a canary */

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p);
}

static void rm_rf(const char *p)
{
	nftw(p, rm_cb, 64, FTW_DEPTH | FTW_PHYS);
}

static int fresh_dest(const char *name)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", base, name);
	rm_rf(p);
	if (mkdir(p, 0700) < 0)
		abort();
	return open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static bool canary_intact(void)
{
	char p[128], buf[32] = {0};
	snprintf(p, sizeof(p), "%s/canary", base);
	int fd = open(p, O_RDONLY | O_NOFOLLOW);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	struct stat st;
	char q[128];
	snprintf(q, sizeof(q), "%s/canary2", base);
	return n == 8 && !strcmp(buf, "original") && lstat(q, &st) < 0;
}

static bool has_file(int dfd, const char *path, const char *content)
{
	int fd = openat(dfd, path, O_RDONLY | O_NOFOLLOW);
	if (fd < 0)
		return false;
	char buf[256] = {0};
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n >= 0 && !strcmp(buf, content);
}

static bool exists(int dfd, const char *path)
{
	struct stat st;
	return fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_dotdot(void)
{
	int d = fresh_dest("dotdot");
	berth_err e;
	tarw t;
	tar_begin(&t);
	tar_file(&t, "a/../../canary", "pwned");
	mem m = tar_end(&t);
	CHECK(unpack_mem(&m, d, NULL, NULL, &e) == -EPERM);
	CHECK(strstr(e.msg, "'a/../../canary'") && strstr(e.msg, "'..'"));
	CHECK(canary_intact());
	CHECK(!exists(d, "a"));
	free(m.p);

	/* in a hard link target too */
	tar_begin(&t);
	tar_file(&t, "f", "x");
	tar_hardlink(&t, "h", "../canary");
	m = tar_end(&t);
	CHECK(unpack_mem(&m, d, NULL, NULL, &e) == -EPERM);
	CHECK(strstr(e.msg, "'h'") && strstr(e.msg, "hard link"));
	CHECK(!exists(d, "h"));
	CHECK(canary_intact());
	free(m.p);
	close(d);
}

static void test_absolute_and_dots(void)
{
	int d = fresh_dest("abs");
	berth_err e;
	unpack_stats st;
	tarw t;
	tar_begin(&t);
	tar_file(&t, "/abs/file", "one");
	tar_file(&t, "./dot/./x//y", "two");
	tar_file(&t, "./top", "three");
	tar_file(&t, "caf\xc3\xa9/na\xefve", "four"); /* UTF-8, then a Latin-1 byte */
	mem m = tar_end(&t);
	CHECK(unpack_mem(&m, d, NULL, &st, &e) == 0);
	CHECK(has_file(d, "caf\xc3\xa9/na\xefve", "four"));
	CHECK(has_file(d, "abs/file", "one"));
	CHECK(has_file(d, "dot/x/y", "two"));
	CHECK(has_file(d, "top", "three"));
	CHECK(st.entries == 4 && st.bytes == 15);
	free(m.p);
	close(d);
}

static void test_symlink_escapes(void)
{
	int d = fresh_dest("symlink");
	berth_err e;
	char host_canary[128];
	snprintf(host_canary, sizeof(host_canary), "%s/canary", base);
	tarw t;
	tar_begin(&t);
	tar_symlink(&t, "a/evil", "/");
	tar_file(&t, "a/evil/canary", "inside1");
	tar_symlink(&t, "up", "../../../..");
	tar_file(&t, "up/canary2", "inside2");
	tar_symlink(&t, "direct", host_canary);
	tar_file(&t, "direct", "replaced"); /* replaces the link, never writes through it */
	mem m = tar_end(&t);
	CHECK(unpack_mem(&m, d, NULL, NULL, &e) == 0);
	if (e.code)
		fprintf(stderr, "%s\n", e.msg);
	CHECK(has_file(d, "canary", "inside1"));
	CHECK(has_file(d, "canary2", "inside2"));
	CHECK(has_file(d, "direct", "replaced"));
	char target[256] = {0};
	CHECK(readlinkat(d, "a/evil", target, sizeof(target)) == 1 && target[0] == '/');
	CHECK(canary_intact());
	free(m.p);

	/* A link to a host directory that has no counterpart inside: refused, not followed. */
	tar_begin(&t);
	tar_symlink(&t, "hostdir", base);
	tar_file(&t, "hostdir/canary", "pwned");
	m = tar_end(&t);
	CHECK(unpack_mem(&m, d, NULL, NULL, &e) < 0);
	CHECK(strstr(e.msg, "'hostdir/canary'") != NULL);
	CHECK(canary_intact());
	free(m.p);

	/* A hard link through a symlink resolves inside too: the host file is not there. */
	tar_begin(&t);
	tar_symlink(&t, "root", "/");
	char through[256];
	snprintf(through, sizeof(through), "root%s/canary", base);
	tar_hardlink(&t, "stolen", through);
	m = tar_end(&t);
	CHECK(unpack_mem(&m, d, NULL, NULL, &e) == -ENOENT);
	CHECK(strstr(e.msg, "'stolen'") && strstr(e.msg, through));
	CHECK(!exists(d, "stolen"));
	free(m.p);
	close(d);
}

static void test_symlink_from_lower_layer(void)
{
	int d = fresh_dest("layers");
	berth_err e;
	unpack_opts o = {.whiteouts = WHITEOUT_APPLY, .chown = true};
	tarw t;
	tar_begin(&t);
	tar_dir(&t, "etc");
	tar_symlink(&t, "etc/evil", "/");
	tar_symlink(&t, "rel", "../..");
	mem l1 = tar_end(&t);
	tar_begin(&t);
	tar_file(&t, "etc/evil/canary", "inside1");
	tar_file(&t, "rel/canary2", "inside2");
	mem l2 = tar_end(&t);
	CHECK(unpack_mem(&l1, d, &o, NULL, &e) == 0);
	CHECK(unpack_mem(&l2, d, &o, NULL, &e) == 0);
	CHECK(has_file(d, "canary", "inside1"));
	CHECK(has_file(d, "canary2", "inside2"));
	CHECK(canary_intact());
	free(l1.p);
	free(l2.p);
	close(d);
}

static void test_hardlinks(void)
{
	int d = fresh_dest("hardlink");
	berth_err e;
	tarw t;
	tar_begin(&t);
	tar_file(&t, "dir/orig", "data");
	tar_hardlink(&t, "other/link", "dir/orig");
	mem m = tar_end(&t);
	CHECK(unpack_mem(&m, d, NULL, NULL, &e) == 0);
	struct stat a, b;
	CHECK(fstatat(d, "dir/orig", &a, 0) == 0 && fstatat(d, "other/link", &b, 0) == 0);
	CHECK(a.st_ino == b.st_ino && a.st_nlink == 2);
	free(m.p);

	tar_begin(&t);
	tar_hardlink(&t, "dangling", "no/such/file");
	m = tar_end(&t);
	CHECK(unpack_mem(&m, d, NULL, NULL, &e) == -ENOENT);
	CHECK(strstr(e.msg, "'dangling'") && strstr(e.msg, "'no/such/file'"));
	free(m.p);
	close(d);
}

static void test_devices(void)
{
	int d = fresh_dest("dev");
	berth_err e;
	unpack_stats st;
	tarw t;
	tar_begin(&t);
	tar_dev(&t, "dev/null", AE_IFCHR, 1, 3);
	tar_dev(&t, "dev/sda", AE_IFBLK, 8, 0);
	tar_dev(&t, "fifo", AE_IFIFO, 0, 0);
	tar_file(&t, "dev/ok", "ok");
	mem m = tar_end(&t);
	CHECK(unpack_mem(&m, d, NULL, &st, &e) == 0);
	CHECK(!exists(d, "dev/null") && !exists(d, "dev/sda") && !exists(d, "fifo"));
	CHECK(has_file(d, "dev/ok", "ok"));
	CHECK(st.skipped == 3 && st.entries == 4);
	free(m.p);
	close(d);
}

static void test_metadata(void)
{
	int d = fresh_dest("meta");
	berth_err e;
	unpack_opts o = {.chown = true};
	/* security.capability v2: cap_net_raw permitted + effective */
	unsigned char cap[20] = {0};
	uint32_t magic = 0x02000001, net_raw = 1u << 13;
	memcpy(cap, &magic, 4);
	memcpy(cap + 4, &net_raw, 4);
	tarw t;
	tar_begin(&t);
	struct archive_entry *x = ent("sbin", AE_IFDIR, 02750);
	archive_entry_set_mtime(x, 1000000, 0);
	archive_entry_set_uid(x, 1234);
	archive_entry_set_gid(x, 4321);
	put(&t, x, NULL, 0);
	x = ent("sbin/su", AE_IFREG, 04755);
	archive_entry_set_uid(x, 1234);
	archive_entry_set_gid(x, 1234);
	archive_entry_set_mtime(x, 2000000, 500);
	put(&t, x, "#!", 2);
	x = ent("sbin/ping", AE_IFREG, 0755);
	archive_entry_xattr_add_entry(x, "security.capability", cap, sizeof(cap));
	archive_entry_xattr_add_entry(x, "user.note", "hi", 2);
	archive_entry_xattr_add_entry(x, "trusted.overlay.redirect", "/etc", 4);
	archive_entry_xattr_add_entry(x, "security.selinux", "system_u:object_r:x", 19);
	archive_entry_set_uid(x, 7);
	put(&t, x, "ping", 4);
	x = ent("sbin/link", AE_IFLNK, 0777);
	archive_entry_set_symlink(x, "su");
	archive_entry_set_uid(x, 55);
	archive_entry_set_mtime(x, 3000000, 0);
	put(&t, x, NULL, 0);
	tar_file(&t, "sbin/later", "changes the directory mtime");
	mem m = tar_end(&t);
	CHECK(unpack_mem(&m, d, &o, NULL, &e) == 0);
	if (e.code)
		fprintf(stderr, "%s\n", e.msg);
	struct stat st;
	CHECK(fstatat(d, "sbin/su", &st, AT_SYMLINK_NOFOLLOW) == 0);
	CHECK((st.st_mode & 07777) == 04755 && st.st_uid == 1234 && st.st_gid == 1234);
	CHECK(st.st_mtim.tv_sec == 2000000 && st.st_mtim.tv_nsec == 500);
	CHECK(fstatat(d, "sbin", &st, AT_SYMLINK_NOFOLLOW) == 0);
	CHECK((st.st_mode & 07777) == 02750 && st.st_uid == 1234 && st.st_gid == 4321);
	CHECK(st.st_mtim.tv_sec == 1000000);
	CHECK(fstatat(d, "sbin/link", &st, AT_SYMLINK_NOFOLLOW) == 0);
	CHECK(S_ISLNK(st.st_mode) && st.st_uid == 55 && st.st_mtim.tv_sec == 3000000);

	char path[256], val[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d/sbin/ping", d);
	CHECK(getxattr(path, "security.capability", val, sizeof(val)) == sizeof(cap));
	CHECK(!memcmp(val, cap, sizeof(cap)));
	CHECK(getxattr(path, "user.note", val, sizeof(val)) == 2 && !memcmp(val, "hi", 2));
	CHECK(getxattr(path, "trusted.overlay.redirect", val, sizeof(val)) < 0);
	CHECK(fstatat(d, "sbin/ping", &st, 0) == 0 && st.st_uid == 7);
	free(m.p);
	close(d);
}

static void test_sparse_and_limits(void)
{
	int d = fresh_dest("sparse");
	berth_err e;
	const la_int64_t big = 10ll << 30;
	tarw t;
	tar_begin(&t);
	struct archive_entry *x = ent("huge", AE_IFREG, 0644);
	archive_entry_set_size(x, big);
	archive_entry_sparse_add_entry(x, 0, 4096);
	archive_entry_sparse_add_entry(x, big - 4096, 4096);
	if (archive_write_header(t.a, x) != ARCHIVE_OK)
		abort();
	/* libarchive's writer takes the whole contents and drops the holes itself */
	static char blk[4096];
	memset(blk, 'z', sizeof(blk));
	const size_t zlen = 64 << 20;
	char *zeros = calloc(1, zlen); /* never touched: costs no memory */
	CHECK(archive_write_data(t.a, blk, sizeof(blk)) == (la_ssize_t)sizeof(blk));
	for (la_int64_t left = big - 2 * 4096; left > 0;) {
		size_t n = left > (la_int64_t)zlen ? zlen : (size_t)left;
		CHECK(archive_write_data(t.a, zeros, n) == (la_ssize_t)n);
		left -= (la_int64_t)n;
	}
	CHECK(archive_write_data(t.a, blk, sizeof(blk)) == (la_ssize_t)sizeof(blk));
	free(zeros);
	archive_entry_free(x);
	mem m = tar_end(&t);
	CHECK(m.n < (1u << 20));
	unpack_stats st;
	CHECK(unpack_mem(&m, d, NULL, &st, &e) == 0);
	if (e.code)
		fprintf(stderr, "%s\n", e.msg);
	struct stat sb;
	CHECK(fstatat(d, "huge", &sb, 0) == 0);
	CHECK(sb.st_size == big);
	CHECK((uint64_t)sb.st_blocks * 512 < (1u << 20));
	CHECK(st.bytes == 2 * sizeof(blk));
	int fd = openat(d, "huge", O_RDONLY);
	char c = 0;
	CHECK(pread(fd, &c, 1, big - 1) == 1 && c == 'z');
	CHECK(pread(fd, &c, 1, 5000) == 1 && c == 0);
	close(fd);

	/* The apparent size counts against the limit, sparse or not. */
	unpack_opts o = {.max_file_size = 1 << 20};
	CHECK(unpack_mem(&m, d, &o, NULL, &e) == -EFBIG);
	CHECK(strstr(e.msg, "'huge'") && strstr(e.msg, "limit"));
	free(m.p);
	close(d);
}

static void test_overlay_whiteouts(void)
{
	int d = fresh_dest("overlay");
	berth_err e;
	tarw t;
	tar_begin(&t);
	tar_dir(&t, "d");
	tar_file(&t, "d/.wh.gone", "");
	tar_file(&t, "o/.wh..wh..opq", "");
	tar_file(&t, ".wh..wh.plnk", "");
	tar_dev(&t, "cw", AE_IFCHR, 0, 0);
	mem m = tar_end(&t);
	unpack_opts o = {.whiteouts = WHITEOUT_OVERLAY};
	CHECK(unpack_mem(&m, d, &o, NULL, &e) == 0);
	if (e.code)
		fprintf(stderr, "%s\n", e.msg);
	struct stat st;
	CHECK(fstatat(d, "d/gone", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode) &&
	      st.st_rdev == makedev(0, 0));
	CHECK(fstatat(d, "cw", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode));
	CHECK(!exists(d, "d/.wh.gone") && !exists(d, ".wh..wh.plnk"));
	char path[128], val[8] = {0};
	snprintf(path, sizeof(path), "/proc/self/fd/%d/o", d);
	CHECK(getxattr(path, "trusted.overlay.opaque", val, sizeof(val)) == 1 && val[0] == 'y');
	CHECK(!exists(d, "o/.wh..wh..opq"));

	/* rootless form */
	close(d);
	d = fresh_dest("overlay");
	o.overlay_xattr_prefix = "user.overlay.";
	CHECK(unpack_mem(&m, d, &o, NULL, &e) == 0);
	memset(val, 0, sizeof(val));
	CHECK(getxattr(path, "user.overlay.opaque", val, sizeof(val)) == 1 && val[0] == 'y');
	CHECK(getxattr(path, "trusted.overlay.opaque", val, sizeof(val)) < 0);

	/* whiteout names that are not names */
	free(m.p);
	tar_begin(&t);
	tar_file(&t, "d/.wh..", "");
	m = tar_end(&t);
	CHECK(unpack_mem(&m, d, &o, NULL, &e) < 0 && strstr(e.msg, "'d/.wh..'"));
	free(m.p);
	close(d);
}

static void test_apply_whiteouts(void)
{
	int d = fresh_dest("apply");
	berth_err e;
	unpack_opts o = {.whiteouts = WHITEOUT_APPLY, .chown = true};
	tarw t;
	tar_begin(&t);
	tar_file(&t, "d/a", "a");
	tar_file(&t, "d/b/x", "x");
	tar_file(&t, "d/keep", "k");
	tar_symlink(&t, "d/link", "/");
	tar_file(&t, "o/old", "old");
	tar_file(&t, "o/sub/old", "old");
	tar_file(&t, "o/sub2/old", "old");
	tar_file(&t, "f/isdir/x", "x");
	tar_dir(&t, "kept");
	tar_file(&t, "kept/a", "a");
	mem l1 = tar_end(&t);
	tar_begin(&t);
	tar_file(&t, "d/.wh.a", "");
	tar_file(&t, "d/.wh.b", "");
	tar_file(&t, "d/.wh.link", "");
	tar_file(&t, "d/.wh.never-existed", "");
	tar_file(&t, "nodir/.wh.x", "");
	tar_file(&t, "o/new", "new");
	tar_file(&t, "o/sub/new", "new");
	tar_file(&t, "o/.wh..wh..opq", "");
	tar_file(&t, "o/after", "after");
	tar_file(&t, "f/isdir", "now a file");
	struct archive_entry *x = ent("kept", AE_IFDIR, 0710);
	archive_entry_set_mtime(x, 12345, 0);
	put(&t, x, NULL, 0);
	mem l2 = tar_end(&t);
	CHECK(unpack_mem(&l1, d, &o, NULL, &e) == 0);
	CHECK(unpack_mem(&l2, d, &o, NULL, &e) == 0);
	if (e.code)
		fprintf(stderr, "%s\n", e.msg);
	CHECK(!exists(d, "d/a") && !exists(d, "d/b") && !exists(d, "d/link"));
	CHECK(!exists(d, "nodir"));
	CHECK(has_file(d, "d/keep", "k"));
	CHECK(!exists(d, "d/.wh.a"));
	CHECK(!exists(d, "o/old") && !exists(d, "o/sub/old") && !exists(d, "o/sub2"));
	CHECK(has_file(d, "o/new", "new") && has_file(d, "o/sub/new", "new"));
	CHECK(has_file(d, "o/after", "after"));
	CHECK(has_file(d, "f/isdir", "now a file"));
	/* a directory over a directory keeps its contents and takes the new metadata */
	struct stat st;
	CHECK(has_file(d, "kept/a", "a"));
	CHECK(fstatat(d, "kept", &st, 0) == 0 && (st.st_mode & 07777) == 0710 &&
	      st.st_mtim.tv_sec == 12345);
	CHECK(canary_intact());
	/* the whiteout of a symlink to / removed the link, not the root */
	CHECK(has_file(d, "d/keep", "k"));
	free(l1.p);
	free(l2.p);
	close(d);
}

/* Become root of a new user namespace that maps only our own id. */
static int enter_userns(uid_t self)
{
	char map[64];
	snprintf(map, sizeof(map), "0 %u 1", self);
	const char *files[] = {"/proc/self/uid_map", "/proc/self/setgroups", "/proc/self/gid_map"};
	const char *data[] = {map, "deny", map};
	if (unshare(CLONE_NEWUSER) < 0)
		return -1;
	for (int i = 0; i < 3; i++) {
		int fd = open(files[i], O_WRONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : write(fd, data[i], strlen(data[i]));
		if (fd >= 0)
			close(fd);
		if (n < 0)
			return -1;
	}
	return 0;
}

/* As an unprivileged user, in a user namespace of its own (ids beyond it unmapped) or not,
 * the way rootless berth unpacks: chown failures ignored, user.overlay. whiteouts, hard
 * links without CAP_DAC_READ_SEARCH. */
static void test_rootless(bool userns)
{
	int d = fresh_dest("rootless");
	const uid_t nobody = 65534;
	CHECK(fchown(d, nobody, nobody) == 0);
	tarw t;
	tar_begin(&t);
	struct archive_entry *x = ent("f", AE_IFREG, 04755);
	archive_entry_set_uid(x, 1234);
	archive_entry_set_gid(x, 1234);
	archive_entry_xattr_add_entry(x, "user.x", "1", 1);
	archive_entry_xattr_add_entry(x, "trusted.x", "1", 1);
	unsigned char cap[20] = {1, 0, 0, 2, 0, 0x20}; /* v2, effective, cap_net_raw */
	archive_entry_xattr_add_entry(x, "security.capability", cap, sizeof(cap));
	put(&t, x, "data", 4);
	tar_dir(&t, "d");
	tar_hardlink(&t, "d/h", "f");
	tar_symlink(&t, "s", "/etc");
	tar_file(&t, "d/.wh.gone", "");
	tar_file(&t, "o/.wh..wh..opq", "");
	tar_dev(&t, "null", AE_IFCHR, 1, 3);
	mem m = tar_end(&t);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		int r = setgroups(0, NULL) || setresgid(nobody, nobody, nobody) ||
			setresuid(nobody, nobody, nobody) || prctl(PR_SET_DUMPABLE, 1);
		if (!r && userns)
			r = enter_userns(nobody);
		if (r) {
			perror("dropping to nobody");
			_exit(2);
		}
		unpack_opts o = {.overlay_xattr_prefix = "user.overlay.", .chown = false};
		berth_err e;
		unpack_stats st;
		if (unpack_mem(&m, d, &o, &st, &e) < 0) {
			fprintf(stderr, "rootless unpack: %s\n", e.msg);
			_exit(1);
		}
		_exit(st.skipped == 1 ? 0 : 3);
	}
	int status = -1;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	struct stat a, b;
	CHECK(fstatat(d, "f", &a, 0) == 0 && fstatat(d, "d/h", &b, 0) == 0);
	CHECK(a.st_ino == b.st_ino && (a.st_mode & 07777) == 04755 && a.st_uid == nobody);
	CHECK(fstatat(d, "d/gone", &a, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(a.st_mode) &&
	      a.st_rdev == 0);
	CHECK(fstatat(d, "s", &a, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(a.st_mode));
	char path[128], val[8] = {0};
	snprintf(path, sizeof(path), "/proc/self/fd/%d/o", d);
	CHECK(getxattr(path, "user.overlay.opaque", val, sizeof(val)) == 1 && val[0] == 'y');
	snprintf(path, sizeof(path), "/proc/self/fd/%d/f", d);
	CHECK(getxattr(path, "user.x", val, sizeof(val)) == 1 && val[0] == '1');
	CHECK(getxattr(path, "trusted.x", val, sizeof(val)) < 0);
	/* file capabilities need CAP_SETFCAP, which only the namespace gives */
	CHECK((getxattr(path, "security.capability", NULL, 0) > 0) == userns);
	free(m.p);
	close(d);
}

static void compress_gzip(const mem *in, size_t split, mem *out)
{
	/* split > 0: two gzip members, as pigz and some registries produce */
	size_t parts[2][2] = {{0, split ? split : in->n}, {split, split ? in->n - split : 0}};
	for (int i = 0; i < 2; i++) {
		if (i == 1 && !split)
			break;
		struct archive *a = archive_write_new();
		archive_write_set_format_raw(a);
		archive_write_add_filter_gzip(a);
		archive_write_set_bytes_in_last_block(a, 1);
		archive_write_open(a, out, NULL, mem_write, NULL);
		struct archive_entry *x = ent("data", AE_IFREG, 0644);
		archive_write_header(a, x);
		archive_write_data(a, in->p + parts[i][0], parts[i][1]);
		archive_entry_free(x);
		archive_write_close(a);
		archive_write_free(a);
	}
}

static void test_compressed_diff_ids(void)
{
	berth_err e;
	tarw t;
	tar_begin(&t);
	tar_dir(&t, "etc");
	tar_file(&t, "etc/hostname", "berth\n");
	static char blob[300000];
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (char)(i * 7 + i / 1000);
	put(&t, ent("bin/blob", AE_IFREG, 0755), blob, sizeof(blob));
	mem raw = tar_end(&t);
	char want[DIGEST_STR_LEN], got[DIGEST_STR_LEN];
	sha256_buf(raw.p, raw.n, want);

	mem gz = {0}, gz2 = {0}, zs = {0};
	compress_gzip(&raw, 0, &gz);
	compress_gzip(&raw, raw.n / 3, &gz2);
	zs.cap = ZSTD_compressBound(raw.n);
	zs.p = malloc(zs.cap);
	zs.n = ZSTD_compress(zs.p, zs.cap, raw.p, raw.n, 3);
	CHECK(!ZSTD_isError(zs.n));

	const mem *blobs[] = {&raw, &gz, &gz2, &zs};
	const layer_compression kinds[] = {COMPRESSION_NONE, COMPRESSION_GZIP, COMPRESSION_GZIP,
					   COMPRESSION_ZSTD};
	for (size_t i = 0; i < 4; i++) {
		CHECK(compression_sniff(blobs[i]->p, blobs[i]->n) == kinds[i]);
		int d = fresh_dest("diffid");
		int fd = memfd_of(blobs[i]->p, blobs[i]->n);
		unpack_stats st;
		berr_clear(&e);
		CHECK(unpack_layer_fd(fd, kinds[i], d, NULL, got, &st, &e) == 0);
		if (e.code)
			fprintf(stderr, "%s\n", e.msg);
		CHECK_STREQ(got, want);
		CHECK(has_file(d, "etc/hostname", "berth\n"));
		struct stat sb;
		CHECK(fstatat(d, "bin/blob", &sb, 0) == 0 && sb.st_size == sizeof(blob));
		CHECK(st.entries == 3 && st.bytes == 6 + sizeof(blob));
		close(fd);
		close(d);
	}

	/* Truncated gzip and zstd fail cleanly and say so. */
	const mem *comp[] = {&gz, &zs};
	for (size_t i = 0; i < 2; i++) {
		int d = fresh_dest("diffid");
		int fd = memfd_of(comp[i]->p, comp[i]->n - 50);
		berr_clear(&e);
		CHECK(unpack_layer_fd(fd, kinds[i + 1], d, NULL, got, NULL, &e) == -EBADMSG);
		CHECK(strstr(e.msg, "truncated") != NULL);
		CHECK(got[0] == 0);
		close(fd);
		close(d);
	}

	/* A flipped byte in the middle of the deflate data. */
	gz.p[gz.n / 2] ^= 0x55;
	int d = fresh_dest("diffid");
	int fd = memfd_of(gz.p, gz.n);
	berr_clear(&e);
	CHECK(unpack_layer_fd(fd, COMPRESSION_GZIP, d, NULL, got, NULL, &e) == -EBADMSG);
	CHECK(strstr(e.msg, "gzip") && strstr(e.msg, "corrupt"));
	close(fd);
	close(d);

	/* A tar cut short (uncompressed) is a tar error, not a crash. */
	mem cut = {raw.p, 1536 + 512 + 1000, 0}; /* inside bin/blob's data */
	d = fresh_dest("diffid");
	CHECK(unpack_mem(&cut, d, NULL, NULL, &e) < 0);
	CHECK(strstr(e.msg, "tar") != NULL);
	close(d);

	free(raw.p);
	free(gz.p);
	free(gz2.p);
	free(zs.p);
}

int main(void)
{
	snprintf(base, sizeof(base), "/tmp/berth-test-unpack-XXXXXX");
	if (!mkdtemp(base))
		return 1;
	char p[128];
	snprintf(p, sizeof(p), "%s/canary", base);
	FILE *f = fopen(p, "w");
	fputs("original", f);
	fclose(f);

	test_dotdot();
	test_absolute_and_dots();
	test_symlink_escapes();
	test_symlink_from_lower_layer();
	test_hardlinks();
	test_devices();
	test_metadata();
	test_sparse_and_limits();
	test_overlay_whiteouts();
	test_apply_whiteouts();
	if (geteuid() == 0)
		test_rootless(true), test_rootless(false); /* root drops to nobody first */
	else
		printf("test-unpack: rootless case skipped, needs root to drop to nobody\n");
	test_compressed_diff_ids();

	CHECK(canary_intact());
	rm_rf(base);
	return unit_exit("test-unpack");
}
