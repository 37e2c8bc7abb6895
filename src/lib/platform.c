/* SPDX-License-Identifier: MIT */
/*
 * Platforms ("os/arch[/variant]" in GOARCH naming): this host's, the one --platform asks
 * for, and which entry of an image index fits it best. Entries whose os is "unknown" are
 * attestations (buildkit provenance, SBOMs) and are never chosen.
 */
#include "manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "cleanup.h"

/* How much of a hostile string an error message quotes. */
#define QUOTE_MAX 100

/* A hostile string made safe to quote in a message: at most QUOTE_MAX bytes, anything but
 * printable ASCII shown as '?', so documents cannot put escape sequences on a terminal. */
typedef struct quoted {
	char s[QUOTE_MAX + 4];
} quoted;

static quoted quote(const char *in)
{
	quoted q;
	size_t n = 0;
	for (; in && in[n] && n < QUOTE_MAX; n++)
		q.s[n] = in[n] >= 0x20 && in[n] < 0x7f ? in[n] : '?';
	if (in && in[n])
		q.s[n++] = '.', q.s[n++] = '.', q.s[n++] = '.';
	q.s[n] = 0;
	return q;
}

const char *platform_host(void)
{
	static const struct {
		const char *machine, *platform;
	} map[] = {
	    {"x86_64", "linux/amd64"},	   {"amd64", "linux/amd64"},
	    {"aarch64", "linux/arm64/v8"}, {"arm64", "linux/arm64/v8"},
	    {"armv8l", "linux/arm/v7"},	   {"armv7l", "linux/arm/v7"},
	    {"armv7", "linux/arm/v7"},	   {"armv6l", "linux/arm/v6"},
	    {"armv5tel", "linux/arm/v5"},  {"armv5tejl", "linux/arm/v5"},
	    {"i386", "linux/386"},	   {"i486", "linux/386"},
	    {"i586", "linux/386"},	   {"i686", "linux/386"},
	    {"ppc64le", "linux/ppc64le"},  {"s390x", "linux/s390x"},
	    {"riscv64", "linux/riscv64"},  {"loongarch64", "linux/loong64"},
	};
	struct utsname u;
	if (uname(&u) == 0)
		for (size_t i = 0; i < ARRAY_SIZE(map); i++)
			if (strcmp(u.machine, map[i].machine) == 0)
				return map[i].platform;
#if defined(__x86_64__)
	return "linux/amd64";
#elif defined(__aarch64__)
	return "linux/arm64/v8";
#elif defined(__arm__)
	return "linux/arm/v7";
#elif defined(__i386__)
	return "linux/386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return "linux/ppc64le";
#elif defined(__s390x__)
	return "linux/s390x";
#elif defined(__riscv) && __riscv_xlen == 64
	return "linux/riscv64";
#else
	return "linux/unknown";
#endif
}

#define PLATFORM_PART_MAX 32

static bool platform_part_valid(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > PLATFORM_PART_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '.' ||
		      p[i] == '_' || p[i] == '-'))
			return false;
	return true;
}

/* Architecture names people type (uname, Debian) -> GOARCH; may imply a variant. */
static const char *normalize_arch(const char *arch, const char **implied_variant)
{
	static const struct {
		const char *alias, *arch, *variant;
	} map[] = {
	    {"x86_64", "amd64", NULL}, {"x86-64", "amd64", NULL}, {"aarch64", "arm64", NULL},
	    {"armhf", "arm", "v7"},    {"armel", "arm", "v6"},	  {"i386", "386", NULL},
	    {"i486", "386", NULL},     {"i586", "386", NULL},	  {"i686", "386", NULL},
	};
	*implied_variant = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (strcmp(arch, map[i].alias) == 0) {
			*implied_variant = map[i].variant;
			return map[i].arch;
		}
	return arch;
}

static int platform_bad(const char *s, berth_err *e)
{
	return berr(
	    e, -EINVAL,
	    "Platform '%s' is not of the form os/arch[/variant] (lowercase letters, digits, "
	    "'.', '_' and '-'), like linux/arm64 or linux/arm/v7.",
	    quote(s).s);
}

