/* SPDX-License-Identifier: MIT */
#pragma once
/* The monitor's console log writer (console.c). */
#include <stdarg.h>
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
/* A line in the console log's format ("\r\n[berth TIME] TEXT\r\n", cut to fit) into buf
 * (size > 64); returns its length, 0 on a bad format. For processes that write the log
 * directly (the port forwarder). */
size_t console_line_v(char *buf, size_t size, const char *fmt, va_list ap);
/* Append a line of the monitor's own ("[berth <time>] ..."). */
void console_log_say(console_log *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void console_log_close(console_log *c);
