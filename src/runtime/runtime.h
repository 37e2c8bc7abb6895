/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The runtime core: turns a root filesystem into a system container and boots its init.
 *
 * Host-agnostic on purpose: the container backend runs it on the host, the VM backend runs
 * the same code inside the guest. It knows nothing about the image store, machine state
 * directories or the CLI; callers hand it directories, ids and file descriptors.
 *
 * A machine is: a user namespace (machine root is never host root), mount, pid, uts, ipc and
 * cgroup namespaces (net optional: until networking lands the host network is shared), a
 * per-machine cgroup in every hierarchy with memory/cpu/pids limits, a root that is an
 * overlay of read-only layer directories under the machine's own upper directory (or one
 * flattened directory), a minimal /dev with its own devpts and /dev/console on a caller's pty,
 * /proc and /sys with read-only masks, /run and /tmp as tmpfs, /run/host as systemd's
 * container interface describes it, and an init process as PID 1.
 *
 * All functions that can fail return a negative errno and fill a berth_err.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* ---- id maps (userns.c) ------------------------------------------------------------------ */

#define RT_IDMAP_MAX 16
/* Ids a machine sees: 0..65535 (root, system users, the first regular users, nobody). */
#define RT_IDMAP_SIZE 65536u
/* When berth runs as root it maps machines onto its own range of host ids, far above any
 * id /etc/subuid or useradd hand out (they start at 100000 and grow by 65536 per user), so
 * no host user ever owns a machine's files: slot N is [0x10000000 + N*65536, +65536). */
#define RT_ROOT_RANGE_START 0x10000000u

typedef struct rt_idmap_range {
	uint32_t inside, outside, count;
} rt_idmap_range;

typedef struct rt_idmap {
	rt_idmap_range uid[RT_IDMAP_MAX], gid[RT_IDMAP_MAX];
	size_t n_uid, n_gid;
	/* Written through newuidmap/newgidmap (the caller is not root). When false the runtime
	 * writes /proc/PID/{uid,gid}_map itself and presents on-disk ids 0.. through idmapped
	 * mounts; when true the machine's files are owned by the caller on disk. */
	bool helpers;
} rt_idmap;

/*
 * Parse /etc/subuid or /etc/subgid text ("name-or-id:start:count" per line, '#' comments)
 * and return in out[] the ranges that belong to the user called `user` or with numeric id
 * `id`, in file order, with `inside` left 0. Malformed lines are skipped, as shadow's own
 * tools do. Returns the number of ranges (0..max).
 */
int rt_subid_parse(const char *text, const char *user, uint32_t id, rt_idmap_range *out,
		   size_t max);

/*
 * The map for a machine started by the calling user. Root: inside 0..65535 onto the
 * berth range slot `slot` (see RT_ROOT_RANGE_START). Others: inside 0 is the caller's own
 * uid/gid, inside 1..65535 come from the caller's /etc/subuid and /etc/subgid ranges (in
 * order, as many as needed), written with newuidmap/newgidmap. Fails with a sentence when
 * the user has no (or too small) subordinate range.
 */
int rt_idmap_for_caller(unsigned slot, rt_idmap *m, berth_err *e);

/*
 * Keep the host user's ids (podman's keep-id): inside uid `uid` becomes host `host_uid`
 * (and gid likewise), so files the machine user writes in a shared directory belong to the
 * host user and the host user's files belong to the machine user. The inside id that held
 * the host id before (a regular user's own inside 0) takes the host id `uid` had, so no id
 * is mapped twice; every other id keeps its host id, so files a machine already has keep
 * their owners. Ids must be below RT_IDMAP_SIZE.
 */
int rt_idmap_keep_id(rt_idmap *m, uint32_t uid, uint32_t host_uid, uint32_t gid, uint32_t host_gid,
		     berth_err *e);

/* Pass one fd (or none: fd < 0) with a small message over a unix socket. */
int rt_send_fd(int sock, const void *msg, size_t len, int fd);
/* Receive a message and at most one fd (*fd = -1 when none came). Returns the length,
 * 0 at EOF, or a negative errno. */
ssize_t rt_recv_fd(int sock, void *msg, size_t len, int *fd);

/* Write the maps of process pid (which is in a fresh user namespace). */
int rt_idmap_write(pid_t pid, const rt_idmap *m, berth_err *e);

/* Run fn(arg) in a child process that is root of a new user namespace with map m (a
 * regular user removing files its machine's subordinate ids own, like `podman unshare`).
 * Returns fn's negative errno (0 on success); a sentence only for failures around fn. */
