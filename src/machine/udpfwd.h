/* SPDX-License-Identifier: MIT */
#pragma once
/* Published UDP ports, relayed by the port forwarder (udpfwd.c). */
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "error.h"
#include "network.h"

#define UDPFWD_MAX_SESSIONS 256

typedef struct udpfwd_port {
	int fd;	       /* bound on the host's address and port */
	uint16_t port; /* the machine's port */
} udpfwd_port;

typedef struct udpfwd_session {
	int fd;	     /* in the machine's network namespace, connected to its PORT */
	size_t port; /* index into ports */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	int64_t last_ms;
} udpfwd_session;

typedef struct udpfwd {
	udpfwd_port ports[MACHINE_PUBLISH_MAX];
	size_t n_ports;
	udpfwd_session sessions[UDPFWD_MAX_SESSIONS];
	size_t n_sessions;
} udpfwd;

/* A socket of type in the machine's network namespace, or a negative errno. */
typedef int (*udpfwd_inside_fn)(void *arg, int family, int type);

/* Bind the host side of every published UDP port of o; a port that cannot be bound fails
 * with a sentence naming it, with nothing left open. */
int udpfwd_bind(udpfwd *u, const machine_net_opts *o, berth_err *e);
void udpfwd_close(udpfwd *u);
/* Fill p with what to poll (n_ports + n_sessions entries); returns the count. */
size_t udpfwd_pollfds(const udpfwd *u, struct pollfd *p);
/* After poll: relay what came in (p as filled by udpfwd_pollfds), end idle sessions. */
void udpfwd_handle(udpfwd *u, const struct pollfd *p, udpfwd_inside_fn inside, void *arg,
		   int64_t now);
