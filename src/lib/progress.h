/* SPDX-License-Identifier: MIT */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/*
 * Progress display for long work: one line per item, redrawn in place on a terminal;
 * nothing at all when disabled (stdout not a terminal, -q or --json). Thread-safe.
 */
typedef struct progress progress;

progress *progress_new(bool enabled);
void progress_free(progress *p);
/* Add an item ("Copying blob 3f2a9c1b"); returns its id. total may be 0 if unknown. */
int progress_add(progress *p, const char *label, uint64_t total);
void progress_update(progress *p, int id, uint64_t done);
void progress_set_total(progress *p, int id, uint64_t total);
/* Mark finished with a short status word ("done", "exists", "unpacked"). */
void progress_done(progress *p, int id, const char *status);
