/* SPDX-License-Identifier: MIT */
#include "cli.h"

static const char image_help[] =
    "Usage: berth image COMMAND [ARGS...]\n"
    "\n"
    "Manage the image store (an OCI image layout under <root>/store).\n";

static const cli_verb image_verbs[] = {
    {"pull", cmd_image_pull, "pull an image from a registry"},
    {"import", cmd_image_import, "import an OCI layout, OCI/docker archive or rootfs tar"},
    {"ls", cmd_image_ls, "list images"},
    {"inspect", cmd_image_inspect, "show an image's digest, config, layers and sizes"},
    {"tag", cmd_image_tag, "give an image another name"},
    {"rm", cmd_image_rm, "remove image names"},
    {"prune", cmd_image_prune, "delete blobs and layers no image or machine uses"},
    {NULL, NULL, NULL},
};

int cmd_image(berth_ctx *ctx, int argc, char **argv)
{
	return cli_dispatch(ctx, "image", image_help, image_verbs, argc - 1, argv + 1);
}
