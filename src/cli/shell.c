/* SPDX-License-Identifier: MIT */
/* berth shell: a login shell in a running machine. */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "Usage: berth shell [OPTIONS] [NAME]\n"
    "\n"
    "Open a login shell in the running machine NAME (the default machine when NAME is\n"
    "omitted; see 'berth default'), as the machine's host user (root when the machine has\n"
    "none) with their shell from the machine's /etc/passwd (/bin/sh when that is missing).\n"
    "It starts in the host's current directory when that lies in a directory the machine\n"
    "shares (the home, a --mount), else in the user's home. With a terminal the shell gets\n"
    "a pty; the exit status is the shell's.\n"
    "\n"
    "Options:\n"
    "  -u, --user USER   open USER's shell instead\n"
    "      --root        open root's shell\n"
    "  -h, --help        print this help\n";

#define OPT_ROOT 0x2001

int cmd_shell(berth_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"user", required_argument, NULL, 'u'},
	    {"root", no_argument, NULL, OPT_ROOT},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	const char *user = NULL;
	bool as_root = false;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "u:hq", opts, NULL)) != -1) {
		if (c == 'u') {
			user = optarg;
		} else if (c == OPT_ROOT) {
			as_root = true;
		} else {
			int r = cli_other_opt(ctx, c, "shell", usage);
			if (r >= 0)
				return r;
		}
	}
	if (argc - optind > 1)
		return cli_usage(ctx, "shell",
				 "'shell' takes at most one machine name; to run a command use "
				 "'berth exec NAME -- COMMAND'");
	bool tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	cli_exec_opts o = {
	    .name = optind < argc ? argv[optind] : NULL,
	    .user = user,
	    .as_root = as_root,
	    .tty = tty,
	    .stdin_open = true,
	};
	return cli_exec(ctx, &o);
}