int rt_userns_run(const rt_idmap *m, int (*fn)(void *arg), void *arg, berth_err *e);

/* Host id of inside id `inside` in ranges r[0..n), or -1 when it is not mapped. */
int64_t rt_idmap_to_host(const rt_idmap_range *r, size_t n, uint32_t inside);

/* ---- cgroups (cgroup.c) ------------------------------------------------------------------ */

#define RT_CG_MAX_HIER 16

typedef enum rt_cg_mode {
	RT_CG_LEGACY,  /* v1 hierarchies only */
	RT_CG_HYBRID,  /* v1 controllers plus cgroup2 at /sys/fs/cgroup/unified */
	RT_CG_UNIFIED, /* cgroup2 at /sys/fs/cgroup */
} rt_cg_mode;

typedef struct rt_cg_hier {
	char mount[256];       /* host mount point, e.g. /sys/fs/cgroup/memory */
	char controllers[128]; /* v1: "memory", "cpu,cpuacct", "name=systemd"; v2: "" */
	bool v2;
	char path[512]; /* the machine's cgroup directory in this hierarchy */
} rt_cg_hier;

typedef struct rt_cgroup {
	rt_cg_mode mode;
	size_t n;
	rt_cg_hier h[RT_CG_MAX_HIER];
} rt_cgroup;

/* Limits: -1 leaves a value as it is, 0 removes the limit, > 0 sets it. */
typedef struct rt_limits {
	int64_t memory;	    /* bytes */
	int64_t cpu_millis; /* 1000 = one CPU */
	int64_t pids;
} rt_limits;
#define RT_LIMITS_UNCHANGED ((rt_limits){-1, -1, -1})

typedef struct rt_stats {
	uint64_t memory;			      /* bytes charged (usage) */
	uint64_t anon;				      /* anonymous memory */
	uint64_t file;				      /* page cache */
	uint64_t cpu_usec;			      /* CPU time used */
	uint64_t pids;				      /* processes */
	int64_t memory_limit, cpu_millis, pids_limit; /* 0 = none */
} rt_stats;

/* A cgroup directory tree outside an rt_cgroup (a delegated subtree, say): whether a
 * process is in it anywhere, and removing it deepest first (a missing tree is fine). */
bool rt_cgroup_dir_populated(const char *dir);
int rt_cgroup_dir_remove(const char *dir);

/*
 * Compute the machine's cgroup paths without touching anything: in every mounted hierarchy,
 * <parent>/berth-<name>, where parent is `parent` (a path inside the hierarchy, e.g.
 * "/berth") or, when NULL, the calling process's own cgroup in that hierarchy. The same
 * inputs always give the same paths, so a new process can re-open a running machine's cgroup.
 */
int rt_cgroup_open(const char *name, const char *parent, rt_cgroup *cg, berth_err *e);
/* Create the directories (cpuset v1 gets its parent's cpus and mems; v2 parents get the
 * controllers enabled), then apply limits. An existing cgroup is reused. */
int rt_cgroup_create(const rt_cgroup *cg, const rt_limits *l, berth_err *e);
/* Move process pid into the machine's cgroup in every hierarchy (but the cgroup2 one when
 * skip_v2: a process created there with CLONE_INTO_CGROUP is in it already). */
int rt_cgroup_enter(const rt_cgroup *cg, pid_t pid, bool skip_v2, berth_err *e);
/* The machine's cgroup2 directory opened for clone3(CLONE_INTO_CGROUP), or -errno (-ENOENT
 * when no cgroup2 hierarchy is in use). */
int rt_cgroup_open_v2_dir(const rt_cgroup *cg);
/*
 * A head start for the first move into a cgroup (cgroup-warmup.c): a thread that makes a
 * move that changes nothing, so that the kernel's wait that comes with the first move after
 * a quiet spell overlaps the caller's own work. Finish before forking or cloning: the child
 * of a process with a second thread running may inherit a lock that thread holds.
 */
typedef struct rt_cgroup_warmup {
	pthread_t thread;
	void *stack;
	bool started;
} rt_cgroup_warmup;
void rt_cgroup_warmup_start(rt_cgroup_warmup *w);
void rt_cgroup_warmup_finish(rt_cgroup_warmup *w);
/* Delegate the hierarchies the machine's init manages (name=systemd and cgroup2) to the
 * host uid/gid of the machine's root: the directory and cgroup.procs, cgroup.threads,
 * cgroup.subtree_control, tasks; never the limit files. */
