/* SPDX-License-Identifier: MIT */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* A set of strings (open addressing, FNV-1a). Zero-initialised is empty. */
typedef struct strset {
	char **slot;
	size_t cap, n;
} strset;

bool strset_has(const strset *s, const char *str);
/* Adds a copy of str (no-op when present). 0 or -ENOMEM. */
int strset_add(strset *s, const char *str);
void strset_free(strset *s);
