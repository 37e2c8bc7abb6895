/* SPDX-License-Identifier: MIT */
/* Init detection on fake root filesystems and overlay layer stacks. */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "runtime.h"

static char base[256];
static int n_roots;

/* mkdir -p of every parent of path under root. */
static void parents(const char *root, const char *path)
{
	char full[2 * PATH_MAX];
	snprintf(full, sizeof(full), "%s/%s", root, path);
	for (char *p = full + strlen(root) + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(full, 0755);
			*p = '/';
		}
}

static void file(const char *root, const char *path, mode_t mode, const char *content)
{
	parents(root, path);
	char full[2 * PATH_MAX];
	snprintf(full, sizeof(full), "%s/%s", root, path);
	int fd = open(full, O_WRONLY | O_CREAT | O_TRUNC, mode);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
	fchmod(fd, mode);
	close(fd);
}

static void link_(const char *root, const char *path, const char *target)
{
	parents(root, path);
	char full[2 * PATH_MAX];
	snprintf(full, sizeof(full), "%s/%s", root, path);
	CHECK(symlink(target, full) == 0);
}

static const char *new_root(char *buf)
{
	snprintf(buf, PATH_MAX, "%s/r%d", base, n_roots++);
	CHECK(mkdir(buf, 0755) == 0);
	return buf;
}

static rt_init_info detect(const char *const *layers, size_t n)
{
	rt_init_info info;
	berth_err e = {0};
	int r = rt_init_detect(layers, n, &info, &e);
	CHECK(r == 0);
	if (r < 0)
		fprintf(stderr, "rt_init_detect: %s\n", e.msg);
	return info;
}

static rt_init_info detect1(const char *root)
{
	const char *l[] = {root};
	return detect(l, 1);
}

static void test_single_roots(void)
{
	char r[PATH_MAX];
	rt_init_info i;

	new_root(r); /* Debian: /sbin/init -> /lib/systemd/systemd */
	file(r, "lib/systemd/systemd", 0755,
	     "\x7f"
	     "ELF fake");
	link_(r, "sbin/init", "/lib/systemd/systemd");
	i = detect1(r);
	CHECK(i.kind == RT_INIT_SYSTEMD && i.stop_signal == SIGRTMIN + 3);
	CHECK_STREQ(i.path, "/sbin/init");
	CHECK(!i.openrc);

	new_root(r); /* merged /usr with relative links */
	file(r, "usr/lib/systemd/systemd", 0755, "x");
	link_(r, "sbin", "usr/sbin");
	link_(r, "usr/sbin/init", "../lib/systemd/systemd");
	i = detect1(r);
	CHECK(i.kind == RT_INIT_SYSTEMD);

	new_root(r); /* systemd without systemd-sysv: no /sbin/init */
	file(r, "lib/systemd/systemd", 0755, "x");
	i = detect1(r);
	CHECK(i.kind == RT_INIT_SYSTEMD);
	CHECK_STREQ(i.path, "/lib/systemd/systemd");

	new_root(r); /* busybox */
	file(r, "bin/busybox", 0755, "x");
	link_(r, "sbin/init", "../bin/busybox");
	i = detect1(r);
	CHECK(i.kind == RT_INIT_BUSYBOX && i.stop_signal == SIGUSR2);

	new_root(r); /* busybox copied in as a regular /sbin/init */
	file(r, "sbin/init", 0755, "....BusyBox v1.36.1 (2023)....");
	i = detect1(r);
	CHECK(i.kind == RT_INIT_BUSYBOX);

	new_root(r); /* sysvinit: a regular binary */
	file(r, "sbin/init", 0755,
	     "\x7f"
	     "ELF...INIT_VERSION=sysvinit-3.06...");
	i = detect1(r);
	CHECK(i.kind == RT_INIT_SYSVINIT && i.stop_signal == SIGINT);

	new_root(r); /* openrc-init */
	file(r, "sbin/openrc-init", 0755, "x");
	file(r, "sbin/openrc", 0755, "x");
	i = detect1(r);
	CHECK(i.kind == RT_INIT_OPENRC && i.stop_signal == SIGTERM && i.openrc);
	CHECK_STREQ(i.path, "/sbin/openrc-init");

	new_root(r); /* Alpine: busybox init running OpenRC */
	file(r, "bin/busybox", 0755, "x");
	link_(r, "sbin/init", "/bin/busybox");
	file(r, "sbin/openrc", 0755, "x");
	i = detect1(r);
	CHECK(i.kind == RT_INIT_BUSYBOX && i.openrc);

	new_root(r); /* no init */
	file(r, "bin/sh", 0755, "x");
	i = detect1(r);
	CHECK(i.kind == RT_INIT_NONE && i.path[0] == 0 && i.stop_signal == SIGRTMIN + 3);

	new_root(r); /* not executable */
	file(r, "lib/systemd/systemd", 0644, "x");
	link_(r, "sbin/init", "/lib/systemd/systemd");
	i = detect1(r);
	CHECK(i.kind == RT_INIT_NONE);

	new_root(r); /* an unknown regular /sbin/init is not guessed at */
	file(r, "sbin/init", 0755, "#!/bin/sh\nexec sleep infinity\n");
	i = detect1(r);
	CHECK(i.kind == RT_INIT_NONE);

	new_root(r); /* ".." cannot leave the root, even though the host has /bin/busybox */
	link_(r, "sbin/init", "../../../../../../../../bin/busybox");
	i = detect1(r);
	CHECK(i.kind == RT_INIT_NONE);
	file(r, "bin/busybox", 0755, "x"); /* ...it lands on the root's own /bin/busybox */
	i = detect1(r);
	CHECK(i.kind == RT_INIT_BUSYBOX);

	new_root(r); /* absolute links are relative to the root, not the host */
	link_(r, "sbin/init", "/usr/bin/env");
	i = detect1(r);
	CHECK(i.kind == RT_INIT_NONE);

	new_root(r); /* symlink loops end */
	link_(r, "sbin/init", "/sbin/init2");
	link_(r, "sbin/init2", "/sbin/init");
	link_(r, "lib", "lib");
	i = detect1(r);
	CHECK(i.kind == RT_INIT_NONE);

	new_root(r); /* a component that is a file */
	file(r, "lib", 0755, "x");
	i = detect1(r);
	CHECK(i.kind == RT_INIT_NONE);

	/* A missing layer directory is an error with a sentence. */
	const char *missing[] = {"/nonexistent/berth-layer"};
	berth_err e = {0};
	CHECK(rt_init_detect(missing, 1, &i, &e) < 0 && strstr(e.msg, "/nonexistent/berth-layer"));
}