int rt_cgroup_delegate(const rt_cgroup *cg, uid_t uid, gid_t gid, berth_err *e);
/* Apply limits now; works on a running machine. */
int rt_cgroup_set_limits(const rt_cgroup *cg, const rt_limits *l, berth_err *e);
int rt_cgroup_stats(const rt_cgroup *cg, rt_stats *st, berth_err *e);
/*
 * Reclaim the machine's reclaimable memory now and report the bytes freed (usage before
 * minus usage after, 0 if it grew). cgroup v2: memory.reclaim. cgroup v1 has no such file
 * and memory.force_empty drops everything including the working set, so instead the limit
 * is lowered step-wise towards anon + mapped file memory (what the machine actively uses),
 * which makes the kernel drop unmapped page cache first, and restored right after.
 */
int rt_cgroup_reclaim(const rt_cgroup *cg, uint64_t *freed, berth_err *e);
/* Whether any process is in the machine's cgroup (or below) in any hierarchy. */
bool rt_cgroup_populated(const rt_cgroup *cg);
/* Kill every process left (SIGKILL) and remove the directories, deepest first. Waits a
 * bounded time for dying processes to leave. Missing directories are not an error. The
 * parent directory is removed too when it is left empty (rt_cgroup_create makes it again). */
int rt_cgroup_destroy(const rt_cgroup *cg, berth_err *e);

/* ---- init detection (init.c) ------------------------------------------------------------- */

typedef enum rt_init_kind {
	RT_INIT_NONE, /* no init found: use berth-init */
	RT_INIT_SYSTEMD,
	RT_INIT_SYSVINIT,
	RT_INIT_OPENRC, /* openrc-init as PID 1 */
	RT_INIT_BUSYBOX,
	RT_INIT_BERTH, /* berth-init (set by callers, never detected) */
} rt_init_kind;

typedef struct rt_init_info {
	rt_init_kind kind;
	char path[256];	 /* absolute path inside the machine to execute as PID 1 */
	int stop_signal; /* the init's own "shut down cleanly" signal */
	bool openrc;	 /* OpenRC is the service manager (e.g. busybox init + openrc) */
} rt_init_info;

/*
 * Detect the init of a root filesystem given as overlay layers, top-most first (the
 * machine's upper directory, then the image layers from the top; a flattened root is one
 * directory). Paths are resolved inside the root, through symlinks, honouring overlay
 * whiteouts and opaque directories. Never fails on hostile content: an unreadable root just
 * has no init (RT_INIT_NONE). Returns 0 or a negative errno when a layer cannot be opened.
 */
int rt_init_detect(const char *const *layers, size_t n, rt_init_info *out, berth_err *e);
/* The stop signal and a name ("systemd", ...) for a kind. */
int rt_init_stop_signal(rt_init_kind kind);
const char *rt_init_name(rt_init_kind kind);

/* Where berth-init is bound in the machine. */
#define RT_BERTH_INIT_PATH "/run/host/berth-init"
/* $NOTIFY_SOCKET in the machine (sd_notify protocol; berth-init speaks it too). */
#define RT_NOTIFY_PATH "/run/host/notify"

/* ---- rlimits (rlimit.c) ------------------------------------------------------------------ */

typedef struct rt_rlimit {
	int resource; /* RLIMIT_* */
	uint64_t soft, hard;
} rt_rlimit;

/*
 * Clamp a wanted limit to what an unprivileged (no CAP_SYS_RESOURCE) process may set given
 * the current hard limit: hard = min(wanted hard, current hard), soft = min(wanted soft,
 * hard). Never raises. Returns true when the result differs from what was wanted.
 */
bool rt_rlimit_clamp(const rt_rlimit *want, uint64_t cur_hard, rt_rlimit *out);
/* The limits PID 1 and exec'd processes get unless told otherwise: RLIMIT_NOFILE
 * 1024/524288 (clamped). */
extern const rt_rlimit rt_default_rlimits[];
extern const size_t rt_n_default_rlimits;
/* Apply rlimits to the calling process, clamping each (see rt_rlimit_clamp). */
int rt_rlimits_apply(const rt_rlimit *l, size_t n, berth_err *e);

/* ---- the root filesystem and the machine (mounts.c, spawn.c) ----------------------------- */

