/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <sys/resource.h>

#include "runtime.h"

static void test_clamp(void)
{
	rt_rlimit got, want = {RLIMIT_NOFILE, 1024, 1048576};
	/* The host caps the hard limit at 20000: clamp, never raise. */
	CHECK(rt_rlimit_clamp(&want, 20000, &got));
	CHECK(got.resource == RLIMIT_NOFILE && got.soft == 1024 && got.hard == 20000);
	/* Soft above the clamped hard follows it down. */
	want = (rt_rlimit){RLIMIT_NOFILE, 65536, 1048576};
	CHECK(rt_rlimit_clamp(&want, 20000, &got));
	CHECK(got.soft == 20000 && got.hard == 20000);
	/* Within limits: unchanged. */
	want = (rt_rlimit){RLIMIT_NOFILE, 512, 4096};
	CHECK(!rt_rlimit_clamp(&want, 20000, &got));
	CHECK(got.soft == 512 && got.hard == 4096);
	/* Unlimited current hard limit. */
	want = (rt_rlimit){RLIMIT_CORE, UINT64_MAX, UINT64_MAX};
	CHECK(!rt_rlimit_clamp(&want, UINT64_MAX, &got));
	CHECK(got.soft == UINT64_MAX && got.hard == UINT64_MAX);
	/* Inverted wish (soft > hard) comes out consistent. */
	want = (rt_rlimit){RLIMIT_NOFILE, 9000, 100};
	CHECK(rt_rlimit_clamp(&want, 20000, &got));
	CHECK(got.soft == 100 && got.hard == 100);
}

static void test_apply(void)
{
	struct rlimit before;
	CHECK(getrlimit(RLIMIT_NOFILE, &before) == 0);
	/* Ask for far more than the current hard limit: applying works and never raises. */
	rt_rlimit want = {RLIMIT_NOFILE, 1024, (uint64_t)before.rlim_max + 1000000};
	berth_err e = {0};
	CHECK(rt_rlimits_apply(&want, 1, &e) == 0);
	struct rlimit after;
	CHECK(getrlimit(RLIMIT_NOFILE, &after) == 0);
	CHECK(after.rlim_max == before.rlim_max);
	CHECK(after.rlim_cur == (before.rlim_max < 1024 ? before.rlim_max : 1024));
	/* Lowering works. */
	want = (rt_rlimit){RLIMIT_NOFILE, 100, 200};
	CHECK(rt_rlimits_apply(&want, 1, &e) == 0);
	CHECK(getrlimit(RLIMIT_NOFILE, &after) == 0);
	CHECK(after.rlim_cur == 100 && after.rlim_max == 200);
	/* And raising back above it is clamped, not refused. */
	want = (rt_rlimit){RLIMIT_NOFILE, 1024, 524288};
	CHECK(rt_rlimits_apply(&want, 1, &e) == 0);
	CHECK(getrlimit(RLIMIT_NOFILE, &after) == 0);
	CHECK(after.rlim_cur == 200 && after.rlim_max == 200);
}

int main(void)
{
	test_clamp();
	test_apply();
	return unit_exit("test-runtime-rlimit");
}
