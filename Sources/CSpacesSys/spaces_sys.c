#define _GNU_SOURCE
#include "CSpacesSys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(CSPACES_O_PATH == O_PATH, "O_PATH");
_Static_assert(CSPACES_RESOLVE_NO_MAGICLINKS == RESOLVE_NO_MAGICLINKS, "RESOLVE_NO_MAGICLINKS");
_Static_assert(CSPACES_RESOLVE_BENEATH == RESOLVE_BENEATH, "RESOLVE_BENEATH");

int cspaces_openat2(int dirfd, const char *path, int flags, int mode, unsigned long long resolve) {
#ifdef SYS_openat2
  struct open_how how = {.flags = (unsigned long long)flags, .mode = (unsigned long long)mode, .resolve = resolve};
  return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
#else
  (void)dirfd, (void)path, (void)flags, (void)mode, (void)resolve;
  errno = ENOSYS;
  return -1;
#endif
}

int cspaces_openat(int dirfd, const char *path, int flags, int mode) {
  return openat(dirfd, path, flags, mode);
}

const char *cspaces_readdir_name(DIR *dir) {
  struct dirent *entry;
  do {
    errno = 0;
    entry = readdir(dir);
  } while (entry != NULL && (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0));
  return entry != NULL ? entry->d_name : NULL;
}

#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

// Only async-signal-safe calls between clone3 and execve: the parent has many threads.

// The part every child does first: default signals, the cgroups, its own process group.
static int child_prepare(const int *join_fds, int join_count) {
  sigset_t all;
  sigemptyset(&all);
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
  }
  sigprocmask(SIG_SETMASK, &all, NULL);
  for (int i = 0; i < join_count; i++) {
    if (write(join_fds[i], "0", 1) != 1) return errno != 0 ? errno : EIO;
  }
  if (setpgid(0, 0) != 0) return errno;
  return 0;
}

// The rest: descriptors, folder, exec. Returns only on failure, with the errno value.
static int child_exec(const char *path, char *const argv[], char *const envp[], const char *cwd, int stdout_fd,
                      int stderr_fd, int keep_fd) {
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) return errno;
  // Move the pipes above 2 first, so no dup2 below overwrites one that is still needed.
  int out = fcntl(stdout_fd, F_DUPFD_CLOEXEC, 3);
  int errfd = fcntl(stderr_fd, F_DUPFD_CLOEXEC, 3);
  if (out < 0 || errfd < 0) return errno;
  if (dup2(null_fd, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0) return errno;
  // Everything else closes on exec (the report channel too, which tells the parent exec worked).
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) != 0)
#endif
  {
    for (int fd = 3; fd < 65536; fd++) {
      if (fd != keep_fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
  }
  if (cwd != NULL && chdir(cwd) != 0) return errno;
  execve(path, argv, envp);
  return errno;
}

static void spawn_child(const char *path, char *const argv[], char *const envp[], const char *cwd,
                        const int *join_fds, int join_count, int stdout_fd, int stderr_fd, int report_fd) {
  int err = child_prepare(join_fds, join_count);
  if (!err) err = child_exec(path, argv, envp, cwd, stdout_fd, stderr_fd, report_fd);
  ssize_t ignored = write(report_fd, &err, sizeof err);
  (void)ignored;
  _exit(127);
}

// Forks with a pidfd: straight into the cgroup v2 folder `cgroup_fd` where the kernel can (the
// child then has nothing left to join: *join_count becomes 0), else plainly (it joins itself).
static long clone_child(int cgroup_fd, int *pidfd, int *join_count) {
#ifdef SYS_clone3
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = CLONE_PIDFD;
  args.pidfd = (uint64_t)(uintptr_t)pidfd;
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = (uint64_t)cgroup_fd;
    long child = syscall(SYS_clone3, &args, sizeof args);
    if (child >= 0) {
      *join_count = 0;
      return child;
    }
    // Before Linux 5.7 there is no CLONE_INTO_CGROUP (EINVAL, or E2BIG for the larger struct).
    if (errno != EINVAL && errno != E2BIG) return -1;
    args.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
    args.cgroup = 0;
  }
  return syscall(SYS_clone3, &args, sizeof args);
#else
  (void)cgroup_fd, (void)pidfd, (void)join_count;
  errno = ENOSYS;
  return -1;
#endif
}

int cspaces_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd, int cgroup_fd,
                  const int *join_fds, int join_count, int stdout_fd, int stderr_fd, int *pid, int *pidfd) {
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return errno;
  int child_pidfd = -1;
  long child = clone_child(cgroup_fd, &child_pidfd, &join_count);
  if (child == 0) spawn_child(path, argv, envp, cwd, join_fds, join_count, stdout_fd, stderr_fd, report[1]);
  int saved = errno;
  close(report[1]);
  if (child < 0) {
    close(report[0]);
    return saved;
  }
  int err = 0;
  ssize_t got;
  do {
    got = read(report[0], &err, sizeof err);
  } while (got < 0 && errno == EINTR);
  close(report[0]);
  if (got == (ssize_t)sizeof err) {
    // exec failed: reap the child, which has exited already.
    cspaces_reap((int)child);
    close(child_pidfd);
    return err != 0 ? err : EIO;
  }
  *pid = (int)child;
  *pidfd = child_pidfd;
  return 0;
}

