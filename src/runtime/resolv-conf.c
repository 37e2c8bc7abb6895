/* SPDX-License-Identifier: MIT */
/*
 * The machine's /etc/resolv.conf: berth writes one that works with the machine's network
 * (the DNS forwarder of nat mode, the host's own resolvers in host mode), and keeps its
 * hands off one the machine made its own.
 *
 * Runs in the machine's namespaces as its root, right before the init starts (like
 * user-setup.c). The file is replaced when it is missing, empty, a dangling symlink (a
 * resolver stub under /run that is not there yet), one berth wrote before (its first line
 * is RT_RESOLV_CONF_MARKER), or still the image's (replace_image_file: the monitor saw no
 * copy of it in the machine's upper directory). A resolv.conf the machine wrote itself is
 * kept as it is. The new file is renamed over the old one, never written through a symlink.
 */
#include "runtime-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

#define RESOLV_PATH "/etc/resolv.conf"

/* Whether the current file may be replaced. */
static bool replaceable(bool replace_image_file)
{
	struct stat st;
	if (lstat(RESOLV_PATH, &st) < 0)
		return errno == ENOENT;
	if (S_ISLNK(st.st_mode))
		return stat(RESOLV_PATH, &st) < 0 && errno == ENOENT; /* dangling */
	if (!S_ISREG(st.st_mode))
		return false;
	if (st.st_size == 0 || replace_image_file)
		return true;
	_cleanup_close_ int fd = open(RESOLV_PATH, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	char head[sizeof(RT_RESOLV_CONF_MARKER)] = {0};
	if (fd < 0 || read(fd, head, sizeof(head) - 1) != (ssize_t)sizeof(head) - 1)
		return false;
	return !memcmp(head, RT_RESOLV_CONF_MARKER, sizeof(head) - 1);
}

int rt_resolv_conf_setup(const char *content, bool replace_image_file, berth_err *e)
{
	if (!content || !replaceable(replace_image_file))
		return 0;
	struct stat st;
	if (lstat("/etc", &st) < 0 || !S_ISDIR(st.st_mode))
		return 0; /* an image without /etc: nothing would read it */
	int r = rt_write_file_atomic(RESOLV_PATH, content, strlen(content), 0644, 0, 0);
	if (r < 0)
		return berr_errno(e, r, "Cannot write the machine's " RESOLV_PATH);
	return 0;
}
