/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <string.h>
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

static void test_keep_id(void)
{
	berth_err e = {0};
	/* Root's map: one range; uid 1000 punched out onto host 1000, the rest unchanged. */
	rt_idmap m = {.n_uid = 1, .n_gid = 1};
	m.uid[0] = m.gid[0] = (rt_idmap_range){0, 0x10000000u, RT_IDMAP_SIZE};
	CHECK(rt_idmap_keep_id(&m, 1000, 1000, 1001, 1001, &e) == 0);
	CHECK(m.n_uid == 3 && m.n_gid == 3);
	CHECK(rt_idmap_to_host(m.uid, m.n_uid, 0) == 0x10000000);
	CHECK(rt_idmap_to_host(m.uid, m.n_uid, 999) == 0x10000000 + 999);
	CHECK(rt_idmap_to_host(m.uid, m.n_uid, 1000) == 1000);
	CHECK(rt_idmap_to_host(m.uid, m.n_uid, 1001) == 0x10000000 + 1001);
	CHECK(rt_idmap_to_host(m.uid, m.n_uid, 65535) == 0x10000000 + 65535);
	CHECK(rt_idmap_to_host(m.gid, m.n_gid, 1001) == 1001);
	/* No host id appears twice. */
	for (size_t i = 0; i < m.n_uid; i++)
		for (size_t j = i + 1; j < m.n_uid; j++)
			CHECK(m.uid[i].outside + m.uid[i].count <= m.uid[j].outside ||
			      m.uid[j].outside + m.uid[j].count <= m.uid[i].outside);
	/* A regular user's map: inside 0 is the user (host 1000), 1.. subordinate ids. The
	 * user moves to inside 1000 and inside 0 takes the subordinate id 1000 had. */
	rt_idmap u = {.n_uid = 2, .n_gid = 2};
	u.uid[0] = u.gid[0] = (rt_idmap_range){0, 1000, 1};
	u.uid[1] = u.gid[1] = (rt_idmap_range){1, 100000, RT_IDMAP_SIZE - 1};
	CHECK(rt_idmap_keep_id(&u, 1000, 1000, 1000, 1000, &e) == 0);
	CHECK(rt_idmap_to_host(u.uid, u.n_uid, 1000) == 1000);
	CHECK(rt_idmap_to_host(u.uid, u.n_uid, 0) == 100000 + 999);
	CHECK(rt_idmap_to_host(u.uid, u.n_uid, 1) == 100000);
	CHECK(rt_idmap_to_host(u.uid, u.n_uid, 1001) == 100000 + 1000);
	uint64_t total = 0;
	for (size_t i = 0; i < u.n_uid; i++)
		total += u.uid[i].count;
	CHECK(total == RT_IDMAP_SIZE);
	/* Ids the map cannot hold are refused with a sentence, leaving the map as it was. */
	rt_idmap before = m;
	CHECK(rt_idmap_keep_id(&m, 70000, 70000, 0, 0, &e) < 0 && e.msg[0]);
	CHECK(!memcmp(&before, &m, sizeof(m)));
}

int main(void)
{
	test_parse();
	test_to_host();
	test_caller();
	test_keep_id();
	return unit_exit("test-runtime-idmap");
}
