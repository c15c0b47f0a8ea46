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
#include <sys/wait.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

// Only async-signal-safe calls between clone3 and execve: the parent has many threads.
static void spawn_child(const char *path, char *const argv[], char *const envp[], const char *cwd,
                        const int *join_fds, int join_count, int stdout_fd, int stderr_fd, int report_fd) {
  sigset_t all;
  sigemptyset(&all);
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
  }
  sigprocmask(SIG_SETMASK, &all, NULL);
  int err = 0;
  for (int i = 0; i < join_count && !err; i++) {
    if (write(join_fds[i], "0", 1) != 1) err = errno != 0 ? errno : EIO;
  }
  if (!err && setpgid(0, 0) != 0) err = errno;
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (!err && null_fd < 0) err = errno;
  // Move the pipes above 2 first, so no dup2 below overwrites one that is still needed.
  int out = err ? -1 : fcntl(stdout_fd, F_DUPFD_CLOEXEC, 3);
  int errfd = err ? -1 : fcntl(stderr_fd, F_DUPFD_CLOEXEC, 3);
  if (!err && (out < 0 || errfd < 0)) err = errno;
  if (!err && (dup2(null_fd, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)) err = errno;
  // Everything else closes on exec (the report pipe too, which tells the parent exec worked).
  if (!err) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) != 0)
#endif
    {
      for (int fd = 3; fd < 65536; fd++) {
        if (fd != report_fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
      }
    }
  }
  if (!err && cwd != NULL && chdir(cwd) != 0) err = errno;
  if (!err) {
    execve(path, argv, envp);
    err = errno;
  }
  ssize_t ignored = write(report_fd, &err, sizeof err);
  (void)ignored;
  _exit(127);
}

int cspaces_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd, int cgroup_fd,
                  const int *join_fds, int join_count, int stdout_fd, int stderr_fd, int *pid, int *pidfd) {
#ifndef SYS_clone3
  (void)path, (void)argv, (void)envp, (void)cwd, (void)cgroup_fd, (void)stdout_fd, (void)stderr_fd, (void)pid;
  (void)pidfd, (void)join_fds, (void)join_count;
  return ENOSYS;
#else
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return errno;
  int child_pidfd = -1;
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = CLONE_PIDFD | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
  args.pidfd = (uint64_t)(uintptr_t)&child_pidfd;
  args.exit_signal = SIGCHLD;
  args.cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0;
  long child = syscall(SYS_clone3, &args, sizeof args);
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
    int status;
    while (waitpid((pid_t)child, &status, 0) < 0 && errno == EINTR) {}
    close(child_pidfd);
    return err != 0 ? err : EIO;
  }
  *pid = (int)child;
  *pidfd = child_pidfd;
  return 0;
#endif
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