/*
 * Ownership on disk. As root (maps written by the runtime), layer directories and a
 * flattened root hold the image's own ids (0 = machine root) and are attached through
 * idmapped mounts, so one unpacked layer serves every machine. The upper directory is not
 * idmapped (overlayfs creates its work files as the mounter) and holds host ids: machine
 * root is RT_ROOT_RANGE_START + slot*65536 there, so keep a machine's slot stable. A fresh
 * upper directory owned by the caller is handed to the machine's root by rt_spawn. As a
 * regular user, everything is owned by the user (inside 0) and subordinate ids, and the
 * overlay is mounted inside the user namespace with user.* xattrs ("userxattr").
 */
typedef struct rt_rootfs {
	/* Overlay: read-only layer directories, top-most first, under upper; upper and work
	 * are siblings in one directory on one filesystem. */
	const char *const *lower;
	size_t n_lower;
	const char *upper, *work;
	/* Flattened alternative (used when lower is NULL): one writable directory. */
	const char *dir;
	/* An empty directory the root is attached to inside the machine's private mount
	 * namespace before pivot_root; the host never sees a mount there. */
	const char *mountpoint;
} rt_rootfs;

/*
 * Whether an overlay root works here for this id map: builds (and drops) a throwaway
 * overlay under scratch_dir (a directory on the filesystem that will hold the machine's
 * upper directory) the way rt_spawn would: idmapped layers when the runtime writes the maps
 * itself, an overlay mounted inside the user namespace otherwise. 0 when usable; otherwise
 * a negative errno with a sentence saying why, and callers use a flattened copy instead.
 */
int rt_overlay_check(const char *scratch_dir, const rt_idmap *m, berth_err *e);

typedef struct rt_bind {
	const char *src; /* host path */
	const char *dst; /* absolute path inside the machine; created when missing */
	bool ro;
} rt_bind;

/* The host user, made inside the machine at every boot when missing (user-setup.c). */
typedef struct rt_user {
	const char *name;
	uint32_t uid, gid; /* inside ids (the same as the host's with a keep-id map) */
	const char *home;  /* absolute */
	const char *shell; /* used when the machine has it, else /bin/sh */
	const char *gecos; /* may be NULL */
	bool make_home;	   /* create the home (from /etc/skel) when the host's is not bound */
} rt_user;

/* Whether u makes a sane passwd entry: a plain name, ids 1..65535, absolute paths, no ':'
 * or newlines anywhere. */
bool rt_user_valid(const rt_user *u);

/*
 * Make sure the user exists in the root the calling process is in (the machine's, as its
 * root): passwd, shadow (when the machine has one) and group entries, membership of the
 * sudo (or wheel) group and a passwordless sudoers.d entry where sudo is installed, and a
 * home directory when make_home. Entries already there are kept as they are.
 */
int rt_user_setup(const rt_user *u, berth_err *e);

/* The first line of every /etc/resolv.conf berth writes into a machine. */
#define RT_RESOLV_CONF_MARKER "# Written by berth for this machine's network"

/*
 * Write content (which starts with RT_RESOLV_CONF_MARKER) as the machine's /etc/resolv.conf
 * in the root the calling process is in, unless the machine made that file its own: it is
 * replaced only when missing, empty, a dangling symlink, written by berth, or, with
 * replace_image_file, still the image's own file (resolv-conf.c). content NULL: nothing.
 */
int rt_resolv_conf_setup(const char *content, bool replace_image_file, berth_err *e);

typedef struct rt_config {
	const char *name; /* machine name: hostname and cgroup name */
	rt_rootfs rootfs;
	const rt_idmap *idmap;
	char *const *argv;	/* PID 1 inside the machine; argv[0] an absolute path */
	char *const *env;	/* extra "K=V" for PID 1 (container=berth, PATH, TERM are set) */
	const char *berth_init; /* host path of berth-init, bound at RT_BERTH_INIT_PATH; or NULL */
	int console_fd;		/* pty slave: /dev/console and PID 1's stdio; -1: /dev/null */
	const rt_bind *binds;
	size_t n_binds;
	rt_limits limits;
	const char *cgroup_parent; /* see rt_cgroup_open */
	const rt_rlimit *rlimits;  /* NULL: RLIMIT_NOFILE 1024/524288, clamped */
	size_t n_rlimits;
	bool private_network;	 /* CLONE_NEWNET (loopback only until networking lands) */
	bool notify;		 /* bind a sd_notify socket at RT_NOTIFY_PATH ($NOTIFY_SOCKET) */
	const rt_user *user;	 /* the host user to make inside, or NULL */
	const char *resolv_conf; /* /etc/resolv.conf for the machine, or NULL (resolv-conf.c) */
	bool resolv_conf_replace_image; /* the image's own resolv.conf may be replaced */
} rt_config;

