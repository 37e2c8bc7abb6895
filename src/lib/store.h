/* SPDX-License-Identifier: MIT */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "digest.h"
#include "error.h"

/*
 * The image store under <root>:
 *   store/             an OCI image layout (oci-layout, index.json, blobs/sha256/<hex>)
 *   store/.lock        flock: shared for readers of index.json, exclusive for writers
 *   ingest/<hex>.part  partial downloads, resumed by the next pull (never visible as blobs)
 *   layers/<chainhex>/ one unpacked layer each (diff/ in overlayfs form + layer.json)
 *   holds/<holder>     one file per holder (e.g. a machine) listing manifest digests it uses;
 *                      image prune keeps everything reachable from index.json and holds/
 *   tmp/               scratch space on the same filesystem, for atomic renames
 * Every directory is 0700: unpacked layers contain setuid files owned by image users.
 * index.json entries carry the normalised reference in the annotation
 * org.opencontainers.image.ref.name, so `skopeo inspect oci:<root>/store:<ref>` works.
 * Every manifest in index.json is an OCI one: Docker schema 2 manifests are converted (see
 * manifest-convert.h), with the original digest kept in ANNOTATION_SOURCE_DIGEST.
 */
#define ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"
#define ANNOTATION_CREATED "io.berth.image.created"
/* On an entry whose manifest berth converted (Docker schema 2 -> OCI): the digest of the
 * manifest as the registry or archive served it, so that digest still names the image. */
#define ANNOTATION_SOURCE_DIGEST "io.berth.source.digest"

typedef struct berth_store {
	char *root;    /* absolute path of the state root */
	int root_fd;   /* O_PATH|O_DIRECTORY of root */
	int store_fd;  /* root/store */
	int blobs_fd;  /* root/store/blobs/sha256 */
	int ingest_fd; /* root/ingest */
	int layers_fd; /* root/layers */
	int tmp_fd;    /* root/tmp */
	int holds_fd;  /* root/holds */
	int gc_fd;     /* store/.gc.lock, held shared while the store is open (see store_prune) */
	/* Removes a tree rm_rf_at cannot: a regular user's layers handed to their subordinate
	 * ids (the machine layer's keep-id). NULL: none. Set by the caller after store_open. */
	int (*rm_foreign)(int dirfd, const char *name, berth_err *e);
} berth_store;

/* Open (creating if missing) the store under root. While open, the process holds a shared
 * lock that keeps `image prune` from collecting blobs and layers it is still writing. */
int store_open(const char *root, berth_store *s, berth_err *e);
void store_close(berth_store *s);

/* flock on store/.lock; returns the lock fd (close it to unlock). */
int store_lock(berth_store *s, bool exclusive, berth_err *e);

bool store_has_blob(berth_store *s, const char *digest);
/* Path of a blob (caller frees). */
char *store_blob_path(berth_store *s, const char *digest);
/* Open a blob read-only. The content was verified when written; callers that need
 * to re-verify (e.g. `image inspect --verify`) hash it again. */
int store_open_blob(berth_store *s, const char *digest, berth_err *e);
/* Read a whole small blob (<= max bytes), re-verifying its digest. */
int store_read_blob(berth_store *s, const char *digest, size_t max, char **buf, size_t *len,
		    berth_err *e);
/* Write a blob from memory atomically. expected may be NULL; out gets the digest. */
int store_write_blob(berth_store *s, const void *data, size_t len, const char *expected,
		     char out[DIGEST_STR_LEN], berth_err *e);

/*
 * Streaming writer with resume: bytes go to ingest/<hex>.part, hashed as they arrive.
 * When a .part exists, open() hashes it and sets *resume_offset so the caller can ask
 * for the rest (HTTP Range). commit() verifies digest and size, fsyncs and renames into
 * blobs/; on mismatch it deletes the partial file and fails naming the digest.
 */
