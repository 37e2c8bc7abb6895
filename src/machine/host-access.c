/* SPDX-License-Identifier: MIT */
/* What a machine sees of the host's files: home, mounts, the SSH agent (host-access.h). */
#include "host-access.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "host-user.h"

static const char *const home_names[] = {"rw", "ro", "none"};

int home_mode_parse(const char *s, home_mode *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(home_names); i++)
		if (s && !strcmp(s, home_names[i])) {
			*out = (home_mode)i;
			return 0;
		}
	return -EINVAL;
}

const char *home_mode_name(home_mode m)
{
	return (unsigned)m < ARRAY_SIZE(home_names) ? home_names[m] : "none";
}

/* An absolute path without empty, "." or ".." components, normalised into out. */
static bool normal_path(const char *p, char *out, size_t len)
{
	if (!p || p[0] != '/' || strlen(p) >= len)
		return false;
	size_t o = 0;
	for (const char *s = p; *s;) {
		while (*s == '/')
			s++;
		if (!*s)
			break;
		size_t l = strcspn(s, "/");
		if ((l == 1 && s[0] == '.') || (l == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		out[o++] = '/';
		memcpy(out + o, s, l);
		o += l;
		s += l;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = 0;
	return true;
}

/* Whether path is dir or below it. */
static bool path_under(const char *path, const char *dir)
{
	size_t l = strlen(dir);
	if (l == 1)
		return true;
	return !strncmp(path, dir, l) && (path[l] == 0 || path[l] == '/');
}

int host_mount_parse(const char *spec, host_mount *m, berth_err *e)
{
	memset(m, 0, sizeof(*m));
	_cleanup_free_ char *s = strdup(spec ? spec : "");
	if (!s)
		return berr(e, -ENOMEM, "Out of memory");
	char *c1 = strchr(s, ':');
	if (!c1 || c1 == s || !c1[1])
		return berr(e, -EINVAL,
			    "The mount '%s' is not SRC:DST[:ro]; give a host path and a path in "
			    "the machine, e.g. --mount ~/src:/src:ro",
			    spec);
	*c1 = 0;
	char *dst = c1 + 1, *c2 = strchr(dst, ':');
	if (c2) {
		*c2 = 0;
		if (!strcmp(c2 + 1, "ro"))
			m->ro = true;
		else if (strcmp(c2 + 1, "rw"))
			return berr(e, -EINVAL,
				    "The mount '%s' ends in ':%s'; the only options are ':ro' and "
				    "':rw'",
				    spec, c2 + 1);
	}
	_cleanup_free_ char *real = realpath(s, NULL);
	if (!real)
		return berr_errno(e, -errno,
				  "The mount source '%s' cannot be shared with the machine; give "
				  "an existing host path",
				  s);
	if (strlen(real) >= sizeof(m->src))
		return berr(e, -ENAMETOOLONG, "The mount source '%s' is too long", s);
	snprintf(m->src, sizeof(m->src), "%s", real);
	if (!normal_path(dst, m->dst, sizeof(m->dst)))
		return berr(e, -EINVAL,
			    "The mount destination '%s' must be an absolute path without '.' or "
			    "'..' parts",
			    dst);
	static const char *const reserved[] = {"/proc", "/sys", "/dev", "/run/host"};
	if (!strcmp(m->dst, "/"))
		return berr(e, -EINVAL,
			    "A mount cannot replace the machine's root '/'; pick a directory in "
			    "it such as /mnt/host");
	for (size_t i = 0; i < ARRAY_SIZE(reserved); i++)
		if (path_under(m->dst, reserved[i]))
			return berr(e, -EINVAL,
				    "The mount destination '%s' is under %s, which berth sets up "
				    "itself; pick another path",
				    m->dst, reserved[i]);
	return 0;
}

json_t *host_mount_to_json(const host_mount *m)
{
	return json_pack("{s:s,s:s,s:b}", "source", m->src, "destination", m->dst, "ro", m->ro);
}

int host_mounts_from_json(json_t *arr, host_mount *out, size_t max, size_t *n, berth_err *e)
{
	*n = 0;
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		const char *src = json_string_value(json_object_get(v, "source"));
		const char *dst = json_string_value(json_object_get(v, "destination"));
		if (*n == max || !src || src[0] != '/' || strlen(src) >= sizeof(out->src) ||
		    !normal_path(dst, out[*n].dst, sizeof(out[*n].dst)) || !strcmp(dst, "/"))
			return berr(e, -EBADMSG,
				    "The machine's config.json has a bad mount (entry %zu); fix it "
				    "with 'berth set NAME unmount=DST'",
				    i + 1);
		snprintf(out[*n].src, sizeof(out[*n].src), "%s", src);
		out[*n].ro = json_is_true(json_object_get(v, "ro"));
		(*n)++;
	}
	return 0;
}

static bool cfg_bool(json_t *cfg, const char *k)
{
	return json_is_true(json_object_get(cfg, k));
}

static home_mode cfg_home(json_t *cfg)
{
	home_mode h = HOME_NONE;
	if (home_mode_parse(json_string_value(json_object_get(cfg, "home")), &h) < 0)
		h = HOME_NONE;
	host_user u;
	if (cfg_bool(cfg, "isolated") ||
	    !host_user_from_json(json_object_get(cfg, "host_user"), &u))
		h = HOME_NONE;
	return h;
}

bool host_home_shared(json_t *cfg)
{
	return cfg_home(cfg) != HOME_NONE;
}

static bool is_socket(const char *p)
{
	struct stat st;
	return p && p[0] == '/' && stat(p, &st) == 0 && S_ISSOCK(st.st_mode);
}

int host_binds_from_config(const char *name, json_t *cfg, host_binds *hb, berth_err *e)
{
	/* Not a memset: the struct is about 280 KiB, and zeroing it would touch every page of
	 * it, which a short exec pays for; entries are written in full as they are used. */
	hb->n = 0;
	hb->ssh_agent = false;
	bool isolated = cfg_bool(cfg, "isolated");
	host_user u;
	home_mode h = cfg_home(cfg);
	if (h != HOME_NONE && host_user_from_json(json_object_get(cfg, "host_user"), &u)) {
		struct stat st;
		if (stat(u.home, &st) < 0 || !S_ISDIR(st.st_mode))
			return berr(e, -ENOENT,
				    "The home %s of host user '%s', which machine '%s' shares, is "
				    "not a directory on the host any more; create it or stop "
				    "sharing it with 'berth set %s home=none'",
				    u.home, u.name, name, name);
		host_mount *m = &hb->m[hb->n];
		snprintf(m->src, sizeof(m->src), "%s", u.home);
		snprintf(m->dst, sizeof(m->dst), "%s", u.home);
		m->ro = h == HOME_RO;
		hb->n++;
	}
	if (!isolated) {
		size_t n = 0;
		int r = host_mounts_from_json(json_object_get(cfg, "mounts"), hb->m + hb->n,
					      HOST_MOUNTS_MAX, &n, e);
		if (r < 0)
			return r;
		for (size_t i = hb->n; i < hb->n + n; i++) {
			struct stat st;
			if (stat(hb->m[i].src, &st) < 0)
				return berr_errno(
				    e, -errno,
				    "The mount source %s of machine '%s' is gone from "
				    "the host; restore it or drop the mount with 'berth "
				    "set %s unmount=%s'",
				    hb->m[i].src, name, name, hb->m[i].dst);
		}
		hb->n += n;
	}
	const char *sock = getenv("SSH_AUTH_SOCK");
	if (!isolated && cfg_bool(cfg, "ssh_agent") && is_socket(sock) &&
	    strlen(sock) < sizeof(hb->m[0].src)) {
		host_mount *m = &hb->m[hb->n++];
		snprintf(m->src, sizeof(m->src), "%s", sock);
		snprintf(m->dst, sizeof(m->dst), "%s", MACHINE_SSH_AGENT_PATH);
		m->ro = false;
		hb->ssh_agent = true;
	}
	for (size_t i = 0; i < hb->n; i++)
		hb->b[i] = (rt_bind){.src = hb->m[i].src, .dst = hb->m[i].dst, .ro = hb->m[i].ro};
	return 0;
}

json_t *host_access_inspect(json_t *cfg, bool running, bool agent_bound)
{
	bool isolated = cfg_bool(cfg, "isolated");
	host_user u;
	bool have_user = host_user_from_json(json_object_get(cfg, "host_user"), &u);
	home_mode h = cfg_home(cfg);
	json_t *j = json_object();
	json_object_set_new(j, "isolated", json_boolean(isolated));
	json_object_set_new(j, "user",
			    have_user ? json_pack("{s:s,s:I,s:I,s:s}", "name", u.name, "uid",
						  (json_int_t)u.uid, "gid", (json_int_t)u.gid,
						  "home", u.home)
				      : json_null());
	json_t *mounts = json_array();
	if (h != HOME_NONE)
		json_array_append_new(mounts, json_pack("{s:s,s:s,s:s,s:s}", "source", u.home,
							"destination", u.home, "mode",
							home_mode_name(h), "what", "home"));
	if (!isolated) {
		host_mount m[HOST_MOUNTS_MAX];
		size_t n = 0;
		berth_err ignore = {0};
		host_mounts_from_json(json_object_get(cfg, "mounts"), m, HOST_MOUNTS_MAX, &n,
				      &ignore);
		for (size_t i = 0; i < n; i++)
			json_array_append_new(mounts,
					      json_pack("{s:s,s:s,s:s,s:s}", "source", m[i].src,
							"destination", m[i].dst, "mode",
							m[i].ro ? "ro" : "rw", "what", "mount"));
	}
	json_object_set_new(j, "home", json_string(home_mode_name(h)));
	json_object_set_new(j, "mounts", mounts);
	bool agent = !isolated && cfg_bool(cfg, "ssh_agent");
	json_t *a = json_pack("{s:b,s:s}", "forwarded", agent, "path", MACHINE_SSH_AGENT_PATH);
	if (running)
		json_object_set_new(a, "bound", json_boolean(agent && agent_bound));
	json_object_set_new(j, "ssh_agent", a);
	return j;
}

char *host_path_in_machine(json_t *cfg, const char *cwd)
{
	host_binds hb;
	berth_err ignore = {0};
	char norm[PATH_MAX];
	if (!normal_path(cwd, norm, sizeof(norm)) ||
	    host_binds_from_config("", cfg, &hb, &ignore) < 0)
		return NULL;
	/* The deepest destination wins, as the later (or nested) mount covers the path. */
	const host_mount *best = NULL;
	for (size_t i = 0; i < hb.n; i++) {
		const host_mount *m = &hb.m[i];
		if (!strcmp(m->dst, MACHINE_SSH_AGENT_PATH) || !path_under(norm, m->src))
			continue;
		if (!best || strlen(m->src) > strlen(best->src))
			best = m;
	}
	if (!best)
		return NULL;
	char *out = NULL;
	const char *rest = norm + (strlen(best->src) == 1 ? 0 : strlen(best->src));
	if (asprintf(&out, "%s%s", strcmp(best->dst, "/") ? best->dst : "", rest) < 0)
		return NULL;
	return out;
}
