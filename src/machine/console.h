/* SPDX-License-Identifier: MIT */
#pragma once
/* The monitor's console log writer (console.c). */
#include <stddef.h>
#include <stdint.h>

typedef struct console_log {
	int dirfd; /* the machine's directory (not owned) */
	int fd;
	uint64_t size;
} console_log;

/* Open console.log for appending; a negative errno on failure. */
int console_log_open(console_log *c, int dirfd);
/* Append console output, rotating when the log is full. Never fails the caller. */
void console_log_write(console_log *c, const void *data, size_t len);
/* Append a line of the monitor's own ("[berth <time>] ..."). */
void console_log_say(console_log *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void console_log_close(console_log *c);
