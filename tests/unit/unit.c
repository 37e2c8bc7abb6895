/* SPDX-License-Identifier: MIT */
#include "unit.h"

int unit_failures;
int unit_checks;

int unit_exit(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, unit_checks, unit_failures);
	return unit_failures ? 1 : 0;
}
