/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <unistd.h>

#include "digest.h"
#include "unit.h"

int main(void)
{
	char d[DIGEST_STR_LEN];
	sha256_buf("", 0, d);
	CHECK_STREQ(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_buf("abc", 3, d);
	CHECK_STREQ(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

	/* Streaming equals one-shot. */
	sha256_ctx c = {0};
	CHECK(sha256_init(&c) == 0);
	sha256_update(&c, "a", 1);
	sha256_update(&c, "bc", 2);
	char s[DIGEST_STR_LEN];
	sha256_final(&c, s);
	CHECK_STREQ(s, d);
	sha256_free(&c); /* safe after final */

	/* From an fd. */
	char path[] = "/tmp/berth-test-digest-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, "abc", 3) == 3);
	lseek(fd, 0, SEEK_SET);
	uint64_t size = 0;
	berth_err e = {0};
	CHECK(sha256_fd(fd, s, &size, &e) == 0);
	CHECK_STREQ(s, d);
	CHECK(size == 3);
	close(fd);
	unlink(path);

	CHECK(digest_valid(d));
	CHECK(!digest_valid(NULL));
	CHECK(!digest_valid("sha256:"));
	CHECK(!digest_valid(
	    "sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	CHECK(!digest_valid(
	    "sha256:BA7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	CHECK(!digest_valid(
	    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a"));
	CHECK(!digest_valid(
	    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015add"));
	CHECK(!digest_valid(
	    "sha256:../../../../etc/passwd00000000000000000000000000000000000000000"));
	return unit_exit("test-digest");
}
