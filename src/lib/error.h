/* SPDX-License-Identifier: MIT */
#pragma once
#include <errno.h>
#include <stdarg.h>

/*
 * Error context. Functions that can fail return a negative errno and fill a
 * berth_err with one human sentence naming the thing and what to do.
 * The first error set wins; callers may add context with berr_prefix().
 */
typedef struct berth_err {
	int code;       /* negative errno, 0 when unset */
	char msg[2048]; /* human sentence */
} berth_err;

/* Set the error (if not already set) and return code (a negative errno). */
int berr(berth_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Same, appending ": strerror(-code)". */
int berr_errno(berth_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prepend context to an already-set message. Returns e->code. */
int berr_prefix(berth_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void berr_clear(berth_err *e);
