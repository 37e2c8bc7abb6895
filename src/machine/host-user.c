/* SPDX-License-Identifier: MIT */
/* The host user made inside machines: who it is, and its record in config.json. */
#include "host-user.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool copy_field(char *dst, size_t len, const char *src)
{
	if (!src)
		src = "";
	if (strlen(src) >= len)
		return false;
	snprintf(dst, len, "%s", src);
	return true;
}

void host_user_rt(const host_user *u, bool make_home, rt_user *out)
{
	*out = (rt_user){
	    .name = u->name,
	    .uid = u->uid,
	    .gid = u->gid,
	    .home = u->home,
	    .shell = u->shell,
	    .gecos = u->gecos,
	    .make_home = make_home,
	};
}

static int from_passwd(const struct passwd *pw, host_user *u, berth_err *e)
{
	memset(u, 0, sizeof(*u));
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	/* The GECOS field: its first part (the full name) is all a machine needs. */
	char gecos[256];
	snprintf(gecos, sizeof(gecos), "%s", pw->pw_gecos ? pw->pw_gecos : "");
	gecos[strcspn(gecos, ",")] = 0;
	if (!copy_field(u->name, sizeof(u->name), pw->pw_name) ||
	    !copy_field(u->home, sizeof(u->home), pw->pw_dir) ||
	    !copy_field(u->shell, sizeof(u->shell),
			pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh") ||
	    !copy_field(u->gecos, sizeof(u->gecos), gecos))
		return berr(e, -ENAMETOOLONG,
			    "The host user '%s' has a name, home or shell too long for a machine's "
			    "/etc/passwd",
			    pw->pw_name);
	rt_user r;
	host_user_rt(u, false, &r);
	if (!rt_user_valid(&r))
		return berr(
		    e, -EINVAL,
		    "The host user '%s' (uid %u, gid %u, home %s) cannot be made inside a "
		    "machine: a machine holds ids 1 to 65535 and passwd entries without ':' "
		    "or newlines; create the machine with --home none as root instead",
		    u->name, u->uid, u->gid, u->home);
	return 0;
}

int host_user_detect(host_user *u, bool *found, berth_err *e)
{
	*found = false;
	struct passwd pwbuf, *pw = NULL;
	char buf[8192];
	const char *sudo_user = getenv("SUDO_USER");
	if (geteuid() == 0 && getuid() == 0 && sudo_user && *sudo_user &&
	    strcmp(sudo_user, "root")) {
		if (getpwnam_r(sudo_user, &pwbuf, buf, sizeof(buf), &pw) != 0 || !pw)
			return berr(e, -ENOENT,
				    "SUDO_USER names '%s', who is not in the user database; unset "
				    "SUDO_USER or run berth as that user",
				    sudo_user);
	} else {
		if (getpwuid_r(geteuid(), &pwbuf, buf, sizeof(buf), &pw) != 0 || !pw)
			return berr(
			    e, -ENOENT,
			    "User id %u is not in the user database, so berth cannot make it "
			    "inside the machine; add the user or use --home none",
			    (unsigned)geteuid());
	}
	if (pw->pw_uid == 0)
		return 0;
	int r = from_passwd(pw, u, e);
	if (r == 0)
		*found = true;
	return r;
}

json_t *host_user_to_json(const host_user *u)
{
	return json_pack("{s:s,s:I,s:I,s:s,s:s,s:s}", "name", u->name, "uid", (json_int_t)u->uid,
			 "gid", (json_int_t)u->gid, "home", u->home, "shell", u->shell, "gecos",
			 u->gecos);
}

bool host_user_from_json(json_t *j, host_user *u)
{
	memset(u, 0, sizeof(*u));
	if (!json_is_object(j))
		return false;
	json_t *uid = json_object_get(j, "uid"), *gid = json_object_get(j, "gid");
	if (!json_is_integer(uid) || !json_is_integer(gid) || json_integer_value(uid) <= 0 ||
	    json_integer_value(uid) >= RT_IDMAP_SIZE || json_integer_value(gid) < 0 ||
	    json_integer_value(gid) >= RT_IDMAP_SIZE)
		return false;
	u->uid = (uint32_t)json_integer_value(uid);
	u->gid = (uint32_t)json_integer_value(gid);
	if (!copy_field(u->name, sizeof(u->name), json_string_value(json_object_get(j, "name"))) ||
	    !copy_field(u->home, sizeof(u->home), json_string_value(json_object_get(j, "home"))) ||
	    !copy_field(u->shell, sizeof(u->shell),
			json_string_value(json_object_get(j, "shell"))) ||
	    !copy_field(u->gecos, sizeof(u->gecos), json_string_value(json_object_get(j, "gecos"))))
		return false;
	rt_user r;
	host_user_rt(u, false, &r);
	return rt_user_valid(&r);
}
