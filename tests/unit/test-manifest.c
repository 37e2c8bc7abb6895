/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <errno.h>

#include "manifest-convert.h"
#include "manifest.h"

#define D1 "sha256:a3f6aa4b5c8e0c0e8e5bb2c62ec1d7d8a0e2fc1a2f4c1be1d4a6bba5dbf1d3e1"
#define D2 "sha256:b9e2c2e6f45a1a9e0bdf5b4fe4a0b06ba6a68e36a4f8b5fc6fd6e73aa8b1cf52"
#define D3 "sha256:c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"
#define D4 "sha256:d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4"
#define D5 "sha256:e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5"
#define D6 "sha256:f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6"
#define D7 "sha256:0707070707070707070707070707070707070707070707070707070707070707"
#define D8 "sha256:1818181818181818181818181818181818181818181818181818181818181818"

/* docker.io/library/debian:bookworm, linux/amd64, as Docker Hub serves it. */
static const char docker_manifest[] =
    "{\n"
    "   \"schemaVersion\": 2,\n"
    "   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
    "   \"config\": {\n"
    "      \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n"
    "      \"size\": 451,\n"
    "      \"digest\": \"" D1 "\"\n"
    "   },\n"
    "   \"layers\": [\n"
    "      {\n"
    "         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
    "         \"size\": 49557601,\n"
    "         \"digest\": \"" D2 "\"\n"
    "      }\n"
    "   ]\n"
    "}";

/* An OCI manifest written by buildkit: zstd and gzip layers, annotations, no mediaType. */
static const char oci_image_manifest[] =
    "{\"schemaVersion\":2,"
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
    "\"digest\":\"" D1 "\",\"size\":1520},"
    "\"layers\":["
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"" D2 "\","
    "\"size\":29150000},"
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D3 "\","
    "\"size\":32,\"annotations\":{\"org.opencontainers.image.title\":\"x\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" D4 "\","
    "\"size\":0}],"
    "\"annotations\":{\"org.opencontainers.image.created\":\"2024-05-13T00:00:00Z\"}}";

/* docker.io/library/debian:bookworm manifest list (trimmed digests). */
static const char docker_list[] =
    "{\"manifests\":["
    "{\"digest\":\"" D1 "\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
    "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},\"size\":529},"
    "{\"digest\":\"" D2 "\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
    "\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v5\"},\"size\":529},"
    "{\"digest\":\"" D3 "\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
    "\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"},\"size\":529},"
    "{\"digest\":\"" D4 "\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
    "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"},\"size\":529},"
    "{\"digest\":\"" D5 "\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
    "\"platform\":{\"architecture\":\"386\",\"os\":\"linux\"},\"size\":529},"
    "{\"digest\":\"" D6 "\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
    "\"platform\":{\"architecture\":\"ppc64le\",\"os\":\"linux\"},\"size\":529},"
    "{\"digest\":\"" D7 "\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
    "\"platform\":{\"architecture\":\"s390x\",\"os\":\"linux\"},\"size\":529}"
    "],"
    "\"mediaType\":\"application/vnd.docker.distribution.manifest.list.v2+json\","
    "\"schemaVersion\":2}";

/* An OCI index pushed by buildx with provenance attestations (os/arch "unknown"). */
static const char oci_index_attest[] =
    "{\n"
    "  \"schemaVersion\": 2,\n"
    "  \"mediaType\": \"application/vnd.oci.image.index.v1+json\",\n"
    "  \"manifests\": [\n"
    "    {\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \"digest\": \"" D1 "\",\n"
    "     \"size\": 1234, \"platform\": {\"architecture\": \"amd64\", \"os\": \"linux\"}},\n"
    "    {\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \"digest\": \"" D2 "\",\n"
    "     \"size\": 1234, \"platform\": {\"architecture\": \"arm64\", \"os\": \"linux\"}},\n"
    "    {\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \"digest\": \"" D3 "\",\n"
    "     \"size\": 566, \"annotations\": {\"vnd.docker.reference.digest\": \"" D1 "\",\n"
    "       \"vnd.docker.reference.type\": \"attestation-manifest\"},\n"
    "     \"platform\": {\"architecture\": \"unknown\", \"os\": \"unknown\"}},\n"
    "    {\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \"digest\": \"" D4 "\",\n"
    "     \"size\": 566, \"annotations\": {\"vnd.docker.reference.digest\": \"" D2 "\",\n"
    "       \"vnd.docker.reference.type\": \"attestation-manifest\"},\n"
    "     \"platform\": {\"architecture\": \"unknown\", \"os\": \"unknown\"}}\n"
    "  ]\n"
    "}\n";

/* A Docker schema 1 signed manifest, as very old registries still serve. */
static const char schema1[] =
    "{\n"
    "   \"schemaVersion\": 1,\n"
    "   \"name\": \"library/busybox\",\n"
    "   \"tag\": \"1.0\",\n"
    "   \"architecture\": \"amd64\",\n"
    "   \"fsLayers\": [ { \"blobSum\": \"" D1 "\" } ],\n"
    "   \"history\": [ { \"v1Compatibility\": \"{}\" } ],\n"
    "   \"signatures\": [ { \"header\": {\"alg\": \"ES256\"}, \"signature\": \"abc\", "
    "\"protected\": \"def\" } ]\n"
    "}";

/* A Helm chart pushed to an OCI registry: an artifact, not an image. */
static const char helm_manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.cncf.helm.config.v1+json\",\"digest\":\"" D1 "\","
    "\"size\":117},\"layers\":[{\"mediaType\":\"application/"
    "vnd.cncf.helm.chart.content.v1.tar+gzip\",\"digest\":\"" D2 "\",\"size\":3587}]}";

/* A Windows image with a foreign base layer. */
static const char windows_manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
    "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":1,"
    "\"digest\":\"" D1 "\"},\"layers\":[{\"mediaType\":\"application/"
    "vnd.docker.image.rootfs.foreign.diff.tar.gzip\",\"size\":1,\"digest\":\"" D2 "\","
    "\"urls\":[\"https://mcr.microsoft.com/v2/windows/blobs/x\"]}]}";