typedef struct rt_machine {
	pid_t pid;     /* PID 1 of the machine, as the host sees it */
	int pidfd;     /* pidfd of pid */
	int notify_fd; /* the machine's $NOTIFY_SOCKET (datagrams), or -1 */
	rt_cgroup cg;
	rt_idmap idmap;
	bool own_net; /* the machine has its own network namespace */
} rt_machine;

/*
 * Boot a machine: create its cgroup, namespaces, mounts and start argv as PID 1. On
 * success the init runs as a child of the caller (wait with rt_machine_wait). On failure
 * nothing is left: no process, no cgroup. Errors from inside the new namespaces come back
 * as sentences. Refuses (-EBUSY) when the machine's cgroup still has processes. Call it
 * from a single-threaded process (the monitor): the child runs libc code after clone.
 * PID 1 gets: container=berth, TERM, PATH, HOME, $NOTIFY_SOCKET when c->notify, the
 * console as its controlling terminal, systemd-nspawn's capability bounding set, and
 * rlimits clamped to the host's hard limits. hostname = name (an image's /etc/hostname,
 * applied by its init, wins).
 */
int rt_spawn(const rt_config *c, rt_machine *m, berth_err *e);

/* Re-attach to a running machine from another process (e.g. for exec): pid is its PID 1,
 * name and cgroup_parent as given to rt_spawn, m->idmap read from /proc/pid. */
int rt_machine_attach(pid_t pid, const char *name, const char *cgroup_parent, rt_machine *m,
		      berth_err *e);

/* Signal PID 1 (through its pidfd, so a recycled pid is never hit). */
int rt_machine_kill(const rt_machine *m, int sig, berth_err *e);
/* Wait up to timeout_ms (-1: forever) for PID 1 of a machine this process spawned to exit,
 * reaping it; -ETIMEDOUT when it is still running. *status as from waitpid. */
int rt_machine_wait(rt_machine *m, int timeout_ms, int *status, berth_err *e);
/* Send stop_signal, wait timeout_ms, then SIGKILL and wait again. */
int rt_machine_stop(rt_machine *m, int stop_signal, int timeout_ms, int *status, berth_err *e);
/* Wait up to timeout_ms for "READY=1" on the notify socket. -ETIMEDOUT when not ready;
 * -ESRCH when PID 1 exited first. Other sd_notify lines (STATUS=...) are copied to
 * status_out when not NULL. */
int rt_machine_wait_ready(rt_machine *m, int timeout_ms, char *status_out, size_t status_len,
			  berth_err *e);
/* Close the machine's fds (does not stop it). */
void rt_machine_release(rt_machine *m);

/* ---- exec (exec.c) ----------------------------------------------------------------------- */

typedef struct rt_exec_opts {
	char *const *argv;	/* argv[0] searched in PATH (from env) when it has no '/' */
	char *const *env;	/* full environment; NULL: PATH, HOME, TERM, container= */
	uint32_t uid, gid;	/* ids inside the machine */
	const uint32_t *groups; /* supplementary groups inside the machine */
	size_t n_groups;
	const char *cwd;		    /* inside; NULL or missing: the user's HOME, then "/" */
	int stdin_fd, stdout_fd, stderr_fd; /* -1: /dev/null */
	bool tty; /* new session with stdin (a pty slave) as controlling tty */
} rt_exec_opts;

/*
 * Run a process in a running machine: joins its cgroup (PID 1's, inside the machine's) and
 * its user, mount, pid, uts, ipc, cgroup (and net when private) namespaces, then forks so
 * the process is inside the pid namespace. The process is a child of the caller: *pid can
 * be passed to waitpid. Fails (with the process already reaped) when the command cannot be
 * executed: -ENOENT for not found, -EACCES for not executable, with a sentence.
 */
int rt_exec(const rt_machine *m, const rt_exec_opts *o, pid_t *pid, berth_err *e);

/*
 * Open a pty pair in the machine's own devpts (so the session shows the machine's pts
 * device): *master for the caller, *slave owned by inside uid `uid` (group tty). Both fds
 * are O_CLOEXEC.
 */
int rt_pty_open(const rt_machine *m, uint32_t uid, int *master, int *slave, berth_err *e);
