/* SPDX-License-Identifier: MIT */
/* libcurl, loaded on first use (see curl-loader.h). */
#include "curl-loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

curl_fns curl_fn;

static const struct {
	const char *name;
	size_t offset;
} functions[] = {
#define CURL_LOADER_ENTRY(name) {"curl_" #name, offsetof(curl_fns, name)},
    CURL_LOADER_FUNCTIONS(CURL_LOADER_ENTRY)
#undef CURL_LOADER_ENTRY
};

#define PACKAGE_HINT "install Debian's libcurl4 package"

int curl_load_library(const char *soname, curl_fns *fns, void **handle, berth_err *e)
{
	*handle = NULL;
	/* RTLD_NOW: a library that cannot be fully bound fails here, not in the middle of a pull.
	 */
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();
		return berr(
		    e, -ELIBACC,
		    "Cannot load %s (%s), which berth needs to talk to registries: " PACKAGE_HINT,
		    soname, why ? why : "unknown error");
	}
	curl_fns f = {0};
	for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++) {
		dlerror();
		void *p = dlsym(h, functions[i].name);
		if (!p) {
			const char *why = dlerror();
			berr(e, -ELIBBAD,
			     "%s has no %s (%s); berth needs libcurl 7.62 or later: " PACKAGE_HINT,
			     soname, functions[i].name, why ? why : "null symbol");
			dlclose(h);
			return e->code;
		}
		/* POSIX guarantees that a dlsym() result converts to a function pointer. */
		memcpy((char *)&f + functions[i].offset, &p, sizeof(p));
	}
	*fns = f;
	*handle = h;
	return 0;
}

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static berth_err load_err;

static void load(void)
{
	void *handle;
	/* The library stays loaded for the life of the process. */
	if (curl_load_library(CURL_LOADER_SONAME, &curl_fn, &handle, &load_err) < 0)
		return;
	CURLcode cc = curl_fn.global_init(CURL_GLOBAL_DEFAULT);
	if (cc != CURLE_OK)
		berr(&load_err, cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO,
		     "Cannot initialise libcurl: %s", curl_fn.easy_strerror(cc));
}

int curl_load(berth_err *e)
{
	pthread_once(&load_once, load);
	if (load_err.code)
		return berr(e, load_err.code, "%s", load_err.msg);
	return 0;
}