int platform_parse(const char *s, char **os, char **arch, char **variant, berth_err *e)
{
	*os = *arch = *variant = NULL;
	if (!s || !*s)
		return berr(e, -EINVAL,
			    "Platform is empty; give it as os/arch[/variant], like linux/arm64.");
	if (strlen(s) > 3 * PLATFORM_PART_MAX + 2)
		return berr(e, -EINVAL,
			    "Platform '%s' is too long; give it as os/arch[/variant], like "
			    "linux/arm64.",
			    quote(s).s);
	_cleanup_free_ char *buf = strdup(s);
	if (!buf)
		return berr(e, -ENOMEM, "Out of memory parsing a platform.");
	for (char *p = buf; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	char *parts[3] = {NULL, NULL, NULL};
	size_t n = 0;
	char *p = buf;
	for (;;) {
		char *slash = strchr(p, '/');
		if (n == 3)
			return platform_bad(s, e);
		parts[n++] = p;
		if (!slash)
			break;
		*slash = 0;
		p = slash + 1;
	}
	if (n < 2)
		return platform_bad(s, e);
	for (size_t i = 0; i < n; i++)
		if (!platform_part_valid(parts[i]))
			return platform_bad(s, e);

	const char *implied;
	const char *a = normalize_arch(parts[1], &implied);
	const char *v = n == 3 ? parts[2] : implied;
	char vbuf[PLATFORM_PART_MAX + 2];
	if (v && (strcmp(a, "arm") == 0 || strcmp(a, "arm64") == 0) && v[0] >= '0' && v[0] <= '9') {
		snprintf(vbuf, sizeof(vbuf), "v%s", v);
		v = vbuf;
	}
	_cleanup_free_ char *o = strdup(parts[0]), *ar = strdup(a), *va = v ? strdup(v) : NULL;
	if (!o || !ar || (v && !va))
		return berr(e, -ENOMEM, "Out of memory parsing a platform.");
	*os = TAKE_PTR(o);
	*arch = TAKE_PTR(ar);
	*variant = TAKE_PTR(va);
	return 0;
}

/* Variant an entry without one is taken to have (containerd does the same). */
static const char *default_variant(const char *arch)
{
	if (strcmp(arch, "arm64") == 0)
		return "v8";
	if (strcmp(arch, "arm") == 0)
		return "v7";
	return NULL;
}

/* "v7" -> 7; -1 when not of that form. */
static int variant_number(const char *v)
{
	if (!v || v[0] != 'v' || v[1] < '1' || v[1] > '9')
		return -1;
	return (int)strtol(v + 1, NULL, 10);
}

static bool platform_seen_before(const oci_index *ix, size_t i)
{
	const oci_descriptor *d = &ix->manifests[i];
	for (size_t j = 0; j < i; j++) {
		const oci_descriptor *o = &ix->manifests[j];
		if (o->os && o->arch && strcmp(o->os, d->os) == 0 &&
		    strcmp(o->arch, d->arch) == 0 &&
		    ((!o->variant && !d->variant) ||
		     (o->variant && d->variant && strcmp(o->variant, d->variant) == 0)))
			return true;
	}
	return false;
}

static bool entry_runnable(const oci_descriptor *d)
{
	if (manifest_kind_from_media_type(d->media_type) == MANIFEST_UNKNOWN)
		return false;
	return !d->os || (strcmp(d->os, "unknown") != 0 && strcmp(d->arch, "unknown") != 0);
}

/* How well entry d fits; -1 when it does not. */
static int entry_score(const oci_descriptor *d, const char *os, const char *arch,
		       const char *variant, bool strict_variant)
{
	if (!d->os)
		return 0; /* no platform given: usable only when nothing fits better */
	const char *implied;
	const char *darch = normalize_arch(d->arch, &implied);
	if (strcmp(d->os, os) != 0 || strcmp(darch, arch) != 0)
		return -1;
	const char *dv = d->variant ? d->variant : implied ? implied : default_variant(darch);
	if (strict_variant)
		return dv && strcmp(dv, variant) == 0 ? 300 : -1;
	if (dv && variant && strcmp(dv, variant) == 0)
		return 300;
	if (!d->variant)
		return 200;
	if (strcmp(arch, "arm") == 0 || strcmp(arch, "arm64") == 0) {
		/* Older ARM revisions run on newer cores, never the other way round. */
		int have = variant_number(variant), want = variant_number(dv);
		return have > 0 && want > 0 && want < have ? 100 + want : -1;
	}
	return 1;
}

int index_select_platform(const oci_index *ix, const char *platform, berth_err *e)
{
	_cleanup_free_ char *os = NULL, *arch = NULL, *variant = NULL;
	_cleanup_free_ char *hos = NULL, *harch = NULL, *hvariant = NULL;
	const char *host = platform_host();
	int r = platform_parse(platform ? platform : host, &os, &arch, &variant, e);
	if (r < 0)
		return r;
	bool strict = platform && variant;
	const char *want_variant = variant;
	if (!strict) {
		/* No variant asked for: prefer the host's when the architecture is the host's. */
		berth_err ignore = {0};
		if (platform && platform_parse(host, &hos, &harch, &hvariant, &ignore) == 0 &&
		    strcmp(hos, os) == 0 && strcmp(harch, arch) == 0)
			want_variant = hvariant;
		if (!want_variant)
			want_variant = default_variant(arch);
	}

	int best = -1, best_score = -1;
	for (size_t i = 0; ix && i < ix->n_manifests && i < INT32_MAX; i++) {
		const oci_descriptor *d = &ix->manifests[i];
		if (!entry_runnable(d))
			continue;
		int s = entry_score(d, os, arch, want_variant, strict);
		if (s > best_score) {
			best_score = s;
			best = (int)i;
		}
	}
	if (best >= 0)
		return best;

	char offered[1024] = "";
	size_t used = 0;
	for (size_t i = 0; ix && i < ix->n_manifests; i++) {
		const oci_descriptor *d = &ix->manifests[i];
		if (!d->os || !entry_runnable(d) || platform_seen_before(ix, i))
			continue;
		int n = snprintf(offered + used, sizeof(offered) - used, "%s%s/%s%s%s",
				 used ? ", " : "", quote(d->os).s, quote(d->arch).s,
				 d->variant ? "/" : "", d->variant ? quote(d->variant).s : "");
		if (n < 0 || (size_t)n >= sizeof(offered) - used) {
			offered[used] = 0;
			snprintf(offered + used, sizeof(offered) - used, ", ...");
			break;
		}
		used += (size_t)n;
	}
	char wanted[3 * PLATFORM_PART_MAX + 8];
	snprintf(wanted, sizeof(wanted), "%s/%s%s%s", os, arch, variant ? "/" : "",
		 variant ? variant : "");
	if (!used)
		return berr(
		    e, -ENOENT,
		    "The image index offers no image for any platform (only attestations or "
		    "other artifacts), so there is nothing for %s to run.",
		    wanted);
	return berr(e, -ENOENT,
		    "The image is not built for %s%s; it offers %s; choose one of those with "
		    "--platform.",
		    wanted, platform ? "" : " (this host's platform)", offered);
}
