/* SPDX-License-Identifier: MIT */
/*
 * Published UDP ports (-p HOSTPORT:PORT/udp), relayed by the port forwarder rather than by
 * pasta: the pasta in Debian 12 delivers a datagram from the host's loopback into the
 * machine but drops the machine's answer, so request and reply protocols (DNS, say) never
 * got one back.
 *
 * Each published port is a UDP socket on the host's address, bound by the monitor before
 * the forwarder starts (so a port already taken fails the start, as pasta's TCP ports do).
 * Every host peer gets a session: a UDP socket in the machine's network namespace,
 * connected to the machine's loopback at PORT, whose answers go back to that peer from the
 * published port. Sessions end after UDPFWD_IDLE_MS without traffic; when all are in use,
 * the one idle longest makes room.
 */
#include "udpfwd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDPFWD_IDLE_MS 60000

int udpfwd_bind(udpfwd *u, const machine_net_opts *o, berth_err *e)
{
	memset(u, 0, sizeof(*u));
	for (size_t i = 0; i < o->n_publish; i++) {
		const machine_publish *p = &o->publish[i];
		if (!p->udp)
			continue;
		struct sockaddr_storage ss = {0};
		socklen_t len;
		int af = strchr(p->host_ip, ':') ? AF_INET6 : AF_INET;
		if (af == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			a->sin_family = AF_INET;
			a->sin_port = htons(p->host_port);
			inet_pton(AF_INET, p->host_ip, &a->sin_addr);
			len = sizeof(*a);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			a->sin6_family = AF_INET6;
			a->sin6_port = htons(p->host_port);
			inet_pton(AF_INET6, p->host_ip, &a->sin6_addr);
			len = sizeof(*a);
		}
		int s = socket(af, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (s < 0 || bind(s, (struct sockaddr *)&ss, len) < 0) {
			int err = errno;
			if (s >= 0)
				close(s);
			udpfwd_close(u);
			return berr_errno(e, -err,
					  "Cannot publish UDP port %s:%u on the host for the "
					  "machine's port %u; free it or publish another port",
					  p->host_ip, p->host_port, p->port);
		}
		u->ports[u->n_ports++] = (udpfwd_port){.fd = s, .port = p->port};
	}
	return 0;
}

void udpfwd_close(udpfwd *u)
{
	for (size_t i = 0; i < u->n_sessions; i++)
		close(u->sessions[i].fd);
	for (size_t i = 0; i < u->n_ports; i++)
		close(u->ports[i].fd);
	u->n_sessions = u->n_ports = 0;
}

size_t udpfwd_pollfds(const udpfwd *u, struct pollfd *p)
{
	size_t n = 0;
	for (size_t i = 0; i < u->n_ports; i++)
		p[n++] = (struct pollfd){.fd = u->ports[i].fd, .events = POLLIN};
	for (size_t i = 0; i < u->n_sessions; i++)
		p[n++] = (struct pollfd){.fd = u->sessions[i].fd, .events = POLLIN};
	return n;
}

static void session_drop(udpfwd *u, size_t i)
{
	close(u->sessions[i].fd);
	u->sessions[i] = u->sessions[--u->n_sessions];
}

static udpfwd_session *session_for(udpfwd *u, size_t port, const struct sockaddr_storage *peer,
				   socklen_t plen, udpfwd_inside_fn inside, void *arg, int64_t now)
{
	for (size_t i = 0; i < u->n_sessions; i++) {
		udpfwd_session *s = &u->sessions[i];
		if (s->port == port && s->peer_len == plen && !memcmp(&s->peer, peer, plen))
			return s;
	}
	if (u->n_sessions == UDPFWD_MAX_SESSIONS) {
		size_t oldest = 0;
		for (size_t i = 1; i < u->n_sessions; i++)
			if (u->sessions[i].last_ms < u->sessions[oldest].last_ms)
				oldest = i;
		session_drop(u, oldest);
	}
	int fd = inside(arg, AF_INET, SOCK_DGRAM);
	if (fd < 0)
		return NULL;
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(u->ports[port].port)};
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		close(fd);
		return NULL;
	}
	udpfwd_session *s = &u->sessions[u->n_sessions++];
	*s = (udpfwd_session){.fd = fd, .port = port, .peer_len = plen, .last_ms = now};
	memcpy(&s->peer, peer, plen);
	return s;
}

void udpfwd_handle(udpfwd *u, const struct pollfd *p, udpfwd_inside_fn inside, void *arg,
		   int64_t now)
{
	char buf[65536];
	size_t n_ports = u->n_ports, n_sessions = u->n_sessions;
	/* Answers first, walking backwards: a dropped session moves the last one into its
	 * place, which was visited already. */
	for (size_t i = n_sessions; i-- > 0;) {
		if (!(p[n_ports + i].revents & (POLLIN | POLLERR)))
			continue;
		udpfwd_session *s = &u->sessions[i];
		ssize_t k = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (k < 0) {
			/* ECONNREFUSED: nothing listens inside (yet); the peer may try again. */
			if (errno != EAGAIN && errno != EINTR)
				session_drop(u, i);
			continue;
		}
		s->last_ms = now;
		sendto(u->ports[s->port].fd, buf, (size_t)k, MSG_DONTWAIT,
		       (struct sockaddr *)&s->peer, s->peer_len);
	}
	for (size_t i = 0; i < n_ports; i++) {
		if (!(p[i].revents & POLLIN))
			continue;
		/* A few datagrams per wake-up, so that one busy port cannot starve the rest. */
		for (int burst = 0; burst < 16; burst++) {
			struct sockaddr_storage peer;
			socklen_t plen = sizeof(peer);
			ssize_t k = recvfrom(u->ports[i].fd, buf, sizeof(buf), MSG_DONTWAIT,
					     (struct sockaddr *)&peer, &plen);
			if (k < 0)
				break;
			udpfwd_session *s = session_for(u, i, &peer, plen, inside, arg, now);
			if (!s)
				continue;
			s->last_ms = now;
			send(s->fd, buf, (size_t)k, MSG_DONTWAIT);
		}
	}
	for (size_t i = u->n_sessions; i-- > 0;)
		if (now - u->sessions[i].last_ms > UDPFWD_IDLE_MS)
			session_drop(u, i);
}
