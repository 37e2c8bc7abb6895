/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <unistd.h>

#include "runtime.h"

static void test_parse(void)
{
	const char *text = "# comment\n"
			   "alice:100000:65536\n"
			   "bob:165536:65536\n"
			   "\n"
			   "1000:231072:1000\n"	   /* by uid */
			   "alice:300000:10\r\n"   /* CRLF */
			   "alice:x:5\n"	   /* malformed start */
			   "alice:5:\n"		   /* missing count */
			   "alice:5:0\n"	   /* empty range */
			   "alice:4294967295:2\n"  /* past the 32-bit id space */
			   "alice:4294967294:2\n"  /* ends exactly at 2^32 */
			   "alicia:400000:65536\n" /* prefix of another name */
			   "alice:99999999999:1\n" /* overflows */
			   "alice:500000:65536";   /* no final newline */
	rt_idmap_range r[16];
	int n = rt_subid_parse(text, "alice", 1000, r, 16);
	CHECK(n == 5);
	CHECK(r[0].outside == 100000 && r[0].count == 65536);
	CHECK(r[1].outside == 231072 && r[1].count == 1000);
	CHECK(r[2].outside == 300000 && r[2].count == 10);
	CHECK(r[3].outside == 4294967294u && r[3].count == 2);
	CHECK(r[4].outside == 500000 && r[4].count == 65536);
	/* max bounds the output */
	CHECK(rt_subid_parse(text, "alice", 1000, r, 2) == 2);
	CHECK(rt_subid_parse(text, "bob", 7, r, 16) == 1 && r[0].outside == 165536);
	CHECK(rt_subid_parse(text, "carol", 7, r, 16) == 0);
	CHECK(rt_subid_parse("", "alice", 0, r, 16) == 0);
	CHECK(rt_subid_parse(":::\n::\n:1:1\n", "", 5, r, 16) == 0); /* no empty names */
}

static void test_to_host(void)
{
	rt_idmap_range r[] = {{0, 1000, 1}, {1, 100000, 65535}};
	CHECK(rt_idmap_to_host(r, 2, 0) == 1000);
	CHECK(rt_idmap_to_host(r, 2, 1) == 100000);
	CHECK(rt_idmap_to_host(r, 2, 65535) == 100000 + 65534);
	CHECK(rt_idmap_to_host(r, 2, 65536) == -1);
	CHECK(rt_idmap_to_host(r, 0, 0) == -1);
	rt_idmap_range top[] = {{0, 4294967295u - 9, 10}};
	CHECK(rt_idmap_to_host(top, 1, 9) == 4294967295LL);
}

static void test_caller(void)
{
	rt_idmap m;
	berth_err e = {0};
	if (geteuid() != 0) {
		printf("# not root: the root range is not checked\n");
		return;
	}
	CHECK(rt_idmap_for_caller(0, &m, &e) == 0);
	CHECK(!m.helpers && m.n_uid == 1 && m.n_gid == 1);
	CHECK(m.uid[0].inside == 0 && m.uid[0].outside == RT_ROOT_RANGE_START &&
	      m.uid[0].count == RT_IDMAP_SIZE);
	CHECK(rt_idmap_for_caller(3, &m, &e) == 0);
	CHECK(m.gid[0].outside == RT_ROOT_RANGE_START + 3 * RT_IDMAP_SIZE);
	/* Slots past the 32-bit id space are refused with a sentence. */
	CHECK(rt_idmap_for_caller(100000, &m, &e) < 0 && e.msg[0]);
}

int main(void)
{
	test_parse();
	test_to_host();
	test_caller();
	return unit_exit("test-runtime-idmap");
}
