/* SPDX-License-Identifier: MIT */
#include "cli.h"

int cmd_image_import(berth_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	berth_err e = {0};
	berr(&e, -ENOSYS, "PLACEHOLDER image import");
	return cli_fail(ctx, &e);
}
