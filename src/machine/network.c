/* SPDX-License-Identifier: MIT */
/*
 * Machine networking options: --network and -p/--publish, parsed, checked, saved in
 * config.json and shown by inspect. The monitor's side (pasta, auto-forwarding) is in
 * pasta.c and portfwd.c.
 */
#include "network.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "runtime.h"

static const char *const mode_names[] = {
    [MACHINE_NET_NAT] = "nat",
    [MACHINE_NET_HOST] = "host",
    [MACHINE_NET_NONE] = "none",
};

const char *machine_net_mode_name(machine_net_mode m)
{
	return (unsigned)m < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[m] : "nat";
}

int machine_net_mode_parse(const char *s, machine_net_mode *out)
{
	for (unsigned i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (s && !strcmp(s, mode_names[i])) {
			*out = (machine_net_mode)i;
			return 0;
		}
	return -EINVAL;
}

/* A port number 1..65535 written in decimal, nothing else. */
static int parse_port(const char *s, size_t len, uint16_t *out)
{
	if (len == 0 || len > 5)
		return -EINVAL;
	unsigned v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int machine_publish_parse(const char *spec, machine_publish *out, berth_err *e)
{
	memset(out, 0, sizeof(*out));
	const char *s = spec ? spec : "";
	const char *slash = strrchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	if (slash) {
		if (!strcmp(slash + 1, "udp"))
			out->udp = true;
		else if (strcmp(slash + 1, "tcp"))
			return berr(e, -EINVAL,
				    "-p %s: the protocol after '/' is tcp or udp, not '%s'", s,
				    slash + 1);
	}
	/* Split off the IP: everything up to the last ':' before HOSTPORT:PORT. */
	char ip[64] = "";
	const char *ports = s;
	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (!close || close[1] != ':' || (size_t)(close - s) - 1 >= sizeof(ip))
			return berr(e, -EINVAL,
				    "-p %s: an IPv6 address goes in brackets followed by "
				    "':HOSTPORT:PORT', as in [::1]:8080:80",
				    s);
		memcpy(ip, s + 1, (size_t)(close - s) - 1);
		ip[close - s - 1] = 0;
		ports = close + 2;
	} else {
		size_t colons = 0;
		for (size_t i = 0; i < len; i++)
			colons += s[i] == ':';
		if (colons == 2) {
			const char *c = memchr(s, ':', len);
			if ((size_t)(c - s) >= sizeof(ip))
				return berr(e, -EINVAL, "-p %s: '%.*s' is not an IP address", s,
					    (int)(c - s), s);
			memcpy(ip, s, (size_t)(c - s));
			ip[c - s] = 0;
			ports = c + 1;
		} else if (colons != 1) {
			return berr(e, -EINVAL,
				    "-p %s: a published port is [IP:]HOSTPORT:PORT[/tcp|/udp], "
				    "for example 8080:80 or 127.0.0.1:5353:53/udp",
				    s);
		}
	}
	size_t plen = (size_t)(s + len - ports);
	const char *c = memchr(ports, ':', plen);
	if (!c)
		return berr(e, -EINVAL,
			    "-p %s: a published port is [IP:]HOSTPORT:PORT[/tcp|/udp], for example "
			    "8080:80",
			    s);
	if (parse_port(ports, (size_t)(c - ports), &out->host_port) < 0)
		return berr(e, -EINVAL,
			    "-p %s: the host port '%.*s' is not a number from 1 to 65535", s,
			    (int)(c - ports), ports);
	if (parse_port(c + 1, (size_t)(ports + plen - c - 1), &out->port) < 0)
		return berr(e, -EINVAL,
			    "-p %s: the machine's port '%.*s' is not a number from 1 to 65535", s,
			    (int)(ports + plen - c - 1), c + 1);
	if (!*ip) {
		snprintf(out->host_ip, sizeof(out->host_ip), "127.0.0.1");
		return 0;
	}
	unsigned char buf[16];
	/* Kept in the normal form inet_ntop writes (which also fits host_ip). */
	int af = inet_pton(AF_INET, ip, buf) == 1    ? AF_INET
		 : inet_pton(AF_INET6, ip, buf) == 1 ? AF_INET6
						     : 0;
	if (af && inet_ntop(af, buf, out->host_ip, sizeof(out->host_ip)))
		return 0;
	return berr(e, -EINVAL, "-p %s: '%s' is not a numeric IPv4 or IPv6 address of the host", s,
		    ip);
}

int machine_net_add_publish(machine_net_opts *o, const char *spec, berth_err *e)
{
	if (o->n_publish == MACHINE_PUBLISH_MAX)
		return berr(e, -E2BIG, "A machine can publish at most %d ports",
			    MACHINE_PUBLISH_MAX);
	machine_publish p;
	int r = machine_publish_parse(spec, &p, e);
	if (r < 0)
		return r;
	for (size_t i = 0; i < o->n_publish; i++) {
		const machine_publish *q = &o->publish[i];
		if (q->host_port == p.host_port && q->udp == p.udp &&
		    !strcmp(q->host_ip, p.host_ip))
			return berr(e, -EINVAL, "-p %s: host port %s:%u/%s is already published",
				    spec, p.host_ip, p.host_port, p.udp ? "udp" : "tcp");
	}
	o->publish[o->n_publish++] = p;
	return 0;
}

int machine_net_check(const machine_net_opts *o, berth_err *e)
{
	if (o->n_publish && o->mode != MACHINE_NET_NAT)
		return berr(e, -EINVAL,
			    "-p publishes ports of a machine with its own network (--network nat); "
			    "with --network %s %s",
			    machine_net_mode_name(o->mode),
			    o->mode == MACHINE_NET_HOST
				? "its ports are the host's already"
				: "nothing outside the machine can reach it");
	return 0;
}

static json_t *publish_json(const machine_publish *p)
{
	return json_pack("{s:s,s:i,s:i,s:s}", "host_ip", p->host_ip, "host_port", (int)p->host_port,
			 "port", (int)p->port, "proto", p->udp ? "udp" : "tcp");
}

int network_config_add(json_t *cfg, const machine_net_opts *o, berth_err *e)
{
	int r = machine_net_check(o, e);
	if (r < 0)
		return r;
	json_t *pub = json_array();
	if (!pub)
		return berr(e, -ENOMEM, "Out of memory");
	for (size_t i = 0; i < o->n_publish; i++)
		json_array_append_new(pub, publish_json(&o->publish[i]));
	if (json_object_set_new(cfg, "network", json_string(machine_net_mode_name(o->mode))) < 0 ||
	    json_object_set_new(cfg, "publish", pub) < 0)
		return berr(e, -ENOMEM, "Out of memory");
	return 0;
}

int network_config_load(json_t *cfg, machine_net_opts *o, berth_err *e)
{
	memset(o, 0, sizeof(*o));
	json_t *mode = json_object_get(cfg, "network");
	/* Machines made before networking share the host's network. */
	o->mode = MACHINE_NET_HOST;
	if (mode && machine_net_mode_parse(json_string_value(mode), &o->mode) < 0)
		return berr(e, -EBADMSG,
			    "The machine's config.json has an unknown network mode; it is nat, "
			    "host or none");
	o->isolated = json_is_true(json_object_get(cfg, "isolated"));
	json_t *pub = json_object_get(cfg, "publish");
	for (size_t i = 0; i < json_array_size(pub); i++) {
		json_t *p = json_array_get(pub, i);
		const char *ip = json_string_value(json_object_get(p, "host_ip"));
		const char *proto = json_string_value(json_object_get(p, "proto"));
		json_int_t hp = json_integer_value(json_object_get(p, "host_port"));
		json_int_t cp = json_integer_value(json_object_get(p, "port"));
		char spec[128];
		bool v6 = ip && strchr(ip, ':');
		snprintf(spec, sizeof(spec), "%s%s%s:%lld:%lld/%s", v6 ? "[" : "", ip ? ip : "",
			 v6 ? "]" : "", (long long)hp, (long long)cp, proto ? proto : "");
		berth_err why = {0};
		if (!ip || !proto || machine_net_add_publish(o, spec, &why) < 0)
			return berr(e, -EBADMSG,
				    "The machine's config.json has a bad published port%s%s",
				    why.msg[0] ? ": " : "", why.msg);
	}
	return 0;
}

json_t *network_inspect_json(json_t *cfg)
{
	machine_net_opts o;
	berth_err e = {0};
	json_t *j = json_object();
	if (!j)
		return json_null();
	if (network_config_load(cfg, &o, &e) < 0) {
		json_object_set_new(j, "error", json_string(e.msg));
		return j;
	}
	bool nat = o.mode == MACHINE_NET_NAT;
	json_t *pub = json_array();
	for (size_t i = 0; i < o.n_publish; i++)
		json_array_append_new(pub, publish_json(&o.publish[i]));
	json_object_set_new(j, "mode", json_string(machine_net_mode_name(o.mode)));
	json_object_set_new(j, "published", pub);
	/* Ports the machine listens on, forwarded to the host's 127.0.0.1 (TCP). */
	json_object_set_new(j, "auto_forward", json_boolean(nat && !o.isolated));
	/* Whether the machine can reach services on the host's loopback. */
	json_object_set_new(j, "host_loopback",
			    json_boolean(o.mode == MACHINE_NET_HOST || (nat && !o.isolated)));
	const char *desc = nat ? "own network namespace, connected through pasta (user-mode NAT)"
			   : o.mode == MACHINE_NET_HOST ? "shares the host's network namespace"
							: "own network namespace, loopback only";
	json_object_set_new(j, "description", json_string(desc));
	if (nat) {
		json_object_set_new(j, "dns", json_string(NETWORK_DNS_ADDR));
		json_object_set_new(j, "host_address",
				    o.isolated ? json_null() : json_string("the default gateway"));
	}
	return j;
}

char *network_resolv_conf(machine_net_mode mode)
{
	if (mode == MACHINE_NET_NONE)
		return NULL;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	fprintf(f, "%s (%s); berth rewrites it at every start while this line is here.\n",
		RT_RESOLV_CONF_MARKER, machine_net_mode_name(mode));
	if (mode == MACHINE_NET_NAT)
		fprintf(f, "nameserver %s\n", NETWORK_DNS_ADDR);
	_cleanup_fclose_ FILE *host = fopen("/etc/resolv.conf", "re");
	char line[1024];
	size_t n = 0;
	while (host && n < 64 && fgets(line, sizeof(line), host)) {
		/* Lines too long for the buffer are skipped whole. */
		if (!strchr(line, '\n') && !feof(host)) {
			int ch;
			while ((ch = fgetc(host)) != EOF && ch != '\n')
				;
			continue;
		}
		bool keep = !strncmp(line, "search", 6) || !strncmp(line, "domain", 6) ||
			    (mode == MACHINE_NET_HOST &&
			     (!strncmp(line, "nameserver", 10) || !strncmp(line, "options", 7)));
		if (keep) {
			fputs(line, f);
			if (!strchr(line, '\n'))
				fputc('\n', f);
			n++;
		}
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}
