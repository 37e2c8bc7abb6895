/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The monitor's side of machine networking (pasta.c, portfwd.c): pasta connects a nat
 * machine's network namespace; the port forwarder follows the ports the machine listens on.
 * Both are children of the monitor, which stops and reaps them by pid.
 */
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "network.h"

typedef struct net_child {
	pid_t pid; /* 0 when not running */
	int pidfd;
} net_child;

/*
 * Start pasta in the foreground, attached to the network (and user) namespace of init_pid,
 * with the published ports of o, and wait until it configured the machine's interface.
 * When it cannot start: a sentence with pasta's own message (or naming Debian's passt
 * package when pasta is missing), and nothing left running. *desc gets a line for the log.
 */
int pasta_start(const machine_net_opts *o, pid_t init_pid, net_child *c, char *desc,
		size_t desc_len, berth_err *e);

/*
 * Start the port forwarder: every second it reads the machine's listening TCP sockets
 * (/proc/PID/net/tcp, tcp6) and forwards 127.0.0.1:PORT on the host to each, through a
 * helper in the machine's network namespace. Lines for the console log go to log_fd.
 */
int portfwd_start(const machine_net_opts *o, pid_t init_pid, int log_fd, net_child *c,
		  berth_err *e);

/* SIGTERM, then SIGKILL after a moment, and reap. Does nothing when not running. */
void net_child_stop(net_child *c);
/* Reap it when it exited on its own: true (and *status) when it did. */
bool net_child_exited(net_child *c, int *status);
