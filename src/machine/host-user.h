/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The host user: who berth makes inside a machine (host-user.c). Decided at `create` and
 * kept in config.json ("host_user"), so a machine's user never changes under it.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "runtime.h"

typedef struct host_user {
	char name[33];
	uint32_t uid, gid;
	char home[256];
	char shell[256];
	char gecos[256];
} host_user;

/*
 * The user berth works for: $SUDO_USER when berth runs as root under sudo, else the
 * calling user. *found is false when that is root (root gets no user of its own in a
 * machine). Fails with a sentence when the user's entry cannot be used inside a machine
 * (ids of 65536 and above, a name or home that does not fit a passwd line).
 */
int host_user_detect(host_user *u, bool *found, berth_err *e);

/* {"name","uid","gid","home","shell","gecos"} */
json_t *host_user_to_json(const host_user *u);
/* From config.json's "host_user"; false when absent or not valid. */
bool host_user_from_json(json_t *j, host_user *u);

/* The runtime's view of u (pointers into u). */
void host_user_rt(const host_user *u, bool make_home, rt_user *out);
