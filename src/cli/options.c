/* SPDX-License-Identifier: MIT */
#include "cli.h"
#include "keepid.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cli_common_opt(berth_ctx *ctx, int c)
{
	switch (c) {
	case OPT_JSON:
		ctx->json = true;
		return 1;
	case 'q':
		ctx->quiet = true;
		return 1;
	case OPT_DEBUG:
		ctx->debug = true;
		return 1;
	case 'h':
		return 0;
	default:
		return -1;
	}
}

int cli_fail(const berth_ctx *ctx, const berth_err *e)
{
	const char *msg = e && e->code ? e->msg : "an unknown error occurred";
	if (ctx && ctx->json) {
		json_t *j = json_pack("{s:s}", "error", msg);
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
		fprintf(stderr, "%s\n", s ? s : msg);
		free(s);
		json_decref(j);
	} else {
		size_t n = strlen(msg);
		fprintf(stderr, "berth: %s%s\n", msg, n && strchr(".!?", msg[n - 1]) ? "" : ".");
	}
	return BERTH_EXIT_FAILURE;
}

int cli_usage(const berth_ctx *ctx, const char *verb, const char *fmt, ...)
{
	berth_err e = {0};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	size_t n = strlen(e.msg);
	snprintf(e.msg + n, sizeof(e.msg) - n, "%s See 'berth %s --help'.",
		 n && strchr(".!?", e.msg[n - 1]) ? "" : ".", verb);
	e.code = -EINVAL;
	return cli_fail(ctx, &e);
}

void cli_print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
}

const char *cli_human_size(double bytes, char *buf, size_t len)
{
	static const char *units[] = {"B", "kB", "MB", "GB", "TB"};
	size_t u = 0;
	while (bytes >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		bytes /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f%s", bytes, units[u]);
	else
		snprintf(buf, len, "%.3g%s", bytes, units[u]);
	return buf;
}

int cli_dispatch(berth_ctx *ctx, const char *group, const char *group_help, const cli_verb *verbs,
		 int argc, char **argv)
{
	const char *verb = argc > 0 ? argv[0] : NULL;
	if (!verb || !strcmp(verb, "--help") || !strcmp(verb, "-h") || !strcmp(verb, "help")) {
		FILE *out = verb ? stdout : stderr;
		fprintf(out, "%s\nCommands:\n", group_help);
		for (const cli_verb *v = verbs; v->name; v++)
			fprintf(out, "  %-10s %s\n", v->name, v->summary);
		fprintf(out, "\nRun 'berth %s%sCOMMAND --help' for more about a command.\n",
			group ? group : "", group ? " " : "");
		return verb ? 0 : BERTH_EXIT_FAILURE;
	}
	for (const cli_verb *v = verbs; v->name; v++)
		if (!strcmp(v->name, verb))
			return v->run(ctx, argc, argv);
	berth_err e = {0};
	berr(&e, -EINVAL, "'%s' is not a berth %scommand; run 'berth %s%s--help' for the list",
	     verb, group ? "image " : "", group ? group : "", group ? " " : "");
	return cli_fail(ctx, &e);
}

int cli_open_store(const berth_ctx *ctx, berth_store *s)
{
	berth_err e = {0};
	if (store_open(ctx->root, s, &e) < 0)
		return cli_fail(ctx, &e);
	/* A regular user's layers in use by machines belong to their subordinate ids. */
	s->rm_foreign = keepid_rm_foreign;
	return 0;
}

int cli_other_opt(berth_ctx *ctx, int c, const char *verb, const char *usage)
{
	int r = cli_common_opt(ctx, c);
	if (r > 0)
		return -1;
	if (r == 0) {
		fputs(usage, stdout);
		return 0;
	}
	return cli_usage(ctx, verb, "Unknown or incomplete option");
}

int cli_parse_common(berth_ctx *ctx, int argc, char **argv, const char *verb, const char *usage)
{
	static const struct option opts[] = {CLI_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
		int r = cli_other_opt(ctx, c, verb, usage);
		if (r >= 0)
			return r;
	}
	return -1;
}