/* An image config as docker build writes it. */
static const char config_docker[] =
    "{\"architecture\":\"arm64\",\"variant\":\"v8\",\"config\":{\"Env\":[\"PATH=/usr/local/sbin:/"
    "usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],\"Cmd\":[\"bash\"]},"
    "\"created\":\"2024-05-13T00:00:00Z\",\"history\":[{\"created\":\"2024-05-13T00:00:00Z\","
    "\"created_by\":\"# debian.sh --arch 'arm64' out/ 'bookworm' '@1715558400'\"}],"
    "\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D3 "\",\"" D4 "\"]}}";

static void expect_err(int rc, const berth_err *e, const char *want, const char *what)
{
	unit_checks++;
	if (rc >= 0 || e->code != rc || !strstr(e->msg, want)) {
		unit_failures++;
		fprintf(stderr, "%s: rc %d, message \"%s\"; expected an error with \"%s\"\n", what,
			rc, e->msg, want);
	}
}

static void manifest_fails(const char *json, const char *want)
{
	oci_manifest m;
	berth_err e = {0};
	int rc = manifest_parse(json, strlen(json), &m, &e);
	expect_err(rc, &e, want, json);
	CHECK(m.media_type == NULL && m.layers == NULL && m.n_layers == 0 &&
	      m.config.digest == NULL);
	manifest_free(&m);
}

static void index_fails(const char *json, const char *want)
{
	oci_index ix;
	berth_err e = {0};
	int rc = index_parse(json, strlen(json), &ix, &e);
	expect_err(rc, &e, want, json);
	CHECK(ix.media_type == NULL && ix.manifests == NULL && ix.n_manifests == 0);
	index_free(&ix);
}

static void config_fails(const char *json, const char *want)
{
	image_config c;
	berth_err e = {0};
	int rc = config_parse(json, strlen(json), &c, &e);
	expect_err(rc, &e, want, json);
	CHECK(c.raw == NULL && c.diff_ids == NULL && c.os == NULL);
	config_free(&c);
}

static void test_kinds(void)
{
	CHECK(manifest_kind_from_media_type(MT_OCI_MANIFEST) == MANIFEST_IMAGE);
	CHECK(manifest_kind_from_media_type(MT_DOCKER_MANIFEST) == MANIFEST_IMAGE);
	CHECK(manifest_kind_from_media_type(MT_OCI_INDEX) == MANIFEST_INDEX);
	CHECK(manifest_kind_from_media_type(MT_DOCKER_LIST) == MANIFEST_INDEX);
	CHECK(manifest_kind_from_media_type(MT_OCI_INDEX "; charset=utf-8") == MANIFEST_INDEX);
	CHECK(manifest_kind_from_media_type("Application/VND.OCI.image.manifest.v1+json") ==
	      MANIFEST_IMAGE);
	CHECK(manifest_kind_from_media_type(MT_OCI_CONFIG) == MANIFEST_UNKNOWN);
	CHECK(manifest_kind_from_media_type("application/json") == MANIFEST_UNKNOWN);
	CHECK(manifest_kind_from_media_type(MT_OCI_MANIFEST "x") == MANIFEST_UNKNOWN);
	CHECK(manifest_kind_from_media_type("") == MANIFEST_UNKNOWN);
	CHECK(manifest_kind_from_media_type(NULL) == MANIFEST_UNKNOWN);

	const char *dm = docker_manifest;
	CHECK(manifest_detect(dm, strlen(dm), NULL) == MANIFEST_IMAGE);
	/* The document's own mediaType wins over a wrong Content-Type. */
	CHECK(manifest_detect(dm, strlen(dm), MT_OCI_INDEX) == MANIFEST_IMAGE);
	CHECK(manifest_detect(docker_list, strlen(docker_list), "application/json") ==
	      MANIFEST_INDEX);
	/* No mediaType field: Content-Type, then the shape. */
	CHECK(manifest_detect(oci_image_manifest, strlen(oci_image_manifest), NULL) ==
	      MANIFEST_IMAGE);
	CHECK(manifest_detect(oci_image_manifest, strlen(oci_image_manifest), MT_OCI_MANIFEST) ==
	      MANIFEST_IMAGE);
	const char *bare_index = "{\"schemaVersion\":2,\"manifests\":[]}";
	CHECK(manifest_detect(bare_index, strlen(bare_index), NULL) == MANIFEST_INDEX);
	CHECK(manifest_detect(bare_index, strlen(bare_index), MT_DOCKER_LIST) == MANIFEST_INDEX);
	const char *odd = "{\"schemaVersion\":2}";
	CHECK(manifest_detect(odd, strlen(odd), MT_DOCKER_MANIFEST) == MANIFEST_IMAGE);
	CHECK(manifest_detect(odd, strlen(odd), NULL) == MANIFEST_UNKNOWN);
	const char *both = "{\"manifests\":[],\"layers\":[]}";
	CHECK(manifest_detect(both, strlen(both), NULL) == MANIFEST_UNKNOWN);
	/* Schema 1 is routed to manifest_parse, which explains it is unsupported. */
	CHECK(manifest_detect(schema1, strlen(schema1), NULL) == MANIFEST_IMAGE);
	CHECK(
	    manifest_detect("{}", 2, "application/vnd.docker.distribution.manifest.v1+prettyjws") ==
	    MANIFEST_IMAGE);
	/* Unknown own mediaType: not guessed from the shape. */
	const char *art = "{\"mediaType\":\"application/vnd.oci.artifact.manifest.v1+json\","
			  "\"layers\":[]}";
	CHECK(manifest_detect(art, strlen(art), NULL) == MANIFEST_UNKNOWN);
	/* Garbage: Content-Type still decides, otherwise unknown. */
	CHECK(manifest_detect("not json", 8, NULL) == MANIFEST_UNKNOWN);
	CHECK(manifest_detect("not json", 8, MT_OCI_MANIFEST) == MANIFEST_IMAGE);
	CHECK(manifest_detect("[1,2]", 5, NULL) == MANIFEST_UNKNOWN);
	CHECK(manifest_detect(NULL, 0, NULL) == MANIFEST_UNKNOWN);
	CHECK(manifest_detect("", 0, NULL) == MANIFEST_UNKNOWN);
}

