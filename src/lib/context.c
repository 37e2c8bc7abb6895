/* SPDX-License-Identifier: MIT */
#include "context.h"

#include <stdarg.h>
#include <stdio.h>

void berth_debug(const berth_ctx *ctx, const char *fmt, ...)
{
	if (!ctx || !ctx->debug)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("berth[debug]: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void berth_warn(const berth_ctx *ctx, const char *fmt, ...)
{
	if (ctx && ctx->quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("berth: warning: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}