// A spare's command travels as one message: a header, then NUL-terminated strings (path, the
// arguments, the environment, the folder), with the two output pipes as SCM_RIGHTS.
#define SPARE_BUFFER (1 << 20)
#define SPARE_MAX_STRINGS 8192

struct spare_header {
  uint32_t argc;
  uint32_t envc;
  uint32_t has_cwd;
  uint32_t length;
};

// The message of a spare's command: the header and the strings, and room for two descriptors.
struct spare_message {
  struct iovec parts[2];
  struct msghdr header;
  union {
    char bytes[CMSG_SPACE(sizeof(int) * 2)];
    struct cmsghdr align;
  } control;
};

static void spare_message_init(struct spare_message *message, struct spare_header *header, void *strings,
                               size_t length) {
  memset(message, 0, sizeof *message);
  message->parts[0] = (struct iovec){header, sizeof *header};
  message->parts[1] = (struct iovec){strings, length};
  message->header.msg_iov = message->parts;
  message->header.msg_iovlen = 2;
  message->header.msg_control = message->control.bytes;
  message->header.msg_controllen = sizeof message->control.bytes;
}

static void spare_child(int control) {
  // The buffers are mapped before any command arrives, and only written by this process.
  char *buffer = mmap(NULL, SPARE_BUFFER, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char **strings = mmap(NULL, sizeof(char *) * (SPARE_MAX_STRINGS + 2), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int err = (buffer == MAP_FAILED || strings == MAP_FAILED) ? ENOMEM : 0;
  struct spare_header header;
  int fds[2] = {-1, -1};
  if (!err) {
    struct spare_message message;
    spare_message_init(&message, &header, buffer, SPARE_BUFFER);
    ssize_t got;
    do {
      got = recvmsg(control, &message.header, MSG_CMSG_CLOEXEC);
    } while (got < 0 && errno == EINTR);
    if (got <= 0) _exit(0);  // the runtime closed the socket: nothing to run
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&message.header);
    if (cmsg != NULL && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
        cmsg->cmsg_len == CMSG_LEN(sizeof(int) * 2)) {
      memcpy(fds, CMSG_DATA(cmsg), sizeof fds);
    }
    uint32_t count = header.argc + header.envc + 1 + header.has_cwd;
    if ((size_t)got < sizeof header || fds[0] < 0 || fds[1] < 0 || header.length > SPARE_BUFFER ||
        (size_t)got != sizeof header + header.length || header.argc == 0 || header.argc > SPARE_MAX_STRINGS ||
        header.envc > SPARE_MAX_STRINGS || header.has_cwd > 1 || count > SPARE_MAX_STRINGS) {
      err = EPROTO;
    }
    // Split the strings in place, straight into argv and envp, each ended by NULL.
    char *path = NULL;
    char *cwd = NULL;
    char **argv = strings;
    char **envp = strings + header.argc + 1;
    char *cursor = buffer;
    char *end = buffer + header.length;
    for (uint32_t i = 0; i < count && !err; i++) {
      char *nul = memchr(cursor, 0, (size_t)(end - cursor));
      if (nul == NULL) {
        err = EPROTO;
      } else if (i == 0) {
        path = cursor;
      } else if (i <= header.argc) {
        argv[i - 1] = cursor;
      } else if (i <= header.argc + header.envc) {
        envp[i - 1 - header.argc] = cursor;
      } else {
        cwd = cursor;
      }
      if (nul != NULL) cursor = nul + 1;
    }
    if (!err) {
      argv[header.argc] = NULL;
      envp[header.envc] = NULL;
      err = child_exec(path, argv, envp, cwd, fds[0], fds[1], control);
    }
  }
  ssize_t ignored = write(control, &err, sizeof err);
  (void)ignored;
  _exit(127);
}

static void close_range_or_loop(unsigned int first, unsigned int last) {
  if (first > last) return;
#ifdef SYS_close_range
  if (syscall(SYS_close_range, first, last, 0U) == 0) return;
#endif
  for (unsigned int fd = first; fd <= last && fd < 65536; fd++) close((int)fd);
}

// Closes every descriptor from 3 up except those in `keep` (at most 16).
static void close_all_except(const int *keep, int count) {
  int sorted[16];
  int n = 0;
  for (int i = 0; i < count && n < 16; i++) {
    int fd = keep[i];
    int at = n++;
    while (at > 0 && sorted[at - 1] > fd) {
      sorted[at] = sorted[at - 1];
      at--;
    }
    sorted[at] = fd;
  }
  unsigned int next = 3;
  for (int i = 0; i < n; i++) {
    if (sorted[i] < 3) continue;
    if ((unsigned int)sorted[i] > next) close_range_or_loop(next, (unsigned int)sorted[i] - 1);
    if ((unsigned int)sorted[i] + 1 > next) next = (unsigned int)sorted[i] + 1;
  }
  close_range_or_loop(next, ~0U);
}

int cspaces_spare_start(int cgroup_fd, const int *join_fds, int join_count, cspaces_spare *spare) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return errno;
  int child_pidfd = -1;
  long child = clone_child(cgroup_fd, &child_pidfd, &join_count);
  if (child == 0) {
    // Keep nothing of the runtime open while waiting (its sockets, pipes and journals), or
    // their other ends would never see the end; what the command needs comes with it.
    int keep[16] = {pair[1]};
    int kept = 1;
    for (int i = 0; i < join_count && kept < 16; i++) keep[kept++] = join_fds[i];
    close_all_except(keep, kept);
    int err = join_count < 16 ? child_prepare(join_fds, join_count) : EINVAL;
    for (int i = 0; i < join_count; i++) close(join_fds[i]);
    if (err) {
      ssize_t ignored = write(pair[1], &err, sizeof err);
      (void)ignored;
      _exit(127);
    }
    spare_child(pair[1]);
  }
  int saved = errno;
  close(pair[1]);
  if (child < 0) {
    close(pair[0]);
    return saved;
  }
  spare->pid = (int)child;
  spare->pidfd = child_pidfd;
  spare->control_fd = pair[0];
  return 0;
}

