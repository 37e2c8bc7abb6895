/* SPDX-License-Identifier: MIT */
#include "image.h"

#include <string.h>

#include "cleanup.h"

int stored_image_load(berth_store *s, const char *manifest_digest, stored_image *img, berth_err *e)
{
	*img = (stored_image){0};
	if (!digest_valid(manifest_digest))
		return berr(e, -EINVAL, "'%s' is not a valid manifest digest", manifest_digest);
	memcpy(img->digest, manifest_digest, DIGEST_STR_LEN);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = store_read_blob(s, manifest_digest, MANIFEST_MAX_SIZE, &buf, &len, e);
	if (r < 0)
		return r;
	img->manifest_size = (int64_t)len;
	r = manifest_parse(buf, len, &img->manifest, e);
	if (r < 0) {
		stored_image_free(img);
		return berr_prefix(e, "Manifest %s in the store", manifest_digest);
	}
	free(buf);
	buf = NULL;
	r = store_read_blob(s, img->manifest.config.digest, MANIFEST_MAX_SIZE, &buf, &len, e);
	if (r < 0) {
		stored_image_free(img);
		return r;
	}
	r = config_parse(buf, len, &img->config, e);
	if (r < 0) {
		stored_image_free(img);
		return berr_prefix(e, "Config %s of image %s", img->manifest.config.digest,
				   manifest_digest);
	}
	if (img->config.n_diff_ids != img->manifest.n_layers) {
		r = berr(e, -EBADMSG,
			 "Image %s lists %zu layers but its config lists %zu diff ids; the image "
			 "is corrupt",
			 manifest_digest, img->manifest.n_layers, img->config.n_diff_ids);
		stored_image_free(img);
		return r;
	}
	return 0;
}

void stored_image_free(stored_image *img)
{
	manifest_free(&img->manifest);
	config_free(&img->config);
}

int64_t stored_image_size(const stored_image *img)
{
	int64_t total = img->manifest.config.size;
	for (size_t i = 0; i < img->manifest.n_layers; i++)
		total += img->manifest.layers[i].size;
	return total;
}
