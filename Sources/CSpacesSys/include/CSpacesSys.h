#ifndef CSPACES_SYS_H
#define CSPACES_SYS_H

#include <dirent.h>

// Values the Swift Glibc module doesn't import (checked against the system headers in spaces_sys.c).
#define CSPACES_O_PATH 010000000
#define CSPACES_RESOLVE_NO_MAGICLINKS 0x02ULL
#define CSPACES_RESOLVE_BENEATH 0x08ULL

/// openat2(2) without the variadic syscall(); returns -1 with errno set (ENOSYS where unsupported).
int cspaces_openat2(int dirfd, const char *path, int flags, int mode, unsigned long long resolve);

/// Fixes malloc's mmap threshold at `bytes` (mallopt M_MMAP_THRESHOLD), so that blocks that
/// large are always mapped and given back to the system when freed; returns 1 on success.
int cspaces_fix_mmap_threshold(int bytes);
/// mallopt(M_TRIM_THRESHOLD, bytes).
int cspaces_set_trim_threshold(int bytes);
/// Gives the free pages inside malloc's heaps back to the system (malloc_trim(0)).
int cspaces_release_free_memory(void);

/// Starts holding back, on the calling thread, the wake-ups asked with
/// `cspaces_wake_hold_request` (until `cspaces_wake_hold_end`); returns the earlier state, for
/// `cspaces_wake_hold_end`.
int cspaces_wake_hold_begin(void);
/// Notes a wake-up asked on the calling thread: 1 when it is held back (the caller then does not
/// wake anything; `cspaces_wake_hold_end` says it is owed), 0 when the caller wakes now.
int cspaces_wake_hold_request(void);
/// Ends a hold begun with `cspaces_wake_hold_begin` (given what it returned): 1 when a wake-up
/// was asked meanwhile and is now the caller's to do (never inside an outer hold, which keeps it).
int cspaces_wake_hold_end(int earlier);

/// Raises the soft limit on open descriptors to the hard one (at most `most`); the soft limit
/// then, or -1.
long cspaces_raise_descriptor_limit(long most);

/// openat(2) with an explicit mode, since Swift can't call the variadic one.
int cspaces_openat(int dirfd, const char *path, int flags, int mode);

/// The next entry name of `dir`, skipping "." and ".."; NULL at the end (errno 0) or on error (errno set).
const char *cspaces_readdir_name(DIR *dir);

/// Like cspaces_readdir_name, and stores the entry's d_type (DT_DIR, DT_REG, DT_LNK…, or
/// DT_UNKNOWN where the file system doesn't say) in `*type`.
const char *cspaces_readdir_entry(DIR *dir, unsigned char *type);

/// Starts `path` in a new process, inside the operation's cgroups before it runs anything.
///
/// The child shares the runtime's memory until it execs (CLONE_VM | CLONE_VFORK, like
/// posix_spawn), so nothing is copied. It gets stdin from /dev/null, stdout and stderr on
/// `stdout_fd` and `stderr_fd`, no other descriptors, an empty signal mask, default signal
/// handlers, its own process group and `cwd` (when not NULL); it writes "0" to each of the
/// `join_count` open `cgroup.procs` files in `join_fds` before exec, and fails rather than run
/// outside one. Returns 0 with `*pid` and `*pidfd` set, or an errno value (why joining or exec
/// failed).
int cspaces_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd, const int *join_fds,
                  int join_count, int stdout_fd, int stderr_fd, int *pid, int *pidfd);

/// A process started ahead of time that waits to exec a command (see cspaces_spare_start).
typedef struct {
  int pid;
  int pidfd;
  int control_fd;
} cspaces_spare;

/// Starts a spare: the small `helper` program (`spaces-spare`), after joining the cgroups like
/// cspaces_spawn, waits on a socket for the command to exec. The start and the cgroup move are
/// paid before the command comes, and the exec then replaces a tiny process. The spare exits
/// when `control_fd` is closed. Returns 0 or an errno value.
int cspaces_spare_start(const char *helper, const int *join_fds, int join_count, cspaces_spare *spare);

/// The helper's work: waits on `control` (a SOCK_SEQPACKET socket) for one command and execs
/// it; never returns (exits 0 when the socket closes first, 127 when exec fails, after sending
/// the errno value).
int cspaces_spare_serve(int control);

