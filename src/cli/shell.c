/* SPDX-License-Identifier: MIT */
/* berth shell: a login shell in a running machine. */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "Usage: berth shell [OPTIONS] [NAME]\n"
    "\n"
    "Open a login shell in the running machine NAME (the default machine when NAME is\n"
    "omitted; see 'berth default'), as the machine's user (root for now) with their shell\n"
    "from the machine's /etc/passwd (/bin/sh when that is missing). It starts in the host's\n"
    "current directory when that path exists in the machine, else in the user's home.\n"
    "With a terminal the shell gets a pty; the exit status is the shell's.\n"
    "\n"
    "Options:\n"
    "  -h, --help   print this help\n";

int cmd_shell(berth_ctx *ctx, int argc, char **argv)
{
	int pr = cli_parse_common(ctx, argc, argv, "shell", usage);
	if (pr >= 0)
		return pr;
	if (argc - optind > 1)
		return cli_usage(ctx, "shell",
				 "'shell' takes at most one machine name; to run a command use "
				 "'berth exec NAME -- COMMAND'");
	bool tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	cli_exec_opts o = {
	    .name = optind < argc ? argv[optind] : NULL,
	    .tty = tty,
	    .stdin_open = true,
	};
	return cli_exec(ctx, &o);
}
