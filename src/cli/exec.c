/* SPDX-License-Identifier: MIT */
/*
 * berth exec: run a command in a running machine, with a pty when berth runs in a terminal.
 * cli_exec() is shared with `berth shell`.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "exec-session.h"
#include "host-access.h"
#include "host-user.h"
#include "machine.h"
#include "users.h"

static const char usage[] =
    "Usage: berth exec [OPTIONS] NAME [--] COMMAND [ARG...]\n"
    "       berth exec [OPTIONS] -- COMMAND [ARG...]   (in the default machine)\n"
    "\n"
    "Run COMMAND in the running machine NAME, joining its namespaces and cgroup. The exit\n"
    "status is COMMAND's (128+N when signal N killed it); 125 when berth itself failed,\n"
    "126 when COMMAND is not executable, 127 when it was not found.\n"
    "\n"
    "With a terminal on stdin and stdout (or -t) COMMAND gets a pty in the machine, in raw\n"
    "mode, with the window size kept in step. Otherwise it gets pipes: input streams until\n"
    "EOF, output streams unchanged. stdin is passed on unless it is a terminal and neither\n"
    "-i nor a pty is in use. SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to\n"
    "berth are forwarded to COMMAND.\n"
    "\n"
    "COMMAND runs as the machine's host user (the user berth made for you in it; root when\n"
    "the machine has none) in the host's current directory when that lies in a directory\n"
    "the machine shares (the home, a --mount), else in the user's home, unless -w gives\n"
    "one. The environment is PATH, HOME, USER, LOGNAME and SHELL of the user,\n"
    "LANG=C.UTF-8, SSH_AUTH_SOCK when the host's SSH agent is forwarded and, with a pty,\n"
    "the host's TERM.\n"
    "\n"
    "Options:\n"
    "  -i, --interactive     pass stdin on even when it is a terminal\n"
    "  -t, --tty             allocate a pty even without a terminal\n"
    "  -T, --no-tty          never allocate a pty\n"
    "  -u, --user USER       run as USER, UID, USER:GROUP or UID:GID (default: the host\n"
    "                        user in the machine, else root)\n"
    "      --root            run as the machine's root (overrides -u)\n"
    "  -w, --workdir DIR     working directory in the machine (absolute; it must exist)\n"
    "  -e, --env K=V         set K in the environment (repeatable); -e K copies the host's\n"
    "  -h, --help            print this help\n";

int cli_exec(berth_ctx *ctx, const cli_exec_opts *o)
{
	berth_err e = {0};
	_cleanup_free_ char *name = NULL;
	if (machine_resolve_name(ctx, o->name, &name, &e) < 0)
		return cli_fail(ctx, &e);
	machine_info info;
	rt_machine m;
	if (machine_attach(ctx, name, &info, &m, &e) < 0)
		return cli_fail(ctx, &e);
	int rc = BERTH_EXIT_FAILURE;
	machine_user u;
	_cleanup_strv_ char **env = NULL;
	_cleanup_json_ json_t *cfg = NULL;
	_cleanup_free_ char *shared_cwd = NULL;
	_cleanup_free_ char **extra = calloc(o->n_env + 2, sizeof(char *));
	if (!extra || machine_config_load(ctx, name, &cfg, &e) < 0) {
		if (!extra)
			berr(&e, -ENOMEM, "Out of memory");
		rc = cli_fail(ctx, &e);
		goto out;
	}
	/* The machine's host user unless -u or --root says otherwise. */
	host_user hu;
	const char *user = o->as_root ? NULL : o->user;
	if (!o->as_root && !o->user && host_user_from_json(json_object_get(cfg, "host_user"), &hu))
		user = hu.name;
	if (machine_user_resolve(m.pid, user, &u, &e) < 0) {
		rc = cli_fail(ctx, &e);
		goto out;
	}
	const char *cwd = o->cwd;
	char here[PATH_MAX];
	if (cwd && (cwd[0] != '/' || !machine_path_is_dir(m.pid, cwd))) {
		berr(&e, -ENOENT,
		     cwd[0] != '/'
			 ? "The working directory '%s' is not an absolute path; give -w /PATH"
			 : "The working directory '%s' does not exist in machine '%s'; create it "
			   "there first or give another with -w",
		     cwd, name);
		rc = cli_fail(ctx, &e);
		goto out;
	}
	/* The host's current directory when it lies in a directory the machine shares, else
	 * the user's home (rt_exec falls back to $HOME when chdir fails). */
	if (!cwd && getcwd(here, sizeof(here)) && (shared_cwd = host_path_in_machine(cfg, here)) &&
	    machine_path_is_dir(m.pid, shared_cwd))
		cwd = shared_cwd;
	/* The host's SSH agent, when the machine has it; -e SSH_AUTH_SOCK=... still wins. */
	size_t n_extra = 0;
	if (json_is_true(json_object_get(cfg, "ssh_agent")) &&
	    !json_is_true(json_object_get(cfg, "isolated")) &&
	    machine_path_exists(m.pid, MACHINE_SSH_AGENT_PATH))
		extra[n_extra++] = "SSH_AUTH_SOCK=" MACHINE_SSH_AGENT_PATH;
	for (size_t i = 0; i < o->n_env; i++)
		extra[n_extra++] = o->env[i];
	if (exec_env_build(&u, o->tty, extra, n_extra, &env, &e) < 0) {
		rc = cli_fail(ctx, &e);
		goto out;
	}
	char *shell_argv[] = {u.shell, "-l", NULL};
	exec_request req = {
	    .argv = o->argv ? o->argv : shell_argv,
	    .env = env,
	    .user = &u,
	    .cwd = cwd,
	    .tty = o->tty,
	    .stdin_open = o->stdin_open,
	};
	berth_debug(ctx, "exec in machine %s (init %d) as uid %u gid %u, cwd %s, %s", name,
		    (int)m.pid, u.uid, u.gid, cwd ? cwd : u.home, o->tty ? "pty" : "pipes");
	int status;
	int r = exec_session_run(&m, &req, &status, &e);
	if (r < 0) {
		cli_fail(ctx, &e);
		rc = exec_failure_status(r);
	} else {
		rc = status;
	}
