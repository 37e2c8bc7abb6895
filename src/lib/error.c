/* SPDX-License-Identifier: MIT */
#include "error.h"

#include <stdio.h>
#include <string.h>

static int vset(berth_err *e, int code, int add_errno, const char *fmt, va_list ap)
{
	if (code > 0)
		code = -code;
	if (code == 0)
		code = -EIO;
	if (!e || e->code)
		return code;
	e->code = code;
	int n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	if (add_errno && n >= 0 && (size_t)n < sizeof(e->msg))
		snprintf(e->msg + n, sizeof(e->msg) - (size_t)n, ": %s", strerror(-code));
	return code;
}

int berr(berth_err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vset(e, code, 0, fmt, ap);
	va_end(ap);
	return r;
}

int berr_errno(berth_err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vset(e, code, 1, fmt, ap);
	va_end(ap);
	return r;
}

int berr_prefix(berth_err *e, const char *fmt, ...)
{
	if (!e || !e->code)
		return e ? e->code : -EIO;
	char pre[1024], old[sizeof(e->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	size_t n = strlen(pre);
	if (n > sizeof(e->msg) - 3)
		n = sizeof(e->msg) - 3;
	memcpy(e->msg, pre, n);
	memcpy(e->msg + n, ": ", 2);
	size_t rest = sizeof(e->msg) - n - 3;
	size_t ol = strnlen(old, rest);
	memcpy(e->msg + n + 2, old, ol);
	e->msg[n + 2 + ol] = 0;
	return e->code;
}

void berr_clear(berth_err *e)
{
	e->code = 0;
	e->msg[0] = 0;
}