static void test_manifest_ok(void)
{
	oci_manifest m;
	berth_err e = {0};
	CHECK(manifest_parse(docker_manifest, strlen(docker_manifest), &m, &e) == 0);
	CHECK_STREQ(m.media_type, MT_DOCKER_MANIFEST);
	CHECK_STREQ(m.config.media_type, MT_DOCKER_CONFIG);
	CHECK_STREQ(m.config.digest, D1);
	CHECK(m.config.size == 451);
	CHECK(m.config.os == NULL && m.config.arch == NULL);
	CHECK(m.n_layers == 1);
	CHECK_STREQ(m.layers[0].digest, D2);
	CHECK(m.layers[0].size == 49557601);
	CHECK(layer_compression_from_media_type(m.layers[0].media_type) == COMPRESSION_GZIP);
	manifest_free(&m);
	manifest_free(&m);

	CHECK(manifest_parse(oci_image_manifest, strlen(oci_image_manifest), &m, &e) == 0);
	CHECK_STREQ(m.media_type, MT_OCI_MANIFEST);
	CHECK(m.n_layers == 3);
	CHECK(layer_compression_from_media_type(m.layers[0].media_type) == COMPRESSION_ZSTD);
	CHECK(layer_compression_from_media_type(m.layers[1].media_type) == COMPRESSION_GZIP);
	CHECK(layer_compression_from_media_type(m.layers[2].media_type) == COMPRESSION_NONE);
	CHECK(m.layers[2].size == 0);
	CHECK_STREQ(m.layers[1].digest, D3);
	manifest_free(&m);

	/* No layers at all (a scratch image) is valid; mediaType absent with a Docker config
	 * means a Docker manifest. */
	const char *empty = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_DOCKER_CONFIG
			    "\",\"digest\":\"" D1 "\",\"size\":2},\"layers\":[]}";
	CHECK(manifest_parse(empty, strlen(empty), &m, &e) == 0);
	CHECK(m.n_layers == 0 && m.layers == NULL);
	CHECK_STREQ(m.media_type, MT_DOCKER_MANIFEST);
	manifest_free(&m);
	CHECK(e.code == 0);

	/* Only the first len bytes count. */
	char buf[sizeof(docker_manifest) + 8];
	memcpy(buf, docker_manifest, sizeof(docker_manifest) - 1);
	memcpy(buf + sizeof(docker_manifest) - 1, "garbage", 8);
	CHECK(manifest_parse(buf, sizeof(docker_manifest) - 1, &m, &e) == 0);
	manifest_free(&m);

	oci_manifest z = {0};
	manifest_free(&z);
	manifest_free(NULL);
}

#define CFG "\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"digest\":\"" D1 "\",\"size\":2}"
#define LAYER(mt, dg, sz) "{\"mediaType\":\"" mt "\",\"digest\":\"" dg "\",\"size\":" sz "}"

