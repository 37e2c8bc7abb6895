/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * libcurl, loaded when a verb first talks to a registry. Linked into berth, libcurl would
 * make every command (exec and shell too) load and relocate it and its two dozen libraries
 * (TLS, Kerberos, LDAP, SSH, ...) at start, which costs more than a short command itself.
 * So berth dlopen()s it on first use, as systemd does for its optional libraries, and calls
 * it through curl_fn, whose pointers have the prototypes of <curl/curl.h>.
 */
#include <curl/curl.h>
#include "error.h"

#define CURL_LOADER_SONAME "libcurl.so.4"

/* Every libcurl function berth calls: X(name) for curl_<name>. */
#define CURL_LOADER_FUNCTIONS(X)                                                                   \
	X(easy_cleanup)                                                                            \
	X(easy_getinfo)                                                                            \
	X(easy_init)                                                                               \
	X(easy_perform)                                                                            \
	X(easy_reset)                                                                              \
	X(easy_setopt)                                                                             \
	X(easy_strerror)                                                                           \
	X(free)                                                                                    \
	X(global_init)                                                                             \
	X(slist_append)                                                                            \
	X(slist_free_all)                                                                          \
	X(url)                                                                                     \
	X(url_cleanup)                                                                             \
	X(url_get)                                                                                 \
	X(url_set)

/* curl_fn.easy_init has the type of curl_easy_init, and so on. (The variadic ones,
 * easy_setopt and easy_getinfo, are pointers to variadic functions: call them as usual.) */
typedef struct curl_fns {
#define CURL_LOADER_MEMBER(name) __typeof__(curl_##name) *name;
	CURL_LOADER_FUNCTIONS(CURL_LOADER_MEMBER)
#undef CURL_LOADER_MEMBER
} curl_fns;

/* Filled by curl_load(); use it only after curl_load() returned 0. */
extern curl_fns curl_fn;

/* Load libcurl and run curl_global_init(), once per process. Thread-safe, but call it before
 * starting threads that use libcurl: curl_global_init() must precede any other curl call. */
int curl_load(berth_err *e);

/* What curl_load() does for one library, without the global initialisation: dlopen(soname)
 * and resolve every function into *fns; the handle goes to *handle. For tests. */
int curl_load_library(const char *soname, curl_fns *fns, void **handle, berth_err *e);
