/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Ask the filesystem to spread the subdirectories made in dirfd over the disk, as it does
 * for the top-level directories of a filesystem (ext4's Orlov allocator, FS_TOPDIR_FL).
 *
 * Each layer is unpacked into its own scratch directory under the store's tmp/. Without the
 * hint ext4 puts every layer's thousands of inodes in the block groups of the store itself,
 * next to the inodes of layers and images deleted moments before; ext4 without a journal
 * skips recently freed inodes one by one on every allocation, so creating a file costs time
 * that grows with what was deleted nearby. With it each scratch directory (a random name)
 * starts in a group of its own.
 *
 * Only a hint: 0, or a negative errno when the filesystem has no such flag (tmpfs, ...),
 * which callers may ignore.
 */
int fs_spread_subdirs(int dirfd);