static void test_manifest_bad(void)
{
	manifest_fails("", "not valid JSON");
	manifest_fails("{", "not valid JSON");
	manifest_fails("[]", "not an object");
	manifest_fails("\"x\"", "not an object");
	manifest_fails("null", "not an object");
	manifest_fails("{}", "no schemaVersion");
	manifest_fails("{\"schemaVersion\":\"2\"}", "not a number");
	manifest_fails("{\"schemaVersion\":2.0}", "not a number");
	manifest_fails("{\"schemaVersion\":3}", "only version 2");
	manifest_fails(schema1, "schema 1");
	manifest_fails(schema1, "re-push the image");
	manifest_fails("{\"schemaVersion\":2,\"mediaType\":"
		       "\"application/vnd.docker.distribution.manifest.v1+prettyjws\"}",
		       "schema 1");
	manifest_fails(docker_list, "not an image manifest");
	manifest_fails(oci_index_attest, "not an image manifest");
	manifest_fails("{\"schemaVersion\":2,\"manifests\":[]}", "not an image manifest");
	manifest_fails("{\"schemaVersion\":2,\"mediaType\":7}", "not a string");
	manifest_fails("{\"schemaVersion\":2,\"mediaType\":\"text/html\"}", "'text/html'");
	manifest_fails("{\"schemaVersion\":2,\"layers\":[]}", "config descriptor is not a JSON");
	manifest_fails("{\"schemaVersion\":2,\"config\":[],\"layers\":[]}",
		       "config descriptor is not a JSON");
	manifest_fails(helm_manifest, "artifact, not a container image");
	manifest_fails(windows_manifest, "cannot unpack");
	manifest_fails("{\"schemaVersion\":2," CFG "}", "no 'layers'");
	manifest_fails("{\"schemaVersion\":2," CFG ",\"layers\":{}}", "non-array 'layers'");
	manifest_fails("{\"schemaVersion\":2," CFG ",\"layers\":[1]}", "layer 1 is not a JSON");
	manifest_fails("{\"schemaVersion\":2," CFG
		       ",\"layers\":[" LAYER(MT_OCI_LAYER, D2, "1") ","
								    "{\"digest\":\"" D3
								    "\",\"size\":1}]}",
		       "layer 2 has no mediaType");
	manifest_fails("{\"schemaVersion\":2," CFG ",\"layers\":[{\"mediaType\":\"" MT_OCI_LAYER
		       "\",\"size\":1}]}",
		       "layer 1 has no digest");
	manifest_fails("{\"schemaVersion\":2," CFG ",\"layers\":[{\"mediaType\":\"" MT_OCI_LAYER
		       "\",\"digest\":5,\"size\":1}]}",
		       "'digest' field that is not a string");
	manifest_fails("{\"schemaVersion\":2," CFG
		       ",\"layers\":[" LAYER(MT_OCI_LAYER, D2, "-1") "]}",
		       "negative size");
	manifest_fails("{\"schemaVersion\":2," CFG
		       ",\"layers\":[" LAYER(MT_OCI_LAYER, D2, "1099511627777") "]}",
		       "claims a size");
	manifest_fails("{\"schemaVersion\":2," CFG
		       ",\"layers\":[" LAYER(MT_OCI_LAYER, D2, "1e3") "]}",
		       "non-integer size");
	manifest_fails("{\"schemaVersion\":2," CFG
		       ",\"layers\":[" LAYER(MT_OCI_LAYER, D2, "\"12\"") "]}",
		       "non-integer size");
	manifest_fails("{\"schemaVersion\":2," CFG ",\"layers\":[{\"mediaType\":\"" MT_OCI_LAYER
		       "\",\"digest\":\"" D2 "\"}]}",
		       "no size");
	manifest_fails("{\"schemaVersion\":2," CFG
		       ",\"layers\":[" LAYER(MT_OCI_LAYER, D2, "99999999999999999999999") "]}",
		       "not valid JSON");
	manifest_fails("{\"schemaVersion\":2," CFG
		       ",\"layers\":[" LAYER(MT_OCI_LAYER, "sha512:abcd", "1") "]}",
		       "only sha256 digests are supported");
	manifest_fails("{\"schemaVersion\":2," CFG
		       ",\"layers\":[" LAYER(MT_OCI_LAYER, "sha256:abcd", "1") "]}",
		       "invalid digest");
	manifest_fails("{\"schemaVersion\":2," CFG
		       ",\"layers\":[" LAYER(MT_OCI_LAYER, "abcd", "1") "]}",
		       "invalid digest");
	manifest_fails("{\"schemaVersion\":2," CFG
		       ",\"layers\":[" LAYER("application/octet-stream", D2, "1") "]}",
		       "cannot unpack");
	manifest_fails("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG
		       "\",\"digest\":\"" D1 "\",\"size\":4194305},\"layers\":[]}",
		       "claims a size");
	/* Duplicate keys could make two parsers disagree about the same document. */
	manifest_fails("{\"schemaVersion\":2,\"schemaVersion\":2," CFG ",\"layers\":[]}",
		       "not valid JSON");
	/* Embedded NUL in a string. */
	manifest_fails("{\"schemaVersion\":2,\"mediaType\":\"a\\u0000b\"}", "not valid JSON");

	/* Hostile strings are quoted without control characters and cut short. */
	manifest_fails("{\"schemaVersion\":2,\"mediaType\":\"\\u001b[2Jevil\"}", "'?[2Jevil'");
	{
		char doc[600];
		char mt[301];
		memset(mt, 'm', 300);
		mt[300] = 0;
		snprintf(doc, sizeof(doc), "{\"schemaVersion\":2,\"mediaType\":\"%s\"}", mt);
		oci_manifest m;
		berth_err e = {0};
		CHECK(manifest_parse(doc, strlen(doc), &m, &e) < 0);
		CHECK(strstr(e.msg, "mmm...'") != NULL);
		CHECK(strlen(e.msg) < 250);
	}

	/* Too large: rejected before parsing. */
	size_t big = MANIFEST_MAX_SIZE + 1;
	char *buf = malloc(big);
	memset(buf, ' ', big);
	buf[0] = '{';
	buf[big - 1] = '}';
	oci_manifest m;
	berth_err e = {0};
	int rc = manifest_parse(buf, big, &m, &e);
	CHECK(rc == -E2BIG);
	expect_err(rc, &e, "more than the 4194304 bytes", "huge manifest");
	manifest_free(&m);
	/* Exactly the limit is parsed. */
	berr_clear(&e);
	memset(buf, ' ', big);
	memcpy(buf, docker_manifest, strlen(docker_manifest));
	CHECK(manifest_parse(buf, MANIFEST_MAX_SIZE, &m, &e) == 0);
	manifest_free(&m);
	free(buf);

	/* Deep nesting is refused by the parser without exhausting the stack. */
	size_t depth = 100000;
	buf = malloc(depth * 2 + 1);
	memset(buf, '[', depth);
	memset(buf + depth, ']', depth);
	buf[2 * depth] = 0;
	berr_clear(&e);
	CHECK(manifest_parse(buf, 2 * depth, &m, &e) < 0);
	free(buf);
}

static void test_index(void)
{
	oci_index ix;
	berth_err e = {0};
	CHECK(index_parse(docker_list, strlen(docker_list), &ix, &e) == 0);
	CHECK_STREQ(ix.media_type, MT_DOCKER_LIST);
	CHECK(ix.n_manifests == 7);
	CHECK_STREQ(ix.manifests[2].os, "linux");
	CHECK_STREQ(ix.manifests[2].arch, "arm");
	CHECK_STREQ(ix.manifests[2].variant, "v7");
	CHECK(ix.manifests[0].variant == NULL);
	CHECK_STREQ(ix.manifests[3].digest, D4);
	CHECK(ix.manifests[3].size == 529);
	index_free(&ix);
	index_free(&ix);

	CHECK(index_parse(oci_index_attest, strlen(oci_index_attest), &ix, &e) == 0);
	CHECK_STREQ(ix.media_type, MT_OCI_INDEX);
	CHECK(ix.n_manifests == 4);
	CHECK_STREQ(ix.manifests[3].os, "unknown");
	index_free(&ix);

	/* OCI allows entries without a platform and an index without a mediaType. */
	const char *bare = "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_OCI_MANIFEST
			   "\",\"digest\":\"" D1 "\",\"size\":10}]}";
	CHECK(index_parse(bare, strlen(bare), &ix, &e) == 0);
	CHECK_STREQ(ix.media_type, MT_OCI_INDEX);
	CHECK(ix.n_manifests == 1 && ix.manifests[0].os == NULL);
	index_free(&ix);
	CHECK(e.code == 0);

	oci_index z = {0};
	index_free(&z);
	index_free(NULL);

	index_fails("[]", "not an object");
	index_fails("{\"schemaVersion\":2}", "no 'manifests'");
	index_fails("{\"schemaVersion\":2,\"manifests\":{}}", "non-array 'manifests'");
	index_fails("{\"manifests\":[]}", "no schemaVersion");
	index_fails("{\"schemaVersion\":1,\"manifests\":[]}", "schema 1");
	index_fails(docker_manifest, "not an image index");
	index_fails("{\"schemaVersion\":2,\"mediaType\":\"application/json\",\"manifests\":[]}",
		    "not a container image index");
	index_fails("{\"schemaVersion\":2,\"manifests\":[7]}", "entry 1 is not a JSON");
	index_fails("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_OCI_MANIFEST
		    "\",\"digest\":\"" D1 "\",\"size\":10,\"platform\":\"linux\"}]}",
		    "platform of the image index's entry 1 is not a JSON");
	index_fails("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_OCI_MANIFEST
		    "\",\"digest\":\"" D1 "\",\"size\":10,\"platform\":{\"os\":\"linux\"}}]}",
		    "lacks 'os' or 'architecture'");
	index_fails("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_OCI_MANIFEST
		    "\",\"digest\":\"" D1 "\",\"size\":10,\"platform\":{\"os\":\"linux\","
		    "\"architecture\":[]}}]}",
		    "'architecture' field that is not a string");
	index_fails("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_OCI_MANIFEST
		    "\",\"digest\":\"" D1 "\",\"size\":10,\"platform\":{\"os\":\"linux\","
		    "\"architecture\":\"arm\",\"variant\":7}}]}",
		    "'variant' field that is not a string");
	index_fails("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_OCI_MANIFEST
		    "\",\"digest\":\"" D1 "\",\"size\":5000000}]}",
		    "claims a size");
	index_fails("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_OCI_MANIFEST
		    "\",\"digest\":\"sha384:00\",\"size\":5}]}",
		    "only sha256");
	/* A bad entry after good ones frees the good ones (LeakSanitizer checks this). */
	index_fails("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_OCI_MANIFEST
		    "\",\"digest\":\"" D1 "\",\"size\":5,\"platform\":{\"os\":\"linux\","
		    "\"architecture\":\"amd64\"}},{\"mediaType\":\"" MT_OCI_MANIFEST
		    "\",\"digest\":\"" D2 "\",\"size\":-5}]}",
		    "entry 2 has a negative size");
}

