/* SPDX-License-Identifier: MIT */
#include "fs-spread.h"

#include <errno.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

int fs_spread_subdirs(int dirfd)
{
	int flags = 0; /* the kernel reads and writes an int, whatever the ioctl's type says */
	if (ioctl(dirfd, FS_IOC_GETFLAGS, &flags) < 0)
		return -errno;
	if (flags & FS_TOPDIR_FL)
		return 0;
	flags |= FS_TOPDIR_FL;
	return ioctl(dirfd, FS_IOC_SETFLAGS, &flags) < 0 ? -errno : 0;
}
