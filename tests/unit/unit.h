/* SPDX-License-Identifier: MIT */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Minimal unit-test helpers: CHECK records a failure and continues; main returns
 * unit_exit() which is non-zero when any check failed. */
extern int unit_failures;
extern int unit_checks;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		unit_checks++;                                                                     \
		if (!(cond)) {                                                                     \
			unit_failures++;                                                           \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)

#define CHECK_STREQ(a, b)                                                                          \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		unit_checks++;                                                                     \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                                           \
			unit_failures++;                                                           \
			fprintf(stderr,                                                            \
				"%s:%d: CHECK_STREQ failed: %s == \"%s\", expected \"%s\"\n",      \
				__FILE__, __LINE__, #a, _a ? _a : "(null)", _b ? _b : "(null)");   \
		}                                                                                  \
	} while (0)

int unit_exit(const char *name);
