/* SPDX-License-Identifier: MIT */
#pragma once
#include <stdbool.h>

/* Exit code for berth's own failures (as podman and docker use it). */
#define BERTH_EXIT_FAILURE 125

/* The parsed global command line: the only process-wide state berth keeps. */
typedef struct berth_ctx {
	const char *root; /* state root: --root, $BERTH_ROOT, or the default */
	bool json;        /* --json: machine-readable output */
	bool quiet;       /* -q: only essential output (ids) */
	bool debug;       /* --debug: extra diagnostics on stderr */
	bool tty;         /* stdout is a terminal (progress displays allowed) */
} berth_ctx;

/* Print a debug line to stderr when --debug is on. */
void berth_debug(const berth_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print a warning sentence to stderr unless -q. */
void berth_warn(const berth_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
