/* SPDX-License-Identifier: MIT */
#pragma once
#include <stdbool.h>
#include "context.h"
#include "digest.h"
#include "ref.h"
#include "store.h"

typedef struct pull_opts {
	const char *platform; /* "os/arch[/variant]"; NULL = host */
	bool tls_verify;      /* default true; plain HTTP only for local registries or false */
	int parallel;         /* concurrent blob downloads (0 = default 4) */
} pull_opts;

/* Pull ref into the store, unpack its layers and tag it. manifest_digest gets the
 * stored (platform) manifest's digest. */
int image_pull(const berth_ctx *ctx, berth_store *s, const berth_ref *ref, const pull_opts *o,
	       char manifest_digest[DIGEST_STR_LEN], berth_err *e);
