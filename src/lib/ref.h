/* SPDX-License-Identifier: MIT */
#pragma once
#include <stdbool.h>
#include "error.h"

/*
 * Image references, normalised as docker and podman do:
 *   debian                 -> docker.io/library/debian:latest
 *   user/app:1             -> docker.io/user/app:1
 *   localhost:5000/app     -> localhost:5000/app:latest
 *   quay.io/a/b@sha256:... -> quay.io/a/b@sha256:...
 * A reference with a digest and no tag keeps tag NULL.
 */
typedef struct berth_ref {
	char *registry;   /* "docker.io", "localhost:5000", "[::1]:5000" */
	char *repository; /* "library/debian" */
	char *tag;        /* "latest", or NULL when only a digest is given */
	char *digest;     /* "sha256:<hex>" or NULL */
} berth_ref;

int ref_parse(const char *s, berth_ref *out, berth_err *e);
void ref_free(berth_ref *r);
/* Full normalised form: registry/repository[:tag][@digest]. Caller frees. */
char *ref_format(const berth_ref *r);
/* Normalised name without tag or digest: registry/repository. Caller frees. */
char *ref_name(const berth_ref *r);
/* Host to talk to for the distribution API ("registry-1.docker.io" for docker.io). */
const char *ref_api_host(const berth_ref *r);
/* True when the registry host is localhost, 127.0.0.0/8 or ::1 (plain HTTP allowed). */
bool ref_is_local_registry(const berth_ref *r);
