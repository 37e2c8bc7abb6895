/* SPDX-License-Identifier: MIT */
#include "inroot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"

int inroot_open(int root, const char *path, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	/* EAGAIN: a rename raced with a ".." lookup; the kernel asks to retry */
	for (int i = 0; i < 64; i++) {
		long fd = syscall(SYS_openat2, root, *path ? path : ".", &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
	}
	return -EAGAIN;
}

int inroot_normalize(const char *raw, char **out)
{
	char *p = malloc(strlen(raw) + 1);
	if (!p)
		return -ENOMEM;
	size_t o = 0;
	const char *s = raw;
	while (*s) {
		while (*s == '/')
			s++;
		const char *c = s;
		while (*s && *s != '/')
			s++;
		size_t n = (size_t)(s - c);
		if (n == 0 || (n == 1 && c[0] == '.'))
			continue;
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			free(p);
			return -EPERM;
		}
		if (o)
			p[o++] = '/';
		memcpy(p + o, c, n);
		o += n;
	}
	p[o] = 0;
	*out = p;
	return 0;
}

int inroot_mkdirs(int root, const char *path, mode_t mode,
		  int (*made)(const char *path, void *opaque), void *opaque)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	_cleanup_close_ int prev = inroot_open(root, "", O_PATH | O_DIRECTORY);
	if (prev < 0 || !*p)
		return TAKE_FD(prev);
	char *comp = p;
	for (;;) {
		char *slash = strchr(comp, '/');
		if (slash)
			*slash = 0;
		int fd = inroot_open(root, p, O_PATH | O_DIRECTORY);
		if (fd == -ENOENT) {
			if (mkdirat(prev, comp, 0700) < 0 && errno != EEXIST)
				return -errno;
			fd = openat(prev, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				return errno == ELOOP || errno == ENOENT ? -ENOTDIR : -errno;
			int r = fchmod(fd, mode) < 0 ? -errno : 0;
			if (r == 0 && made)
				r = made(p, opaque);
			if (r < 0) {
				close(fd);
				return r;
			}
		}
		if (fd < 0)
			return fd == -ELOOP ? -ENOTDIR : fd;
		close(prev);
		prev = fd;
		if (!slash)
			break;
		*slash = '/';
		comp = slash + 1;
	}
	return TAKE_FD(prev);
}

int inroot_rm_rf(int dfd, const char *name)
{
	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return -errno;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		int r = -errno;
		close(fd);
		return r;
	}
	/* entries removed while reading may be skipped by readdir: go over it again */
	for (int pass = 0; pass < 4; pass++) {
		struct dirent *de;
		errno = 0;
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			int r = inroot_rm_rf(dirfd(d), de->d_name);
			if (r < 0)
				return r;
			errno = 0;
		}
		if (errno)
			return -errno;
		if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
			return 0;
		if (errno != ENOTEMPTY)
			return -errno;
		rewinddir(d);
	}
	return -ENOTEMPTY;
}
