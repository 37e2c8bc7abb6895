/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char main_help[] =
    "Usage: berth [GLOBAL OPTIONS] COMMAND [ARGS...]\n"
    "\n"
    "berth runs container machines: persistent Linux environments made from OCI images.\n"
    "\n"
    "Global options:\n"
    "  --root DIR   state directory (also $BERTH_ROOT; default /var/lib/berth as root,\n"
    "               $XDG_DATA_HOME/berth otherwise)\n"
    "  --json       machine-readable output\n"
    "  -q, --quiet  print only essential output\n"
    "  --debug      print diagnostics to stderr\n"
    "  --version    print the version and exit\n"
    "  -h, --help   print this help\n";

static const cli_verb main_verbs[] = {
    {"image", cmd_image, "manage images: pull, import, ls, inspect, tag, rm, prune"},
    {"create", cmd_create, "create a machine from an image"},
    {"start", cmd_start, "start a machine and wait until it is ready"},
    {"stop", cmd_stop, "stop a machine"},
    {"restart", cmd_restart, "stop and start a machine"},
    {"rm", cmd_rm, "remove machines"},
    {"ls", cmd_ls, "list machines"},
    {"inspect", cmd_inspect, "show a machine's configuration and state as JSON"},
    {"logs", cmd_logs, "print a machine's console output"},
    {"set", cmd_set, "change a machine's limits, at once when it runs"},
    {"default", cmd_default, "show or choose the default machine"},
    {"stats", cmd_stats, "show a machine's memory, CPU and process use"},
    {"reclaim", cmd_reclaim, "free a running machine's reclaimable memory now"},
    {"exec", cmd_exec, "run a command in a running machine"},
    {"shell", cmd_shell, "open a login shell in a running machine"},
    {"setup-user", cmd_setup_user, "as root: let a regular user run machines (cgroups, tun)"},
    {NULL, NULL, NULL},
};

static char *default_root(void)
{
	const char *env = getenv("BERTH_ROOT");
	if (env && *env)
		return strdup(env);
	if (geteuid() == 0)
		return strdup("/var/lib/berth");
	char *r = NULL;
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	if (xdg && *xdg == '/') {
		if (asprintf(&r, "%s/berth", xdg) < 0)
			return NULL;
	} else if (home && *home) {
		if (asprintf(&r, "%s/.local/share/berth", home) < 0)
			return NULL;
	}
	return r;
}

int main(int argc, char **argv)
{
	berth_ctx ctx = {0};
	char *root = NULL;
	static const struct option opts[] = {
	    {"root", required_argument, NULL, 'r'},
	    {"version", no_argument, NULL, 'V'},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	ctx.tty = isatty(STDOUT_FILENO);
	int c;
	/* '+': stop at the first non-option, the verb. */
	while ((c = getopt_long(argc, argv, "+hq", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			free(root);
			root = strdup(optarg);
			break;
		case 'V':
			printf("berth version %s\n", BERTH_VERSION);
			free(root);
			return 0;
		default: {
			int r = cli_common_opt(&ctx, c);
			if (r == 0) {
				fputs(main_help, stdout);
				printf("\nCommands:\n");
				for (const cli_verb *v = main_verbs; v->name; v++)
					printf("  %-10s %s\n", v->name, v->summary);
				free(root);
				return 0;
			}
			if (r < 0) {
				free(root);
				return cli_usage(&ctx, "", "Unknown or incomplete global option");
			}
		}
		}
	}
	if (!root)
		root = default_root();
	if (!root || !*root) {
		berth_err e = {0};
		berr(&e, -EINVAL,
		     "Cannot work out the state directory: set $BERTH_ROOT or pass --root DIR");
		free(root);
		return cli_fail(&ctx, &e);
	}
	ctx.root = root;
	int r;
	if (optind >= argc) {
		fputs(main_help, stderr);
		r = BERTH_EXIT_FAILURE;
	} else {
		r = cli_dispatch(&ctx, NULL, main_help, main_verbs, argc - optind, argv + optind);
	}
	fflush(stdout);
	free(root);
	return r;
}
