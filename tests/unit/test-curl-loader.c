/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "curl-loader.h"
#include "unit.h"

#define THREADS 4

static void *load_in_thread(void *arg)
{
	(void)arg;
	berth_err e = {0};
	return (void *)(intptr_t)curl_load(&e);
}

static void check_missing_library(void)
{
	berth_err e = {0};
	curl_fns f = {0};
	void *h = &f;
	CHECK(curl_load_library("libberth-test-no-such-library.so.0", &f, &h, &e) == -ELIBACC);
	CHECK(e.code == -ELIBACC);
	CHECK(h == NULL);
	CHECK(f.easy_init == NULL);
	CHECK(strstr(e.msg, "libberth-test-no-such-library.so.0") != NULL);
	CHECK(strstr(e.msg, "libcurl4") != NULL);
}

static void check_library_without_curl(void)
{
	/* libc loads, but has none of the functions. */
	berth_err e = {0};
	curl_fns f = {0};
	void *h = &f;
	CHECK(curl_load_library("libc.so.6", &f, &h, &e) == -ELIBBAD);
	CHECK(h == NULL);
	CHECK(f.easy_init == NULL);
	CHECK(strstr(e.msg, "curl_easy_cleanup") != NULL);
	CHECK(strstr(e.msg, "libcurl4") != NULL);
}

static void check_loaded(void)
{
	/* First use from several threads at once: one load, one curl_global_init. */
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, load_in_thread, NULL) == 0);
	for (int i = 0; i < THREADS; i++) {
		void *k = (void *)1;
		CHECK(pthread_join(t[i], &k) == 0);
		CHECK(k == NULL);
	}
	berth_err e = {0};
	CHECK(curl_load(&e) == 0);
	CHECK(e.code == 0);
#define CHECK_RESOLVED(name) CHECK(curl_fn.name != NULL);
	CURL_LOADER_FUNCTIONS(CHECK_RESOLVED)
#undef CHECK_RESOLVED

	/* The variadic ones pass their argument through: a pointer in, the same pointer out. */
	CURL *c = curl_fn.easy_init();
	CHECK(c != NULL);
	if (c) {
		char *in = "berth", *out = NULL;
		CHECK(curl_fn.easy_setopt(c, CURLOPT_PRIVATE, in) == CURLE_OK);
		CHECK(curl_fn.easy_getinfo(c, CURLINFO_PRIVATE, &out) == CURLE_OK);
		CHECK(out == in);
		CHECK(curl_fn.easy_setopt(c, CURLOPT_URL, "http://127.0.0.1:1/v2/") == CURLE_OK);
		curl_fn.easy_cleanup(c);
	}

	CURLU *u = curl_fn.url();
	CHECK(u != NULL);
	if (u) {
		char *scheme = NULL;
		CHECK(curl_fn.url_set(u, CURLUPART_URL, "https://auth.example/token?a=b", 0) ==
		      CURLUE_OK);
		CHECK(curl_fn.url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK);
		CHECK_STREQ(scheme, "https");
		curl_fn.free(scheme);
		curl_fn.url_cleanup(u);
	}
	CHECK_STREQ(curl_fn.easy_strerror(CURLE_OK), "No error");
}

int main(void)
{
	check_missing_library();
	check_library_without_curl();
	check_loaded();
	return unit_exit("test-curl-loader");
}