out:
	rt_machine_release(&m);
	return rc;
}

#define OPT_ROOT 0x2001

int cmd_exec(berth_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"interactive", no_argument, NULL, 'i'},
	    {"tty", no_argument, NULL, 't'},
	    {"no-tty", no_argument, NULL, 'T'},
	    {"user", required_argument, NULL, 'u'},
	    {"root", no_argument, NULL, OPT_ROOT},
	    {"workdir", required_argument, NULL, 'w'},
	    {"env", required_argument, NULL, 'e'},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	bool interactive = false, force_tty = false, no_tty = false, as_root = false;
	const char *user = NULL, *workdir = NULL;
	_cleanup_free_ char **env = calloc((size_t)argc + 1, sizeof(char *));
	size_t n_env = 0;
	if (!env) {
		berth_err e = {0};
		berr(&e, -ENOMEM, "Out of memory parsing the command line");
		return cli_fail(ctx, &e);
	}
	int c;
	optind = 0;
	/* '+': options end at NAME, so COMMAND's own options are never taken for ours. */
	while ((c = getopt_long(argc, argv, "+itTu:w:e:hq", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			interactive = true;
			break;
		case 't':
			force_tty = true;
			no_tty = false;
			break;
		case 'T':
			no_tty = true;
			force_tty = false;
			break;
		case 'u':
			user = optarg;
			break;
		case OPT_ROOT:
			as_root = true;
			break;
		case 'w':
			workdir = optarg;
			break;
		case 'e':
			env[n_env++] = optarg;
			break;
		default: {
			int r = cli_other_opt(ctx, c, "exec", usage);
			if (r >= 0)
				return r;
		}
		}
	}
	const char *name = NULL;
	/* "berth exec -- CMD": getopt ate the "--", so there is no NAME: the default machine. */
	bool dashdash = optind > 0 && optind <= argc && !strcmp(argv[optind - 1], "--");
	if (!dashdash && optind < argc) {
		name = argv[optind++];
		if (optind < argc && !strcmp(argv[optind], "--"))
			optind++;
	}
	if (optind >= argc)
		return cli_usage(ctx, "exec", "'exec' needs a machine and a command to run");
	bool tty = !no_tty && (force_tty || (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)));
	cli_exec_opts o = {
	    .name = name,
	    .user = user,
	    .as_root = as_root,
	    .cwd = workdir,
	    .argv = argv + optind,
	    .env = env,
	    .n_env = n_env,
	    .tty = tty,
	    .stdin_open = interactive || tty || !isatty(STDIN_FILENO),
	};
	return cli_exec(ctx, &o);
}
