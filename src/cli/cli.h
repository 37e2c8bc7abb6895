/* SPDX-License-Identifier: MIT */
#pragma once
#include <getopt.h>
#include <stdbool.h>
#include <jansson.h>
#include "context.h"
#include "error.h"

typedef int (*cli_run_fn)(berth_ctx *ctx, int argc, char **argv);

typedef struct cli_verb {
	const char *name;
	cli_run_fn run;
	const char *summary;
} cli_verb;

/* Run the verb named argv[0] from the table; prints a list on --help or no verb. */
int cli_dispatch(berth_ctx *ctx, const char *group, const char *group_help, const cli_verb *verbs,
		 int argc, char **argv);

/* Print e's sentence ("berth: ...") to stderr, or {"error": ...} with --json; returns 125. */
int cli_fail(const berth_ctx *ctx, const berth_err *e);
/* Bad usage: print the sentence plus "See 'berth VERB --help'."; returns 125. */
int cli_usage(const berth_ctx *ctx, const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Print JSON to stdout (indented) followed by a newline. */
void cli_print_json(json_t *j);
/* Human-readable size ("12.3MB") into buf. */
const char *cli_human_size(double bytes, char *buf, size_t len);

/*
 * Options every verb accepts. Put CLI_COMMON_LONGOPTS in the verb's option table and
 * "hq" in its short option string, and pass unknown option characters to
 * cli_common_opt(), which returns 1 when it handled c, 0 for --help (caller prints
 * usage and returns 0), or -1 for an unknown option (caller returns cli_usage()).
 */
#define OPT_JSON 0x1001
#define OPT_DEBUG 0x1002
#define CLI_COMMON_LONGOPTS                                                                        \
	{"help", no_argument, NULL, 'h'}, {"json", no_argument, NULL, OPT_JSON},                   \
	    {"quiet", no_argument, NULL, 'q'},                                                     \
	{                                                                                          \
		"debug", no_argument, NULL, OPT_DEBUG                                              \
	}
int cli_common_opt(berth_ctx *ctx, int c);
/* An option character the verb did not handle itself: a common option (returns -1: go on),
 * --help (prints usage, returns 0) or an unknown one (returns cli_usage()'s 125). */
int cli_other_opt(berth_ctx *ctx, int c, const char *verb, const char *usage);
/* Parse the options of a verb that has only the common ones. Returns -1 to go on (optind is
 * the first operand), else the exit code to return (0 after --help, 125 on bad usage). */
int cli_parse_common(berth_ctx *ctx, int argc, char **argv, const char *verb, const char *usage);

/* Image verbs. */
int cmd_image(berth_ctx *ctx, int argc, char **argv);
int cmd_image_import(berth_ctx *ctx, int argc, char **argv);
int cmd_image_inspect(berth_ctx *ctx, int argc, char **argv);
int cmd_image_ls(berth_ctx *ctx, int argc, char **argv);
int cmd_image_prune(berth_ctx *ctx, int argc, char **argv);
int cmd_image_pull(berth_ctx *ctx, int argc, char **argv);
int cmd_image_rm(berth_ctx *ctx, int argc, char **argv);
int cmd_image_tag(berth_ctx *ctx, int argc, char **argv);

/* Machine verbs: exec and shell (exec.c, shell.c). */
typedef struct cli_exec_opts {
	const char *name;  /* NULL: the default machine */
	const char *user;  /* -u spec; NULL: the machine's host user, else root */
	bool as_root;	   /* --root: root whatever user says */
	const char *cwd;   /* -w (must exist); NULL: the host's cwd when shared, else HOME */
	char *const *argv; /* NULL: the user's login shell */
	char *const *env;  /* -e K=V / -e K */
	size_t n_env;
	bool tty, stdin_open;
} cli_exec_opts;
/* Run in a machine and relay stdio; returns the exit status for berth (see 'exec --help'). */
int cli_exec(berth_ctx *ctx, const cli_exec_opts *o);
int cmd_exec(berth_ctx *ctx, int argc, char **argv);
int cmd_shell(berth_ctx *ctx, int argc, char **argv);

/* Machine verbs. */
int cmd_create(berth_ctx *ctx, int argc, char **argv);
int cmd_default(berth_ctx *ctx, int argc, char **argv);
int cmd_inspect(berth_ctx *ctx, int argc, char **argv);
int cmd_logs(berth_ctx *ctx, int argc, char **argv);
int cmd_ls(berth_ctx *ctx, int argc, char **argv);
int cmd_reclaim(berth_ctx *ctx, int argc, char **argv);
int cmd_restart(berth_ctx *ctx, int argc, char **argv);
int cmd_rm(berth_ctx *ctx, int argc, char **argv);
int cmd_set(berth_ctx *ctx, int argc, char **argv);
int cmd_setup_user(berth_ctx *ctx, int argc, char **argv);
int cmd_start(berth_ctx *ctx, int argc, char **argv);
int cmd_stats(berth_ctx *ctx, int argc, char **argv);
int cmd_stop(berth_ctx *ctx, int argc, char **argv);
/* start and restart share their option parsing (start.c). */
int cli_machine_start(berth_ctx *ctx, int argc, char **argv, const char *verb, const char *help,
		      bool restart);

#include "store.h"
/* Open the store at ctx->root; on failure prints the error and returns 125, else 0. */
int cli_open_store(const berth_ctx *ctx, berth_store *s);