typedef struct blob_writer {
	berth_store *store;
	char digest[DIGEST_STR_LEN]; /* expected */
	int64_t size;		     /* expected, -1 if unknown */
	int fd;
	int lock_fd; /* flock on the .part so two pulls don't write one file at once */
	uint64_t written;
	sha256_ctx hash;
	char part_name[DIGEST_HEX_LEN + 8];
} blob_writer;

/* Returns 0 when ready to write (from *resume_offset on), 1 when the blob is already in
 * the store (another process finished it while we waited for its lock: nothing to do,
 * no need to close the writer), or a negative errno. */
int blob_writer_open(berth_store *s, const char *digest, int64_t size, blob_writer *w,
		     uint64_t *resume_offset, berth_err *e);
/* Restart from zero (server ignored the Range request). */
int blob_writer_reset(blob_writer *w, berth_err *e);
int blob_writer_write(blob_writer *w, const void *data, size_t len, berth_err *e);
int blob_writer_commit(blob_writer *w, berth_err *e);
/* Close, keeping the partial file for a later resume. */
void blob_writer_close(blob_writer *w);

/* index.json: load (a new empty index when missing) and save atomically. Hold an
 * exclusive store_lock() around load-modify-save. */
int store_index_load(berth_store *s, json_t **index, berth_err *e);
int store_index_save(berth_store *s, json_t *index, berth_err *e);

/* Point ref (normalised string) at a manifest; replaces an existing entry with that ref.
 * Takes the lock itself. */
int store_tag(berth_store *s, const char *ref, const char *manifest_digest, const char *media_type,
	      int64_t size, berth_err *e);
/* The same, recording source_digest (the manifest's digest before berth converted it) in
 * ANNOTATION_SOURCE_DIGEST. NULL (and store_tag) keeps the source digest another entry
 * records for manifest_digest, so a new name for a converted image still has it. */
int store_tag_source(berth_store *s, const char *ref, const char *manifest_digest,
		     const char *media_type, int64_t size, const char *source_digest, berth_err *e);
/* The source digest index.json records for manifest_digest, or NULL (borrowed from index). */
const char *store_index_source_digest(json_t *index, const char *manifest_digest);
/* Remove one ref; -ENOENT with a sentence when absent. Takes the lock itself. */
int store_untag(berth_store *s, const char *ref, berth_err *e);

/*
 * Resolve what a user typed to a manifest digest: a reference (normalised with ref_parse
 * and looked up in index.json), a full digest (of the stored manifest, or the source digest
 * of a converted one), or an unambiguous hex prefix of at least 4 digits of a manifest
 * digest (like image ids). *ref_out (may be NULL) gets the matched
 * normalised ref when a reference matched.
 */
int store_resolve(berth_store *s, const char *name, char **manifest_digest, char **ref_out,
		  berth_err *e);

/* Holds: a holder (e.g. "machine-foo") keeps manifests from being pruned. */
int store_hold_set(berth_store *s, const char *holder, const char *manifest_digest, berth_err *e);
int store_hold_release(berth_store *s, const char *holder, berth_err *e);

/* Garbage collection: delete blobs, layer directories, stale partial downloads and
 * scratch directories that nothing in index.json or holds/ reaches. Takes the exclusive
 * lock, then waits until no other process has the store open, so nothing in flight is
 * collected. Reports what it freed. */
typedef struct prune_report {
	uint64_t blobs, layers, bytes;
} prune_report;
/* wait=false: return -EAGAIN at once (no message) when another process has the store open. */
int store_prune(berth_store *s, bool wait, prune_report *rep, berth_err *e);
/* Names of the holders (caller frees with strv) that hold manifest_digest. */
int store_hold_list(berth_store *s, const char *manifest_digest, char ***holders, berth_err *e);

/* Make a fresh scratch directory under tmp/; returns its name (caller frees). */
int store_mkdtemp(berth_store *s, char **name, berth_err *e);
/* Remove a tree under a dirfd, without following symlinks. */
int rm_rf_at(int dirfd, const char *name, berth_err *e);
