/* SPDX-License-Identifier: MIT */
#include "strset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

bool strset_has(const strset *s, const char *str)
{
	if (!s->cap)
		return false;
	for (size_t i = hash_str(str) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (!s->slot[i])
			return false;
		if (strcmp(s->slot[i], str) == 0)
			return true;
	}
}

static void place(char **slot, size_t cap, char *str)
{
	size_t i = hash_str(str) & (cap - 1);
	while (slot[i])
		i = (i + 1) & (cap - 1);
	slot[i] = str;
}

int strset_add(strset *s, const char *str)
{
	if (strset_has(s, str))
		return 0;
	if ((s->n + 1) * 2 > s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		char **ns = calloc(ncap, sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i])
				place(ns, ncap, s->slot[i]);
		free(s->slot);
		s->slot = ns;
		s->cap = ncap;
	}
	char *copy = strdup(str);
	if (!copy)
		return -ENOMEM;
	place(s->slot, s->cap, copy);
	s->n++;
	return 0;
}

void strset_free(strset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slot[i]);
	free(s->slot);
	*s = (strset){0};
}
