/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Machine networking (network.c): the --network mode and published ports a machine is
 * created with, how they are kept in config.json, and what `inspect` shows of them.
 *
 *   "network": "nat" | "host" | "none"
 *   "publish": [{"host_ip": "127.0.0.1", "host_port": 8080, "port": 80, "proto": "tcp"}]
 *   "isolated": true   (written by --isolated: no auto-forwarding, no host loopback)
 *
 * nat: a network namespace of the machine's own, connected by pasta (Debian's passt) to
 * everything the host reaches; the host's loopback is reachable at the machine's default
 * gateway address and DNS at NETWORK_DNS_ADDR. host: the host's network namespace. none:
 * a namespace with loopback only.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "error.h"

typedef enum machine_net_mode {
	MACHINE_NET_NAT = 0,
	MACHINE_NET_HOST,
	MACHINE_NET_NONE,
} machine_net_mode;

typedef struct machine_publish {
	char host_ip[46]; /* numeric IPv4 or IPv6 address, as written */
	uint16_t host_port, port;
	bool udp;
} machine_publish;

#define MACHINE_PUBLISH_MAX 64

typedef struct machine_net_opts {
	machine_net_mode mode;
	machine_publish publish[MACHINE_PUBLISH_MAX];
	size_t n_publish;
	bool isolated; /* read from config.json; create leaves it to --isolated */
} machine_net_opts;

/* The address the machine's resolv.conf names in nat mode: pasta forwards DNS queries
 * sent there to the host's resolver. */
#define NETWORK_DNS_ADDR "169.254.254.53"

const char *machine_net_mode_name(machine_net_mode m);
/* "nat", "host" or "none"; -EINVAL otherwise. */
int machine_net_mode_parse(const char *s, machine_net_mode *out);

/* Parse -p [IP:]HOSTPORT:PORT[/tcp|/udp] (an IPv6 IP in brackets: [::1]:8080:80). The IP
 * defaults to 127.0.0.1. -EINVAL with a sentence naming the bad part. */
int machine_publish_parse(const char *spec, machine_publish *out, berth_err *e);
/* Parse and append one -p, refusing a host address, port and protocol given twice. */
int machine_net_add_publish(machine_net_opts *o, const char *spec, berth_err *e);
/* Whether the options make sense together (published ports need nat). */
int machine_net_check(const machine_net_opts *o, berth_err *e);

/* Add "network" and "publish" to a machine's new config.json. */
int network_config_add(json_t *cfg, const machine_net_opts *o, berth_err *e);
/* Read them back (a config.json from before networking: host, nothing published). */
int network_config_load(json_t *cfg, machine_net_opts *o, berth_err *e);

/* The /etc/resolv.conf a machine gets for mode (caller frees), NULL for none (or when out
 * of memory): nat names NETWORK_DNS_ADDR, host copies the host's resolvers; both keep the
 * host's search domains. */
char *network_resolv_conf(machine_net_mode mode);

/* {"mode", "published": [...], "auto_forward", "host_loopback", "dns", "host_address"}
 * for berth inspect; never NULL. */
json_t *network_inspect_json(json_t *cfg);