static void test_layers(void)
{
	char up[PATH_MAX], low[PATH_MAX];
	rt_init_info i;

	/* Init in a lower layer, an empty upper. */
	new_root(up);
	new_root(low);
	file(low, "lib/systemd/systemd", 0755, "x");
	link_(low, "sbin/init", "/lib/systemd/systemd");
	const char *l[] = {up, low};
	i = detect(l, 2);
	CHECK(i.kind == RT_INIT_SYSTEMD);

	/* The upper layer replaces /sbin/init (the machine installed busybox as init). */
	file(up, "bin/busybox", 0755, "x");
	link_(up, "sbin/init", "/bin/busybox");
	i = detect(l, 2);
	CHECK(i.kind == RT_INIT_BUSYBOX);

	/* A regular file in the upper hides a lower directory's contents. */
	new_root(up);
	file(up, "lib", 0644, "x");
	const char *l2[] = {up, low};
	i = detect(l2, 2);
	CHECK(i.kind == RT_INIT_NONE);

	/* An opaque directory hides what the lower layers have under it. */
	new_root(up);
	char lib[PATH_MAX + 8];
	snprintf(lib, sizeof(lib), "%s/lib", up);
	CHECK(mkdir(lib, 0755) == 0);
	const char *l3[] = {up, low};
	if (setxattr(lib, "user.overlay.opaque", "y", 1, 0) == 0) {
		i = detect(l3, 2);
		CHECK(i.kind == RT_INIT_NONE);
		/* ...but a non-opaque directory merges. */
		CHECK(removexattr(lib, "user.overlay.opaque") == 0);
		i = detect(l3, 2);
		CHECK(i.kind == RT_INIT_SYSTEMD);
	} else {
		printf("# user xattrs unsupported here (%s): opaque directories not checked\n",
		       strerror(errno));
	}

	/* A whiteout (char device 0:0) deletes /sbin/init and /lib/systemd of the lower. */
	new_root(up);
	char wh[PATH_MAX + 32];
	parents(up, "sbin/init");
	snprintf(wh, sizeof(wh), "%s/sbin/init", up);
	if (mknod(wh, S_IFCHR | 0000, makedev(0, 0)) == 0) {
		parents(up, "lib/systemd");
		snprintf(wh, sizeof(wh), "%s/lib/systemd", up);
		CHECK(mknod(wh, S_IFCHR | 0000, makedev(0, 0)) == 0);
		const char *l4[] = {up, low};
		i = detect(l4, 2);
		CHECK(i.kind == RT_INIT_NONE);
	} else {
		printf("# cannot create whiteouts without CAP_MKNOD: whiteouts not checked\n");
	}
}

int main(void)
{
	snprintf(base, sizeof(base), "/tmp/berth-test-init-XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	test_single_roots();
	test_layers();
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	CHECK(system(cmd) == 0);
	return unit_exit("test-runtime-init");
}