static void test_config(void)
{
	image_config c;
	berth_err e = {0};
	CHECK(config_parse(config_docker, strlen(config_docker), &c, &e) == 0);
	CHECK_STREQ(c.os, "linux");
	CHECK_STREQ(c.arch, "arm64");
	CHECK_STREQ(c.variant, "v8");
	CHECK(c.n_diff_ids == 2);
	CHECK_STREQ(c.diff_ids[0], D3);
	CHECK_STREQ(c.diff_ids[1], D4);
	CHECK(json_is_object(c.raw));
	json_t *cmd = json_object_get(json_object_get(c.raw, "config"), "Cmd");
	CHECK_STREQ(json_string_value(json_array_get(cmd, 0)), "bash");
	config_free(&c);
	config_free(&c);

	const char *minimal = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
	CHECK(config_parse(minimal, strlen(minimal), &c, &e) == 0);
	CHECK(c.os == NULL && c.arch == NULL && c.variant == NULL && c.n_diff_ids == 0);
	config_free(&c);
	CHECK(e.code == 0);

	image_config z = {0};
	config_free(&z);
	config_free(NULL);

	config_fails("", "not valid JSON");
	config_fails("[]", "not an object");
	config_fails("{}", "no 'rootfs'");
	config_fails("{\"rootfs\":[]}", "non-object 'rootfs'");
	config_fails("{\"rootfs\":{\"diff_ids\":[]}}", "not 'layers'");
	config_fails("{\"rootfs\":{\"type\":\"squashfs\",\"diff_ids\":[]}}", "'squashfs'");
	config_fails("{\"rootfs\":{\"type\":1,\"diff_ids\":[]}}", "not a string");
	config_fails("{\"rootfs\":{\"type\":\"layers\"}}", "no 'rootfs.diff_ids'");
	config_fails("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":\"" D1 "\"}}",
		     "non-array 'rootfs.diff_ids'");
	config_fails("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",2]}}",
		     "diff_id 2 is not a string");
	config_fails("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"sha256:12\"]}}",
		     "diff_id 2 has an invalid digest");
	config_fails("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha512:" D1 "\"]}}",
		     "only sha256");
	config_fails("{\"os\":1,\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
		     "'os' field that is not a string");
	config_fails("{\"architecture\":null,\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
		     "'architecture' field that is not a string");
	config_fails("{\"variant\":{},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
		     "'variant' field that is not a string");

	size_t big = MANIFEST_MAX_SIZE + 1;
	char *buf = malloc(big);
	memset(buf, ' ', big);
	int rc = config_parse(buf, big, &c, &e);
	CHECK(rc == -E2BIG);
	config_free(&c);
	free(buf);
}

