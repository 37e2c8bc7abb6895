/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "delegation.h"

static const char usage[] =
    "Usage: sudo berth setup-user [OPTIONS] NAME\n"
    "\n"
    "Prepare the host once so that user NAME can run machines without root. Run as root.\n"
    "\n"
    "  * cgroups: in every hierarchy a machine needs (cgroup v1 cpu, cpuacct, cpuset,\n"
    "    memory, pids, name=systemd; cgroup2) the directory <mount>/berth-user/NAME is\n"
    "    made and handed to NAME (the directory and its process files, not its limits),\n"
    "    so NAME's machines get cgroups their init can manage and limits can be set on\n"
    "    them. Without it a regular user cannot create cgroups on cgroup v1 and systemd\n"
    "    does not boot.\n"
    "  * /dev/net/tun: when it is not world read-write, NAME gets read-write access to it\n"
    "    through a POSIX ACL entry (user-mode networking needs it).\n"
    "\n"
    "Running it again changes nothing (\"already set up\"). What it did is recorded "
    "in\n" DELEGATION_STATE_DIR "/NAME.json, and --undo removes exactly that.\n"
    "The cgroup directories and the ACL do not survive a host reboot: run setup-user\n"
    "again after one.\n"
    "\n"
    "Options:\n"
    "  --undo       remove the cgroup directories and the ACL entry made for NAME\n"
    "  --json       print what was done as JSON\n"
    "  -q, --quiet  print nothing\n"
    "  -h, --help   print this help\n";

int cmd_setup_user(berth_ctx *ctx, int argc, char **argv)
{
	enum { OPT_UNDO = 0x2001 };
	static const struct option opts[] = {
	    {"undo", no_argument, NULL, OPT_UNDO},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	bool undo = false;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
		if (c == OPT_UNDO) {
			undo = true;
			continue;
		}
		int r = cli_other_opt(ctx, c, "setup-user", usage);
		if (r >= 0)
			return r;
	}
	if (argc - optind != 1)
		return cli_usage(ctx, "setup-user", "'setup-user' takes one user name");
	const char *user = argv[optind];
	berth_err e = {0};
	_cleanup_json_ json_t *rep = NULL;
	if (delegation_setup(user, undo, &rep, &e) < 0)
		return cli_fail(ctx, &e);
	bool changed = json_is_true(json_object_get(rep, "changed"));
	if (ctx->json) {
		cli_print_json(rep);
		return 0;
	}
	if (ctx->quiet)
		return 0;
	if (undo) {
		if (changed)
			printf("User %s is no longer set up for machines: its cgroup directories "
			       "and device access are removed\n",
			       user);
		else
			printf("User %s was not set up by berth; nothing to undo\n", user);
		return 0;
	}
	json_t *tun = json_object_get(rep, "tun");
	const char *why = json_string_value(json_object_get(tun, "reason"));
	printf("User %s is %s to run machines: cgroups delegated under %s/%s in %zu "
	       "hierarchies; /dev/net/tun: %s.\n",
	       user, changed ? "set up" : "already set up", DELEGATION_BASE, user,
	       json_array_size(json_object_get(rep, "cgroups")),
	       why					       ? why
	       : json_is_true(json_object_get(tun, "granted")) ? "read-write through an ACL entry"
							       : "unchanged");
	printf("This does not survive a host reboot: run 'sudo berth setup-user %s' again after "
	       "one.\n",
	       user);
	return 0;
}
