/* SPDX-License-Identifier: MIT */
#include "unit.h"

int main(void)
{
	return unit_exit("test-unpack");
}