static void test_compression(void)
{
	CHECK(layer_compression_from_media_type(MT_OCI_LAYER) == COMPRESSION_NONE);
	CHECK(layer_compression_from_media_type(MT_OCI_LAYER_GZIP) == COMPRESSION_GZIP);
	CHECK(layer_compression_from_media_type(MT_OCI_LAYER_ZSTD) == COMPRESSION_ZSTD);
	CHECK(layer_compression_from_media_type(MT_DOCKER_LAYER_GZIP) == COMPRESSION_GZIP);
	CHECK(layer_compression_from_media_type(
		  "application/vnd.oci.image.layer.nondistributable.v1.tar") == COMPRESSION_NONE);
	CHECK(layer_compression_from_media_type(
		  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip") ==
	      COMPRESSION_GZIP);
	CHECK(layer_compression_from_media_type(
		  "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd") ==
	      COMPRESSION_ZSTD);
	CHECK(layer_compression_from_media_type(MT_DOCKER_LAYER_FOREIGN) == COMPRESSION_INVALID);
	CHECK(layer_compression_from_media_type(MT_OCI_CONFIG) == COMPRESSION_INVALID);
	CHECK(layer_compression_from_media_type(MT_OCI_MANIFEST) == COMPRESSION_INVALID);
	CHECK(layer_compression_from_media_type("application/vnd.oci.image.layer.v1.tar+bzip2") ==
	      COMPRESSION_INVALID);
	CHECK(layer_compression_from_media_type(MT_OCI_LAYER_GZIP " ") == COMPRESSION_INVALID);
	CHECK(layer_compression_from_media_type("") == COMPRESSION_INVALID);
	CHECK(layer_compression_from_media_type(NULL) == COMPRESSION_INVALID);
}

static void plat_ok(const char *s, const char *os, const char *arch, const char *variant)
{
	char *o, *a, *v;
	berth_err e = {0};
	int rc = platform_parse(s, &o, &a, &v, &e);
	unit_checks++;
	if (rc != 0) {
		unit_failures++;
		fprintf(stderr, "platform_parse(%s): %s\n", s, e.msg);
		return;
	}
	CHECK_STREQ(o, os);
	CHECK_STREQ(a, arch);
	if (variant)
		CHECK_STREQ(v, variant);
	else
		CHECK(v == NULL);
	free(o);
	free(a);
	free(v);
}

static void plat_bad(const char *s)
{
	char *o, *a, *v;
	berth_err e = {0};
	int rc = platform_parse(s, &o, &a, &v, &e);
	CHECK(rc == -EINVAL && o == NULL && a == NULL && v == NULL);
	CHECK(strstr(e.msg, "os/arch") != NULL);
}

static void test_platform_parse(void)
{
	plat_ok("linux/amd64", "linux", "amd64", NULL);
	plat_ok("linux/arm64/v8", "linux", "arm64", "v8");
	plat_ok("linux/arm/v7", "linux", "arm", "v7");
	plat_ok("Linux/AMD64", "linux", "amd64", NULL);
	plat_ok("linux/x86_64", "linux", "amd64", NULL);
	plat_ok("linux/aarch64", "linux", "arm64", NULL);
	plat_ok("linux/armhf", "linux", "arm", "v7");
	plat_ok("linux/armel", "linux", "arm", "v6");
	plat_ok("linux/i686", "linux", "386", NULL);
	plat_ok("linux/arm/7", "linux", "arm", "v7");
	plat_ok("linux/arm64/8", "linux", "arm64", "v8");
	plat_ok("linux/ppc64le", "linux", "ppc64le", NULL);
	plat_ok("linux/riscv64", "linux", "riscv64", NULL);
	plat_bad(NULL);
	plat_bad("");
	plat_bad("linux");
	plat_bad("amd64");
	plat_bad("linux/");
	plat_bad("/amd64");
	plat_bad("linux//v7");
	plat_bad("linux/arm/");
	plat_bad("linux/arm/v7/x");
	plat_bad("linux/am d64");
	plat_bad("linux/amd64;rm");
	plat_bad("linux/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");

	const char *host = platform_host();
	CHECK(host && strncmp(host, "linux/", 6) == 0);
	char *o, *a, *v;
	berth_err e = {0};
	CHECK(platform_parse(host, &o, &a, &v, &e) == 0);
	free(o);
	free(a);
	free(v);
#if defined(__x86_64__)
	CHECK_STREQ(host, "linux/amd64");
#elif defined(__aarch64__)
	CHECK_STREQ(host, "linux/arm64/v8");
#endif
}

static int select_in(const char *json, const char *platform, berth_err *e)
{
	oci_index ix;
	berth_err pe = {0};
	int rc = index_parse(json, strlen(json), &ix, &pe);
	CHECK(rc == 0);
	if (rc < 0)
		return rc;
	rc = index_select_platform(&ix, platform, e);
	index_free(&ix);
	return rc;
}

static int sel(const char *json, const char *platform)
{
	berth_err e = {0};
	return select_in(json, platform, &e);
}

#define ENTRY(dg, os, arch)                                                                        \
	"{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" dg "\",\"size\":5,\"platform\":"    \
	"{\"os\":\"" os "\",\"architecture\":\"" arch "\"}}"
#define ENTRYV(dg, os, arch, var)                                                                  \
	"{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" dg "\",\"size\":5,\"platform\":"    \
	"{\"os\":\"" os "\",\"architecture\":\"" arch "\",\"variant\":\"" var "\"}}"
#define INDEX(entries) "{\"schemaVersion\":2,\"manifests\":[" entries "]}"
#define INDEX0 "{\"schemaVersion\":2,\"manifests\":[]}"

static void test_select(void)
{
	CHECK(sel(docker_list, "linux/amd64") == 0);
	CHECK(sel(docker_list, "linux/arm64") == 3);
	CHECK(sel(docker_list, "linux/arm64/v8") == 3);
	CHECK(sel(docker_list, "linux/aarch64") == 3);
	CHECK(sel(docker_list, "linux/arm/v7") == 2);
	CHECK(sel(docker_list, "linux/arm/v5") == 1);
	CHECK(sel(docker_list, "linux/armhf") == 2);
	CHECK(sel(docker_list, "linux/386") == 4);
	CHECK(sel(docker_list, "linux/s390x") == 6);
	CHECK(sel(docker_list, "linux/ppc64le") == 5);
	/* No variant asked for arm: v7 is the default, as containerd has it. */
	CHECK(sel(docker_list, "linux/arm") == 2);
	/* An explicit variant must match. */
	CHECK(sel(docker_list, "linux/arm/v6") == -ENOENT);
	CHECK(sel(docker_list, "linux/amd64/v3") == -ENOENT);

	berth_err e = {0};
	CHECK(select_in(docker_list, "linux/riscv64", &e) == -ENOENT);
	CHECK(strstr(e.msg, "linux/riscv64") != NULL);
	CHECK(strstr(e.msg, "linux/amd64, linux/arm/v5, linux/arm/v7, linux/arm64/v8, linux/386, "
			    "linux/ppc64le, linux/s390x") != NULL);
	CHECK(strstr(e.msg, "--platform") != NULL);
	berr_clear(&e);
	CHECK(select_in(docker_list, "windows/amd64", &e) == -ENOENT);
	CHECK(strstr(e.msg, "windows/amd64") != NULL);
	berr_clear(&e);
	CHECK(select_in(docker_list, "bad", &e) == -EINVAL);
	CHECK(strstr(e.msg, "os/arch") != NULL);

	/* The host: whatever the host is, NULL chooses the same entry as its platform. */
	CHECK(sel(docker_list, NULL) == sel(docker_list, platform_host()));
#if defined(__x86_64__)
	CHECK(sel(docker_list, NULL) == 0);
#endif

	/* Attestations are never chosen nor offered. */
	CHECK(sel(oci_index_attest, "linux/amd64") == 0);
	CHECK(sel(oci_index_attest, "linux/arm64") == 1);
	CHECK(sel(oci_index_attest, "unknown/unknown") == -ENOENT);
	berr_clear(&e);
	CHECK(select_in(oci_index_attest, "linux/s390x", &e) == -ENOENT);
	CHECK(strstr(e.msg, "it offers linux/amd64, linux/arm64; choose") != NULL);
	CHECK(strstr(e.msg, "unknown") == NULL);

	const char *only_attest = INDEX(ENTRY(D1, "unknown", "unknown"));
	berr_clear(&e);
	CHECK(select_in(only_attest, "linux/amd64", &e) == -ENOENT);
	CHECK(strstr(e.msg, "only attestations") != NULL);
	berr_clear(&e);
	CHECK(select_in(INDEX0, "linux/amd64", &e) == -ENOENT);
	CHECK(strstr(e.msg, "offers no image") != NULL);

	/* arm64: a missing variant is v8. */
	const char *arm64_novar =
	    INDEX(ENTRY(D1, "linux", "amd64") "," ENTRY(D2, "linux", "arm64"));
	CHECK(sel(arm64_novar, "linux/arm64/v8") == 1);
	CHECK(sel(arm64_novar, "linux/arm64") == 1);
	CHECK(sel(arm64_novar, "linux/arm64/v9") == -ENOENT);

	/* No variant asked: the host's variant (here the default) or no variant wins over
	 * other variants, wherever they are in the list. */
	const char *amd64_levels = INDEX(ENTRYV(D1, "linux", "amd64", "v3") "," ENTRY(
	    D2, "linux", "amd64") "," ENTRY(D3, "linux", "arm64"));
	CHECK(sel(amd64_levels, "linux/amd64") == 1);
	CHECK(sel(amd64_levels, "linux/amd64/v3") == 0);
	const char *only_v3 = INDEX(ENTRYV(D1, "linux", "amd64", "v3"));
	CHECK(sel(only_v3, "linux/amd64") == 0);

	const char *arm_variants =
	    INDEX(ENTRYV(D1, "linux", "arm", "v5") "," ENTRYV(D2, "linux", "arm", "v6") "," ENTRY(
		D3, "linux", "arm") "," ENTRYV(D4, "linux", "arm", "v7"));
	CHECK(sel(arm_variants, "linux/arm") == 2);
	CHECK(sel(arm_variants, "linux/arm/v7") == 2);
	CHECK(sel(arm_variants, "linux/arm/v6") == 1);
	const char *arm_old =
	    INDEX(ENTRYV(D1, "linux", "arm", "v5") "," ENTRYV(D2, "linux", "arm", "v6"));
	/* Older ARM revisions run on a v7 core: the newest that runs is chosen. */
	CHECK(sel(arm_old, "linux/arm") == 1);
	const char *arm_new = INDEX(ENTRYV(D1, "linux", "arm", "v8"));
	CHECK(sel(arm_new, "linux/arm") == -ENOENT);

	/* An entry without a platform is a last resort; a non-manifest entry never fits. */
	const char *noplat =
	    INDEX("{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":5}");
	CHECK(sel(noplat, "linux/amd64") == 0);
	const char *mixed =
	    INDEX("{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":5}"
		  "," ENTRY(D2, "linux", "amd64"));
	CHECK(sel(mixed, "linux/amd64") == 1);
	const char *artifact =
	    INDEX("{\"mediaType\":\"application/vnd.example+json\",\"digest\":\"" D1
		  "\",\"size\":5,\"platform\":{\"os\":\"linux\","
		  "\"architecture\":\"amd64\"}}");
	CHECK(sel(artifact, "linux/amd64") == -ENOENT);
	/* Nested indexes are allowed entries. */
	const char *nested = INDEX("{\"mediaType\":\"" MT_OCI_INDEX "\",\"digest\":\"" D1
				   "\",\"size\":5,\"platform\":{\"os\":\"linux\","
				   "\"architecture\":\"amd64\"}}");
	CHECK(sel(nested, "linux/amd64") == 0);
	/* Duplicate platforms are listed once. */
	const char *dups = INDEX(ENTRY(D1, "linux", "s390x") "," ENTRY(D2, "linux", "s390x"));
	berr_clear(&e);
	CHECK(select_in(dups, "linux/amd64", &e) == -ENOENT);
	CHECK(strstr(e.msg, "it offers linux/s390x; choose") != NULL);

	/* Platform names from the index are shown without control characters. */
	const char *esc = INDEX(ENTRY(D1, "linux\\u001b[0m", "s390x"));
	berr_clear(&e);
	CHECK(select_in(esc, "linux/amd64", &e) == -ENOENT);
	CHECK(strstr(e.msg, "linux?[0m/s390x") != NULL);
	CHECK(strchr(e.msg, 0x1b) == NULL);

	/* A NULL index offers nothing. */
	berr_clear(&e);
	CHECK(index_select_platform(NULL, "linux/amd64", &e) == -ENOENT);
	oci_index z = {0};
	CHECK(index_select_platform(&z, "linux/amd64", NULL) == -ENOENT);
	(void)D8;
}

