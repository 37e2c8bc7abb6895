/* SPDX-License-Identifier: MIT */
/* libFuzzer target: image reference parsing and the helpers on a parsed reference. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;

	berth_ref r;
	berth_err e = {0};
	int rc = ref_parse(s, &r, &e);
	if (rc < 0) {
		/* A failure always explains itself and leaves nothing to free. */
		if (e.code != rc || !e.msg[0] || r.registry || r.repository || r.tag || r.digest)
			abort();
	} else {
		if (!r.registry || !r.repository || (!r.tag && !r.digest))
			abort();
		char *f = ref_format(&r), *n = ref_name(&r);
		if (!f || !n || strncmp(f, n, strlen(n)) != 0 || strlen(n) > 255)
			abort();
		if (!ref_api_host(&r))
			abort();
		(void)ref_is_local_registry(&r);
		/* The normalised form is a fixed point. */
		berth_ref again;
		berth_err e2 = {0};
		if (ref_parse(f, &again, &e2) != 0)
			abort();
		char *f2 = ref_format(&again);
		if (!f2 || strcmp(f, f2) != 0)
			abort();
		free(f2);
		ref_free(&again);
		free(f);
		free(n);
	}
	ref_free(&r);
	free(s);
	return 0;
}
