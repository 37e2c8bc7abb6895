/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Shared between the parts of `image import` (import.c, import-tar.c, import-oci.c,
 * import-docker.c, import-rootfs.c). Not a public interface.
 */
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "context.h"
#include "digest.h"
#include "error.h"
#include "manifest.h"
#include "progress.h"
#include "store.h"

/* Most entries an OCI or docker archive may have (hostile input bound). */
#define IMPORT_MAX_ENTRIES 65536
/* Most symlink hops followed when resolving a name inside an archive. */
#define IMPORT_MAX_LINK_HOPS 16
/* Most layers a docker archive's image may have. */
#define IMPORT_MAX_LAYERS 1024
/* Deepest chain of nested indexes followed. */
#define IMPORT_MAX_INDEX_DEPTH 4

typedef struct import_job {
	const berth_ctx *ctx;
	berth_store *s;
	const char *path;	 /* the file or directory, without ":name" */
	const char *name;	 /* the image to pick from a multi-image source, or NULL */
	int scratch_fd;		 /* a fresh directory under tmp/ for spooled entries, or -1 */
	char *scratch;		 /* its name under tmp/ */
	unsigned long spool_seq; /* names files in scratch */
	progress *p;
	int64_t source_mtime; /* the file's modification time (seconds since the epoch) */
	/* results */
	char manifest_digest[DIGEST_STR_LEN];
	char *manifest_media_type;
	int64_t manifest_size;
	/* the source's own manifest digest when berth stored a converted manifest, else "" */
	char source_digest[DIGEST_STR_LEN];
	char *archive_name; /* the source's own name for the image (normalised), or NULL */
} import_job;

/* ---- import.c: spooling files into the store ---- */

/* A file being written under the job's scratch directory, hashed as it goes. */
typedef struct spool {
	int fd;
	char name[32];
	sha256_ctx hash;
	uint64_t size;
	unsigned char head[16]; /* first bytes, for compression sniffing */
	size_t head_len;
} spool;

int import_scratch(import_job *job, berth_err *e);
int spool_open(import_job *job, spool *sp, berth_err *e);
int spool_write(spool *sp, const void *data, size_t len, berth_err *e);
/* Finish hashing; digest gets the content's digest. The file stays in scratch. */
void spool_finish(spool *sp, char digest[DIGEST_STR_LEN]);
void spool_close(spool *sp);
/* fsync scratch/name and rename it to blobs/<digest hex> (no-op when the blob exists). */
int spool_commit(import_job *job, const char *name, const char *digest, berth_err *e);

/* Copy from fd to the end into the store, verifying digest (and size when >= 0). */
int import_copy_fd_blob(import_job *job, int fd, const char *digest, int64_t size, const char *what,
			berth_err *e);

/* Read a whole small file (<= max bytes) from fd's offset; NUL-terminates. */
int import_read_small(int fd, size_t max, char **buf, size_t *len, const char *what, berth_err *e);

/* Normalise an image name to a full reference with a tag and no digest (caller frees);
 * NULL with e set when it does not parse or has no tag. */
char *import_normalise_ref(const char *s, berth_err *e);
/* True when s names a registry explicitly ("example.com/x:1", "localhost/x"), so a
 * bare "latest" annotation is not mistaken for a name. */
bool import_ref_is_full(const char *s);

/* The last component of the job's path, for short labels. */
const char *import_basename(const import_job *job);

/* Record the result manifest. */
int import_set_manifest(import_job *job, const char *digest, const char *media_type, int64_t size,
			berth_err *e);

/* ---- import-tar.c: the entries of an archive ---- */

typedef enum tar_kind {
	TAR_NOT_TAR = 0,
	TAR_EMPTY,  /* a valid tar without entries */
	TAR_ROOTFS, /* a root filesystem */
	TAR_OCI,    /* oci-layout + index.json */
	TAR_DOCKER, /* manifest.json */
} tar_kind;

typedef enum tar_entry_type {
	ENTRY_FILE = 0,
	ENTRY_SYMLINK,
	ENTRY_HARDLINK,
	ENTRY_OTHER,
} tar_entry_type;

typedef struct tar_entry {
	char *name; /* normalised: no leading "./", no empty or "." components */
	tar_entry_type type;
	char *target; /* symlink / hardlink target as written in the archive */
	char spool_name[32];
	char digest[DIGEST_STR_LEN];
	uint64_t size;
	unsigned char head[16];
	size_t head_len;
	bool committed;
} tar_entry;

typedef struct tar_scan {
	tar_kind kind;
	tar_entry *entries;
	size_t n_entries;
	char *oci_layout, *index_json, *manifest_json; /* in memory, NUL-terminated */
	size_t index_json_len, manifest_json_len;
} tar_scan;

/* Read the archive at fd (rewound first) and classify it. For an OCI or docker archive
 * every regular file is spooled to the job's scratch directory and listed; blobs named
 * blobs/sha256/<hex> are verified against their names. For a root filesystem the scan
 * stops at the first entry that is not part of an image archive. */
int tar_scan_fd(import_job *job, int fd, uint64_t file_size, tar_scan *ts, berth_err *e);
void tar_scan_free(tar_scan *ts);

/* Look up a name as manifest.json or an index references it: normalised as a plain
 * path inside the archive (absolute paths and ".." refused), symlinks and hardlinks
 * followed inside the archive. Returns the regular file entry. */
int tar_lookup(const tar_scan *ts, const char *archive, const char *referrer, const char *ref,
	       tar_entry **out, berth_err *e);

/* Make sure entry's content is a store blob; fills nothing, entry->digest is its digest. */
int tar_commit_entry(import_job *job, tar_entry *te, berth_err *e);

/* ---- import-oci.c ---- */

/* Fetch callback: make sure a blob is in the store (copying and verifying it from the
 * source), size is the descriptor's (-1 unknown). */
typedef int (*import_fetch_fn)(import_job *job, void *opaque, const char *digest, int64_t size,
			       berth_err *e);

/* Check an oci-layout file's content. */
int oci_layout_check(const char *buf, size_t len, const char *where, berth_err *e);
/* Pick the image in index.json (by job->name, else the only one, else by host platform),
 * fetch its manifest, config and layers and record the result in job. */
int oci_import_index(import_job *job, const char *index_buf, size_t index_len,
		     import_fetch_fn fetch, void *opaque, berth_err *e);
/* Import an OCI image layout directory. */
int import_oci_dir(import_job *job, int dirfd, berth_err *e);
/* Import a scanned OCI archive. */
int import_oci_archive(import_job *job, tar_scan *ts, berth_err *e);

/* ---- import-docker.c ---- */

int import_docker_archive(import_job *job, tar_scan *ts, berth_err *e);

/* ---- import-rootfs.c ---- */

int import_rootfs(import_job *job, int fd, berth_err *e);
