/* SPDX-License-Identifier: MIT */
#pragma once
/* Helpers shared by the machine layer and the monitor; not part of machine.h. */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "error.h"
#include "machine.h"

#define MACHINE_CONFIG "config.json"
#define MACHINE_STATE "state.json"
#define MACHINE_LOCK "lock"
#define MACHINE_CONSOLE "console.log"
#define MACHINE_CONTROL "control.sock"
/* Console log size before it is rotated to console.log.1. */
#define MACHINE_CONSOLE_MAX (4u << 20)

/* Start time of a process (field 22 of /proc/PID/stat, clock ticks since boot), 0 when
 * there is no such process. */
uint64_t proc_start_time(pid_t pid);
/* Whether pid is alive and still the process that started at `start`. */
bool proc_same(pid_t pid, uint64_t start);
/* This boot's id (/proc/sys/kernel/random/boot_id), "" when unreadable. */
void host_boot_id(char out[64]);

/* Read a JSON object file under dirfd; -ENOENT when missing (no message). */
int json_load_at(int dirfd, const char *file, json_t **out, berth_err *e);
/* Write a JSON file atomically (temp file, fsync, rename) under dirfd. */
int json_save_at(int dirfd, const char *file, json_t *j, berth_err *e);

/* flock the machine's lock file (created when missing) under the machine dir fd:
 * exclusive; wait=false gives -EWOULDBLOCK at once when held. Returns the fd. */
int machine_lock_fd(int dirfd, bool wait, berth_err *e);

/* sun_path for a file under a directory fd, through /proc/self/fd so long state paths
 * still fit in a unix socket address. */
int control_sockaddr(int dirfd, void *sockaddr_un, unsigned *len);

/* Record a state: merges `fields` (stolen) into state.json. */
int state_update(int dirfd, json_t *fields, berth_err *e);

/* machine_reap_stale for a caller that holds the machine's lock already. */
int machine_reap_locked(int dirfd, const machine_info *info, berth_err *e);

/* Open the machine's directory (O_PATH|O_DIRECTORY); -ENOENT with a sentence when there is
 * no such machine. */
int machine_dir_open(const berth_ctx *ctx, const char *name, berth_err *e);

/* Monitor control protocol: one request line per connection, answered with one line.
 *   "stop <timeout_ms> <force 0|1>\n" -> "ok\n" once the init exited and the cgroup is gone
 *   "status\n"                         -> "<status name>\n"
 */
#define MONITOR_BIN "berth-monitor"
#define BERTH_INIT_BIN "berth-init"
/* Path of a helper binary: next to the running berth binary (a build tree), else
 * <libexecdir>/berth/NAME. Caller frees; NULL when not found. */
char *machine_helper_path(const char *bin);

/* Read up to max bytes of the end of the console log as the last n lines (caller frees). */
char *console_tail(int dirfd, unsigned n_lines);