void cspaces_spare_discard(cspaces_spare *spare) {
  if (spare->control_fd >= 0) close(spare->control_fd);
  spare->control_fd = -1;
  kill(spare->pid, SIGKILL);
  cspaces_reap(spare->pid);
  close(spare->pidfd);
  spare->pidfd = -1;
}

int cspaces_spare_launch(cspaces_spare *spare, const char *path, char *const argv[], char *const envp[],
                         const char *cwd, int stdout_fd, int stderr_fd) {
  struct spare_header header = {0, 0, cwd != NULL, 0};
  size_t length = strlen(path) + 1;
  for (; argv[header.argc] != NULL; header.argc++) length += strlen(argv[header.argc]) + 1;
  for (; envp[header.envc] != NULL; header.envc++) length += strlen(envp[header.envc]) + 1;
  if (cwd != NULL) length += strlen(cwd) + 1;
  if (length > SPARE_BUFFER || header.argc + header.envc + 2 > SPARE_MAX_STRINGS || header.argc == 0) {
    cspaces_spare_discard(spare);
    return E2BIG;
  }
  header.length = (uint32_t)length;
  char *body = malloc(length);
  if (body == NULL) {
    cspaces_spare_discard(spare);
    return ENOMEM;
  }
  char *cursor = body;
  size_t part = strlen(path) + 1;
  memcpy(cursor, path, part);
  cursor += part;
  for (uint32_t i = 0; i < header.argc; i++) {
    part = strlen(argv[i]) + 1;
    memcpy(cursor, argv[i], part);
    cursor += part;
  }
  for (uint32_t i = 0; i < header.envc; i++) {
    part = strlen(envp[i]) + 1;
    memcpy(cursor, envp[i], part);
    cursor += part;
  }
  if (cwd != NULL) memcpy(cursor, cwd, strlen(cwd) + 1);
  struct spare_message message;
  spare_message_init(&message, &header, body, length);
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&message.header);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int) * 2);
  int fds[2] = {stdout_fd, stderr_fd};
  memcpy(CMSG_DATA(cmsg), fds, sizeof fds);
  ssize_t sent;
  do {
    sent = sendmsg(spare->control_fd, &message.header, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  int saved = errno;
  free(body);
  if (sent < 0) {
    cspaces_spare_discard(spare);
    return saved == EMSGSIZE ? E2BIG : saved;
  }
  // The socket closes on exec (nothing comes back), or carries the errno value of a failure.
  int err = 0;
  ssize_t got;
  do {
    got = read(spare->control_fd, &err, sizeof err);
  } while (got < 0 && errno == EINTR);
  if (got == (ssize_t)sizeof err) {
    cspaces_spare_discard(spare);
    return err != 0 ? err : EIO;
  }
  close(spare->control_fd);
  spare->control_fd = -1;
  return 0;
}

int cspaces_reap(int pid) {
  int status = 0;
  pid_t got;
  do {
    got = waitpid((pid_t)pid, &status, 0);
  } while (got < 0 && errno == EINTR);
  return got < 0 ? -1 : status;
}

int cspaces_pipe(int fds[2], int size) {
  if (pipe2(fds, O_CLOEXEC) != 0) return errno;
  if (size > 0) (void)fcntl(fds[0], F_SETPIPE_SZ, size);
  return 0;
}

#include <spawn.h>

int cspaces_spawn_closefrom(void *actions, int from) {
  return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)actions, from);
}
