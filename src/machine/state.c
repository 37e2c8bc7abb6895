/* SPDX-License-Identifier: MIT */
/*
 * Small pieces of machine state shared by the CLI side and the monitor: process identity
 * (pid + start time + boot id), atomic JSON files, the lock file, the control socket
 * address, helper binaries and the console log's tail.
 */
#include "machine-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"

#ifndef BERTH_LIBEXECDIR
#define BERTH_LIBEXECDIR "/usr/local/libexec"
#endif

uint64_t proc_start_time(pid_t pid)
{
	if (pid <= 0)
		return 0;
	char p[64], buf[1024];
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* The command name may hold spaces and parentheses: fields start after the last ')'. */
	char *s = strrchr(buf, ')');
	if (!s)
		return 0;
	s++;
	/* Field 3 (state) is the first after ')'; start time is field 22. */
	char state = 0;
	unsigned long long start = 0;
	if (sscanf(s,
		   " %c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
		   "%*s %*s %llu",
		   &state, &start) != 2)
		return 0;
	if (state == 'Z' || state == 'X')
		return 0;
	return start;
}

bool proc_same(pid_t pid, uint64_t start)
{
	return pid > 0 && start && proc_start_time(pid) == start;
}

void host_boot_id(char out[64])
{
	out[0] = 0;
	_cleanup_close_ int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, out, 63);
	if (n <= 0) {
		out[0] = 0;
		return;
	}
	out[n] = 0;
	out[strcspn(out, "\n")] = 0;
}

int json_load_at(int dirfd, const char *file, json_t **out, berth_err *e)
{
	*out = NULL;
	int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : berr_errno(e, -errno, "Cannot open %s", file);
	_cleanup_fclose_ FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return berr_errno(e, -errno, "Cannot read %s", file);
	}
	json_error_t je;
	json_t *j = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		json_decref(j);
		return berr(e, -EBADMSG,
			    "The machine file %s is damaged (%s); remove the machine and create "
			    "it again",
			    file, je.text[0] ? je.text : "not a JSON object");
	}
	*out = j;
	return 0;
}

int json_save_at(int dirfd, const char *file, json_t *j, berth_err *e)
{
	_cleanup_free_ char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text)
		return berr(e, -ENOMEM, "Cannot format %s", file);
	char tmp[NAME_MAX + 1];
	snprintf(tmp, sizeof(tmp), ".%s.%d.tmp", file, (int)getpid());
	_cleanup_close_ int fd =
	    openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return berr_errno(e, -errno, "Cannot write %s", file);
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int r = berr_errno(e, -errno, "Cannot write %s", file);
			unlinkat(dirfd, tmp, 0);
			return r;
		}
		off += (size_t)w;
	}
	if (write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		int r = berr_errno(e, -errno, "Cannot write %s", file);
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	if (renameat(dirfd, tmp, dirfd, file) < 0) {
		int r = berr_errno(e, -errno, "Cannot replace %s", file);
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	return 0;
}

int machine_lock_fd(int dirfd, bool wait, berth_err *e)
{
	int fd = openat(dirfd, MACHINE_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return berr_errno(e, -errno, "Cannot open the machine's lock file");
	int r;
	do
		r = flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB));
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		int err = -errno;
		close(fd);
		if (err == -EWOULDBLOCK)
			return -EWOULDBLOCK;
		return berr_errno(e, err, "Cannot lock the machine");
	}
	return fd;
}

int control_sockaddr(int dirfd, void *sa, unsigned *len)
{
	struct sockaddr_un *u = sa;
	memset(u, 0, sizeof(*u));
	u->sun_family = AF_UNIX;
	int n = snprintf(u->sun_path, sizeof(u->sun_path), "/proc/self/fd/%d/%s", dirfd,
			 MACHINE_CONTROL);
	if (n < 0 || (size_t)n >= sizeof(u->sun_path))
		return -ENAMETOOLONG;
	*len = (unsigned)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
	return 0;
}

int state_update(int dirfd, json_t *fields, berth_err *e)
{
	json_t *st = NULL;
	berth_err ignore = {0};
	if (json_load_at(dirfd, MACHINE_STATE, &st, &ignore) < 0 || !st)
		st = json_object();
	if (!st) {
		json_decref(fields);
		return berr(e, -ENOMEM, "Out of memory");
	}
	json_object_update(st, fields);
	json_decref(fields);
	int r = json_save_at(dirfd, MACHINE_STATE, st, e);
	json_decref(st);
	return r;
}

char *machine_helper_path(const char *bin)
{
	const char *env =
	    strcmp(bin, BERTH_INIT_BIN) ? getenv("BERTH_MONITOR") : getenv("BERTH_INIT");
	if (env && *env == '/' && access(env, X_OK) == 0)
		return strdup(env);
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			char *p = NULL;
			if (asprintf(&p, "%s/%s", self, bin) >= 0) {
				if (access(p, X_OK) == 0)
					return p;
				free(p);
			}
		}
	}
	char *p = NULL;
	if (asprintf(&p, "%s/berth/%s", BERTH_LIBEXECDIR, bin) < 0)
		return NULL;
	if (access(p, X_OK) == 0)
		return p;
	free(p);
	return NULL;
}

char *console_tail(int dirfd, unsigned n_lines)
{
	_cleanup_close_ int fd = openat(dirfd, MACHINE_CONSOLE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return NULL;
	size_t max = 64 * 1024;
	off_t from = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
	char *buf = malloc(max + 1);
	if (!buf)
		return NULL;
	ssize_t n = pread(fd, buf, max, from);
	if (n < 0)
		n = 0;
	buf[n] = 0;
	/* Terminal control sequences and carriage returns make no sense in an error message. */
	size_t w = 0;
	for (ssize_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == 0x1b) { /* skip an escape sequence: ESC [ ... final byte */
			if (i + 1 < n && buf[i + 1] == '[') {
				i += 2;
				while (i < n && !((unsigned char)buf[i] >= 0x40 &&
						  (unsigned char)buf[i] <= 0x7e))
					i++;
			}
			continue;
		}
		if (c == '\r' || (c < 0x20 && c != '\n' && c != '\t'))
			continue;
		buf[w++] = (char)c;
	}
	buf[w] = 0;
	while (w > 0 && buf[w - 1] == '\n')
		buf[--w] = 0;
	unsigned seen = 0;
	char *start = buf;
	for (size_t i = w; i-- > 0;) {
		if (buf[i] == '\n' && ++seen == n_lines) {
			start = buf + i + 1;
			break;
		}
	}
	char *out = strdup(start);
	free(buf);
	return out;
}
