/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "machine.h"

static const char usage[] =
    "Usage: berth logs [OPTIONS] [NAME]\n"
    "\n"
    "Print the console output of the machine NAME (default: the default machine): what its\n"
    "init and services wrote to /dev/console, and berth's own lines marked [berth].\n"
    "\n"
    "Options:\n"
    "  -n, --lines N   only the last N lines\n"
    "  -f, --follow    keep printing new output until the machine stops\n"
    "  -h, --help      print this help\n";

static int write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDOUT_FILENO, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Offset where the last n lines of fd begin. */
static off_t last_lines(int fd, long n)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size == 0)
		return 0;
	char buf[8192];
	off_t end = st.st_size, pos = end;
	long seen = 0;
	bool first = true;
	while (pos > 0) {
		size_t chunk = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
		pos -= (off_t)chunk;
		ssize_t k = pread(fd, buf, chunk, pos);
		if (k <= 0)
			return 0;
		for (ssize_t i = k; i-- > 0;) {
			if (buf[i] != '\n')
				continue;
			if (first && pos + i == end - 1) /* the final newline */
				continue;
			if (++seen == n)
				return pos + i + 1;
		}
		first = false;
	}
	return 0;
}

static bool machine_running(const berth_ctx *ctx, const char *name)
{
	machine_info info;
	berth_err e = {0};
	if (machine_info_load(ctx, name, &info, &e) < 0)
		return false;
	return info.status == MACHINE_RUNNING || info.status == MACHINE_STARTING ||
	       info.status == MACHINE_STOPPING;
}

int cmd_logs(berth_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"lines", required_argument, NULL, 'n'},
	    {"follow", no_argument, NULL, 'f'},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	long lines = -1;
	bool follow = false;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "hqn:f", opts, NULL)) != -1) {
		if (c == 'n') {
			char *end;
			lines = strtol(optarg, &end, 10);
			if (*end || end == optarg || lines < 0)
				return cli_usage(ctx, "logs", "--lines wants a number, not '%s'",
						 optarg);
			continue;
		}
		if (c == 'f') {
			follow = true;
			continue;
		}
		int r = cli_other_opt(ctx, c, "logs", usage);
		if (r >= 0)
			return r;
	}
	if (argc - optind > 1)
		return cli_usage(ctx, "logs", "'logs' takes one machine name");
	berth_err e = {0};
	_cleanup_free_ char *name = NULL;
	machine_info info;
	if (machine_resolve_name(ctx, optind < argc ? argv[optind] : NULL, &name, &e) < 0 ||
	    machine_info_load(ctx, name, &info, &e) < 0)
		return cli_fail(ctx, &e);
	_cleanup_free_ char *dir = machine_dir(ctx, name);
	char path[4200];
	snprintf(path, sizeof(path), "%s/console.log", dir ? dir : "");
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno != ENOENT) {
		berr_errno(&e, -errno, "Cannot read the console log of machine '%s'", name);
		return cli_fail(ctx, &e);
	}
	off_t pos = fd >= 0 && lines >= 0
			? (lines == 0 ? lseek(fd, 0, SEEK_END) : last_lines(fd, lines))
			: 0;
	struct stat cur = {0};
	if (fd >= 0)
		fstat(fd, &cur);
	char buf[65536];
	int idle = 0;
	for (;;) {
		ssize_t k = fd >= 0 ? pread(fd, buf, sizeof(buf), pos) : 0;
		if (k > 0) {
			if (write_all(buf, (size_t)k) < 0)
				break;
			pos += k;
			continue;
		}
		if (!follow)
			break;
		/* Rotated (console.log.1) or created since: start on the new file. */
		struct stat now;
		if (stat(path, &now) == 0 && (fd < 0 || now.st_ino != cur.st_ino)) {
			if (fd >= 0)
				close(fd);
			fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (fd >= 0)
				fstat(fd, &cur);
			pos = 0;
			continue;
		}
		if (++idle % 10 == 0 && !machine_running(ctx, name)) {
			/* One last read: the monitor's final lines. */
			if (fd >= 0 && (k = pread(fd, buf, sizeof(buf), pos)) > 0) {
				idle = 0;
				continue;
			}
			break;
		}
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (fd >= 0)
		close(fd);
	return 0;
}