/* A schema 2 manifest as registries serve it, with members berth does not carry over. */
static const char docker_v2[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
    "\"x-extra\":{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\"},"
    "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":1469,"
    "\"digest\":\"" D1 "\"},\"layers\":["
    "{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":2000,"
    "\"digest\":\"" D2 "\",\"annotations\":{\"a\":\"b\"}},"
    "{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar\",\"size\":3000,"
    "\"digest\":\"" D3 "\",\"urls\":[]},"
    "{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.zstd\",\"size\":4000,"
    "\"digest\":\"" D4 "\"},"
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"size\":0,"
    "\"digest\":\"" D5 "\"}]}";

static const char docker_v2_as_oci[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" D1
    "\",\"size\":1469},\"layers\":["
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D2
    "\",\"size\":2000},"
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" D3
    "\",\"size\":3000},"
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"" D4
    "\",\"size\":4000},"
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D5
    "\",\"size\":0}]}";

/* A manifest with one hand-set layer, for types manifest_parse() would refuse itself. */
static int convert_one_layer(const char *config_mt, const char *layer_mt, berth_err *e)
{
	oci_descriptor layer = {.media_type = (char *)layer_mt, .digest = (char *)D2, .size = 5};
	oci_manifest m = {
	    .media_type = (char *)MT_DOCKER_MANIFEST,
	    .config = {.media_type = (char *)config_mt, .digest = (char *)D1, .size = 10},
	    .layers = &layer,
	    .n_layers = 1,
	};
	char *out = NULL;
	size_t len = 0;
	int r = manifest_to_oci(&m, &out, &len, e);
	CHECK((r == 0) == (out != NULL));
	free(out);
	return r;
}

static void test_convert(void)
{
	berth_err e = {0};
	oci_manifest m = {0};
	CHECK(manifest_parse(docker_v2, strlen(docker_v2), &m, &e) == 0);
	CHECK(manifest_is_docker(&m));
	char *out = NULL;
	size_t len = 0;
	CHECK(manifest_to_oci(&m, &out, &len, &e) == 0);
	CHECK_STREQ(out, docker_v2_as_oci);
	CHECK(out && len == strlen(out));
	/* The same input converts to the same bytes, so the stored digest is stable. */
	char *again = NULL;
	size_t again_len = 0;
	CHECK(manifest_to_oci(&m, &again, &again_len, &e) == 0);
	CHECK(again && out && again_len == len && !memcmp(again, out, len));
	free(again);
	manifest_free(&m);

	/* The result is an OCI manifest over the same blobs, and is left alone itself. */
	CHECK(manifest_parse(out, len, &m, &e) == 0);
	CHECK_STREQ(m.media_type, MT_OCI_MANIFEST);
	CHECK(!manifest_is_docker(&m));
	CHECK_STREQ(m.config.media_type, MT_OCI_CONFIG);
	CHECK(m.config.size == 1469);
	CHECK(m.n_layers == 4);
	if (m.n_layers == 4) {
		CHECK_STREQ(m.layers[0].digest, D2);
		CHECK_STREQ(m.layers[3].digest, D5);
		CHECK(m.layers[2].size == 4000);
		CHECK(layer_compression_from_media_type(m.layers[1].media_type) ==
		      COMPRESSION_NONE);
	}
	manifest_free(&m);
	free(out);

	/* Without its own mediaType a manifest with a Docker config is a Docker one. */
	const char *bare = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_DOCKER_CONFIG
			   "\",\"digest\":\"" D1 "\",\"size\":1},\"layers\":[]}";
	CHECK(manifest_parse(bare, strlen(bare), &m, &e) == 0);
	CHECK(manifest_is_docker(&m));
	CHECK(manifest_to_oci(&m, &out, &len, &e) == 0);
	CHECK(out && strstr(out, "\"layers\":[]") && strstr(out, MT_OCI_CONFIG));
	free(out);
	manifest_free(&m);

	/* Media type mapping: Docker types to OCI ones, OCI types kept, the rest refused. */
	CHECK_STREQ(manifest_oci_media_type(MT_DOCKER_LAYER_GZIP), MT_OCI_LAYER_GZIP);
	CHECK_STREQ(manifest_oci_media_type("application/vnd.docker.image.rootfs.diff.tar"),
		    MT_OCI_LAYER);
	CHECK_STREQ(manifest_oci_media_type(MT_DOCKER_LAYER_FOREIGN),
		    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip");
	CHECK_STREQ(manifest_oci_media_type(MT_DOCKER_CONFIG), MT_OCI_CONFIG);
	CHECK_STREQ(manifest_oci_media_type(MT_OCI_LAYER_ZSTD), MT_OCI_LAYER_ZSTD);
	CHECK(manifest_oci_media_type(NULL) == NULL);
	CHECK(manifest_oci_media_type(MT_DOCKER_MANIFEST) == NULL);
	CHECK(manifest_oci_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip ") ==
	      NULL);
	CHECK(manifest_oci_media_type("APPLICATION/VND.DOCKER.IMAGE.ROOTFS.DIFF.TAR.GZIP") == NULL);

	/* Unknown Docker layer types are refused, never passed through. */
	berr_clear(&e);
	int r = convert_one_layer(MT_DOCKER_CONFIG,
				  "application/vnd.docker.image.rootfs.diff.tar.bzip2", &e);
	expect_err(r, &e, "rootfs.diff.tar.bzip2", "unknown docker layer type");
	CHECK(r == -EMEDIUMTYPE);
	CHECK(strstr(e.msg, "layer 1") != NULL);
	berr_clear(&e);
	r = convert_one_layer(MT_DOCKER_CONFIG, "application/vnd.docker.plugin.v1+json", &e);
	CHECK(r == -EMEDIUMTYPE);
	/* A hostile type is quoted without its control characters. */
	berr_clear(&e);
	r = convert_one_layer(MT_DOCKER_CONFIG, "application/x\033[2Jevil", &e);
	CHECK(r == -EMEDIUMTYPE);
	CHECK(strchr(e.msg, '\033') == NULL);
	/* A config type as a layer, a layer type as the config, an artifact config. */
	berr_clear(&e);
	CHECK(convert_one_layer(MT_DOCKER_CONFIG, MT_DOCKER_CONFIG, &e) == -EMEDIUMTYPE);
	berr_clear(&e);
	r = convert_one_layer(MT_DOCKER_LAYER_GZIP, MT_DOCKER_LAYER_GZIP, &e);
	expect_err(r, &e, "config", "a layer type as the config");
	berr_clear(&e);
	CHECK(convert_one_layer("application/vnd.cncf.helm.config.v1+json", MT_DOCKER_LAYER_GZIP,
				&e) == -EMEDIUMTYPE);
	berr_clear(&e);
	CHECK(convert_one_layer(MT_DOCKER_CONFIG, MT_DOCKER_LAYER_GZIP, &e) == 0);
	CHECK(convert_one_layer(MT_OCI_CONFIG, MT_OCI_LAYER, &e) == 0);
}

int main(void)
{
	test_kinds();
	test_manifest_ok();
	test_manifest_bad();
	test_index();
	test_config();
	test_compression();
	test_platform_parse();
	test_select();
	test_convert();
	return unit_exit("test-manifest");
}
