/* SPDX-License-Identifier: MIT */
/*
 * The console log: the machine's console output (and the monitor's own lines, marked
 * "[berth]") appended to console.log, rotated to console.log.1 when it grows past
 * MACHINE_CONSOLE_MAX so a chatty machine never fills the disk.
 */
#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "machine-internal.h"

int console_log_open(console_log *c, int dirfd)
{
	c->dirfd = dirfd;
	c->fd = openat(dirfd, MACHINE_CONSOLE,
		       O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (c->fd < 0)
		return -errno;
	struct stat st;
	c->size = fstat(c->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

static void rotate(console_log *c)
{
	char old[64];
	snprintf(old, sizeof(old), "%s.1", MACHINE_CONSOLE);
	renameat(c->dirfd, MACHINE_CONSOLE, c->dirfd, old);
	close(c->fd);
	c->fd = openat(c->dirfd, MACHINE_CONSOLE,
		       O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	c->size = 0;
}

void console_log_write(console_log *c, const void *data, size_t len)
{
	if (c->fd < 0)
		return;
	if (c->size + len > MACHINE_CONSOLE_MAX)
		rotate(c);
	const char *p = data;
	while (len > 0 && c->fd >= 0) {
		ssize_t w = write(c->fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* a full disk must not stop the machine */
		p += w;
		len -= (size_t)w;
		c->size += (uint64_t)w;
	}
}

size_t console_line_v(char *buf, size_t size, const char *fmt, va_list ap)
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	int n = (int)strftime(buf, size, "\r\n[berth %FT%TZ] ", &tm);
	int m = vsnprintf(buf + n, size - (size_t)n - 3, fmt, ap);
	if (m < 0)
		return 0;
	n += m;
	if (n > (int)size - 3)
		n = (int)size - 3;
	buf[n++] = '\r';
	buf[n++] = '\n';
	return (size_t)n;
}

void console_log_say(console_log *c, const char *fmt, ...)
{
	char buf[2300];
	va_list ap;
	va_start(ap, fmt);
	size_t n = console_line_v(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n)
		console_log_write(c, buf, n);
}

void console_log_close(console_log *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