/// Makes a spare exec `path` with stdout and stderr on the given pipes (and the rest as for
/// cspaces_spawn). Returns 0 once it has exec'd, or an errno value (E2BIG when the command is
/// too large for a spare; the spare is gone either way and its control_fd closed).
int cspaces_spare_launch(cspaces_spare *spare, const char *path, char *const argv[], char *const envp[],
                         const char *cwd, int stdout_fd, int stderr_fd);

/// Ends a spare that will not be used: closes its socket, kills and reaps it.
void cspaces_spare_discard(cspaces_spare *spare);

/// The zygote of a persistent sandbox (`spaces-spare --zygote`, inside bwrap): takes requests for
/// spares on `control` (a SOCK_SEQPACKET socket whose other end only the runtime holds), forks
/// each spare, which joins the operation cgroups it was sent, reports its pid with
/// SCM_CREDENTIALS and waits for its command like cspaces_spare_serve; reaps them and sends each
/// one's wait status on its socket. Exits once `control` is closed and its children are gone.
int cspaces_zygote_serve(int control);

/// Starts `bwrap` (argv ending with the zygote's command line) with the control socket as its
/// descriptor 3; 0 with `*pid`, `*pidfd` and `*control` set, or an errno value.
int cspaces_zygote_start(const char *bwrap, char *const argv[], char *const envp[], int *pid, int *pidfd,
                         int *control);

/// Asks the zygote behind `control` for a spare that joins the `join_count` open `cgroup.procs`
/// files first, and waits up to `timeout_ms` for it. 0 with `spare->pid` (in this process's PID
/// namespace) and `spare->control_fd` set (`pidfd` is -1: the zygote is its parent), or an errno
/// value.
int cspaces_zygote_spare(int control, const int *join_fds, int join_count, int timeout_ms, cspaces_spare *spare);

/// Makes a zygote's spare exec `path`, with the output pipes, `state_fd` (>= 0: descriptor 3
/// of the command) and `stdin_fd` (>= 0, with a `state_fd`: its standard input, else /dev/null).
/// Doesn't wait for the exec; cspaces_zygote_status tells how it went. 0 or an errno value
/// (E2BIG: too large).
int cspaces_zygote_launch(cspaces_spare *spare, const char *path, char *const argv[], char *const envp[],
                          const char *cwd, int stdout_fd, int stderr_fd, int state_fd, int stdin_fd);

/// Sets a pipe's size (F_SETPIPE_SZ); 0 or the errno value.
int cspaces_pipe_resize(int fd, int size);

/// An anonymous memory file (memfd_create with MFD_CLOEXEC); -1 with errno on failure.
int cspaces_memfd(const char *name);

/// Waits for the wait status the zygote sends on a spare's socket (a command killed by signal N
/// reported as exit code 128 + N, as bwrap does); `*exec_error` is the errno value when exec
/// failed, else 0. A sandbox that died reports SIGKILL.
int cspaces_zygote_status(int sock, int *exec_error);

/// pipe2(O_CLOEXEC); with `size` > 0 the pipe's buffer is set to it where allowed. 0 or an errno value.
int cspaces_pipe(int fds[2], int size);

/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34+): the child closes every descriptor
/// from `from` up. 0 or an errno value.
int cspaces_spawn_closefrom(void *actions, int from);

/// Reaps a child started by cspaces_spawn; returns its wait status, or -1 with errno set.
int cspaces_reap(int pid);


/// One entry of a tree scan (cspaces_scan), followed in the buffer by `path_len` bytes of its
/// path relative to the scanned folder (no NUL), padded to a multiple of 8.
typedef struct {
  unsigned int path_len;
  unsigned int mode;
  unsigned long long size;
  long long mtime_ns;
  long long ctime_ns;
  unsigned long long ino;
} cspaces_scan_entry;

/// The result of cspaces_scan: `length` bytes of entries in `bytes` (free with free()).
typedef struct {
  unsigned char *bytes;
  unsigned long long length;
  unsigned long long count;
} cspaces_scan_buffer;

/// syncfs(2): flushes the file system that holds `fd`. 0, or -1 with errno set.
int cspaces_syncfs(int fd);

/// Walks the folder `dir` (an open descriptor, not closed) with lstat semantics, never following
/// a symlink, at most `max_depth` folders deep, and appends an entry for every file, folder and
/// symlink beneath it (not `dir` itself) to `out`, prefixing paths with `prefix` (may be "").
/// Names of the form `.spaces-<hex>.tmp` are skipped. Returns 0 or an errno value.
int cspaces_scan(int dir, const char *prefix, int max_depth, cspaces_scan_buffer *out);

#endif
