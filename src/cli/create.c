/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "machine.h"

static const char usage[] =
    "Usage: berth create [OPTIONS] NAME IMAGE\n"
    "\n"
    "Create the machine NAME from IMAGE (a name, digest or id of an image in the store).\n"
    "Its root is the image's layers under the machine's own writable layer, which keeps\n"
    "every change until 'berth rm'. The first machine created becomes the default one.\n"
    "NAME: 1 to 63 lowercase letters, digits and '-', not starting or ending with '-'.\n"
    "\n"
    "Options:\n"
    "  --cpus N         CPUs the machine may use (e.g. 2 or 0.5; default: no limit)\n"
    "  --memory SIZE    memory limit (e.g. 2G, 512M; default: no limit)\n"
    "  --pids N         process limit (default: no limit)\n"
    "  --init MODE      auto (the image's init, else berth-init; default), image (the\n"
    "                   image's own init, fail when it has none) or builtin (berth-init)\n"
    "  --home MODE      share the host user's home at the same path: rw (default), ro\n"
    "                   or none. The host user (the one who ran sudo, when berth runs\n"
    "                   under sudo) is made inside with the same name, ids and shell,\n"
    "                   and exec and shell run as that user; root gets no user of its own\n"
    "  --mount SRC:DST[:ro]  share host path SRC at DST in the machine (repeatable)\n"
    "  --isolated       share nothing of the host: no home, no mounts, no SSH agent, no\n"
    "                   host network or loopback\n"
    "  --network MODE   nat (default: its own network through pasta, reaching what the\n"
    "                   host reaches; ports it listens on are forwarded to the host's\n"
    "                   127.0.0.1 unless --isolated), host (the host's network) or none\n"
    "                   (loopback only)\n"
    "  -p, --publish [IP:]HOSTPORT:PORT[/tcp|/udp]  publish the machine's PORT on the\n"
    "                   host's IP:HOSTPORT (IP default 127.0.0.1; repeatable; nat only)\n"
    "  --start          start the machine once it is created\n"
    "  --timeout SECS   with --start: how long to wait for it to be ready (default 90)\n"
    "  --json           print {\"name\": ...}\n"
    "  -q, --quiet      print nothing\n"
    "  -h, --help       print this help\n";

enum {
	OPT_CPUS = 0x2001,
	OPT_MEMORY,
	OPT_PIDS,
	OPT_INIT,
	OPT_START,
	OPT_TIMEOUT,
	OPT_HOME,
	OPT_MOUNT,
	OPT_ISOLATED,
	OPT_NETWORK
};

int cmd_create(berth_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"cpus", required_argument, NULL, OPT_CPUS},
	    {"memory", required_argument, NULL, OPT_MEMORY},
	    {"pids", required_argument, NULL, OPT_PIDS},
	    {"init", required_argument, NULL, OPT_INIT},
	    {"start", no_argument, NULL, OPT_START},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"home", required_argument, NULL, OPT_HOME},
	    {"mount", required_argument, NULL, OPT_MOUNT},
	    {"isolated", no_argument, NULL, OPT_ISOLATED},
	    {"network", required_argument, NULL, OPT_NETWORK},
	    {"publish", required_argument, NULL, 'p'},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	machine_create_opts o = {.init = MACHINE_INIT_AUTO, .limits = {0, 0, 0}};
	bool start = false;
	int timeout = 90, c;
	_cleanup_free_ host_mount *mounts = calloc(HOST_MOUNTS_MAX, sizeof(host_mount));
	size_t n_mounts = 0;
	if (!mounts)
		return cli_usage(ctx, "create", "Out of memory");
	optind = 0;
	while ((c = getopt_long(argc, argv, "hqp:", opts, NULL)) != -1) {
		switch (c) {
		case OPT_CPUS:
			if (machine_parse_cpus(optarg, &o.limits.cpu_millis) < 0)
				return cli_usage(ctx, "create",
						 "--cpus wants a number of CPUs such as 2 or 0.5, "
						 "not '%s'",
						 optarg);
			break;
		case OPT_MEMORY:
			if (machine_parse_size(optarg, &o.limits.memory) < 0)
				return cli_usage(
				    ctx, "create",
				    "--memory wants a size such as 2G or 512M, not '%s'", optarg);
			break;
		case OPT_PIDS: {
			char *end;
			long long v = strtoll(optarg, &end, 10);
			if (*end || v < 0 || end == optarg)
				return cli_usage(ctx, "create", "--pids wants a number, not '%s'",
						 optarg);
			o.limits.pids = v;
			break;
		}
		case OPT_INIT: {
			machine_init_mode m;
			if (machine_init_mode_parse(optarg, &m) < 0)
				return cli_usage(ctx, "create",
						 "--init is auto, image or builtin, not '%s'",
						 optarg);
			o.init = m;
			break;
		}
		case OPT_HOME:
			if (home_mode_parse(optarg, &o.home) < 0)
				return cli_usage(ctx, "create",
						 "--home is rw, ro or none, not '%s'", optarg);
			o.home_set = true;
			break;
		case OPT_MOUNT: {
			if (n_mounts == HOST_MOUNTS_MAX)
				return cli_usage(ctx, "create", "A machine takes at most %d mounts",
						 HOST_MOUNTS_MAX);
			berth_err me = {0};
			if (host_mount_parse(optarg, &mounts[n_mounts], &me) < 0)
				return cli_fail(ctx, &me);
			n_mounts++;
			break;
		}
		case OPT_ISOLATED:
			o.isolated = true;
			break;
		case OPT_NETWORK:
			if (machine_net_mode_parse(optarg, &o.net.mode) < 0)
				return cli_usage(ctx, "create",
						 "--network is nat, host or none, not '%s'",
						 optarg);
			break;
		case 'p': {
			berth_err pe = {0};
			if (machine_net_add_publish(&o.net, optarg, &pe) < 0)
				return cli_usage(ctx, "create", "%s", pe.msg);
			break;
		}
		case OPT_START:
			start = true;
			break;
		case OPT_TIMEOUT:
			timeout = atoi(optarg);
			if (timeout <= 0)
				return cli_usage(ctx, "create", "--timeout wants seconds, not '%s'",
						 optarg);
			break;
		default: {
			int r = cli_other_opt(ctx, c, "create", usage);
			if (r >= 0)
				return r;
		}
		}
	}
	if (argc - optind != 2)
		return cli_usage(ctx, "create", "'create' needs a machine name and an image");
	o.mounts = mounts;
	o.n_mounts = n_mounts;
	berth_err ne = {0};
	if (machine_net_check(&o.net, &ne) < 0)
		return cli_usage(ctx, "create", "%s", ne.msg);
	o.name = argv[optind];
	o.image = argv[optind + 1];
	berth_err e = {0};
	if (machine_create(ctx, &o, &e) < 0)
		return cli_fail(ctx, &e);
	if (start && machine_start(ctx, o.name, timeout * 1000, &e) < 0)
		return cli_fail(ctx, &e);
	if (ctx->json) {
		json_t *j = json_pack("{s:s,s:b}", "name", o.name, "started", start);
		cli_print_json(j);
		json_decref(j);
	} else if (!ctx->quiet) {
		printf("%s\n", o.name);
	}
	return 0;
}
