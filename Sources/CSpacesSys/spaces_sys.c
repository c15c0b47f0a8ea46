#define _GNU_SOURCE
#include "CSpacesSys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <malloc.h>
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

const char *cspaces_readdir_entry(DIR *dir, unsigned char *type) {
  struct dirent *entry;
  do {
    errno = 0;
    entry = readdir(dir);
  } while (entry != NULL && (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0));
  if (entry == NULL) return NULL;
  *type = entry->d_type;
  return entry->d_name;
}

const char *cspaces_readdir_name(DIR *dir) {
  unsigned char type;
  return cspaces_readdir_entry(dir, &type);
}

#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <pthread.h>
#include <sched.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

// The child shares the parent's memory until it execs (CLONE_VM | CLONE_VFORK, as posix_spawn
// does): nothing is copied, so starting a command costs the same however large the runtime
// has grown, and no other thread of the runtime waits on a fork. Between clone and execve the
// child makes only system calls, on a stack of its own, and reports through `err`.

// The part every child does first: default signals, the cgroups, its own process group.
static int child_prepare(const int *join_fds, int join_count) {
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    (void)sigaction(sig, &action, NULL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int i = 0; i < join_count; i++) {
    if (write(join_fds[i], "0", 1) != 1) return errno != 0 ? errno : EIO;
  }
  if (setpgid(0, 0) != 0) return errno;
  return 0;
}

// The rest: descriptors, folder, exec. Returns only on failure, with the errno value.
// `control_fd` >= 0 becomes descriptor 3 (left open across exec); -1 for stdin, stdout or
// stderr means /dev/null.
static int child_exec(const char *path, char *const argv[], char *const envp[], const char *cwd, int stdin_fd,
                      int stdout_fd, int stderr_fd, int control_fd, int exec_fd) {
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) return errno;
  // Move the descriptors above 3 first, so no dup2 below overwrites one that is still needed.
  int in = fcntl(stdin_fd >= 0 ? stdin_fd : null_fd, F_DUPFD_CLOEXEC, 4);
  int out = fcntl(stdout_fd >= 0 ? stdout_fd : null_fd, F_DUPFD_CLOEXEC, 4);
  int errfd = fcntl(stderr_fd >= 0 ? stderr_fd : null_fd, F_DUPFD_CLOEXEC, 4);
  int control = control_fd >= 0 ? fcntl(control_fd, F_DUPFD_CLOEXEC, 4) : -1;
  if (in < 0 || out < 0 || errfd < 0 || (control_fd >= 0 && control < 0)) return errno;
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0) return errno;
  // Everything else closes on exec.
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) != 0)
#endif
  {
    for (int fd = 3; fd < 65536; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  if (control >= 0 && dup2(control, 3) < 0) return errno;
  if (cwd != NULL && chdir(cwd) != 0) return errno;
  if (exec_fd >= 0) {
    execveat(exec_fd, "", argv, envp, AT_EMPTY_PATH);
  } else {
    execve(path, argv, envp);
  }
  return errno;
}

struct spawn_request {
  const char *path;
  char *const *argv;
  char *const *envp;
  const char *cwd;
  const int *join_fds;
  int join_count;
  int stdout_fd;
  int stderr_fd;
  int control_fd;
  volatile int err;
};

static int spawn_child(void *argument) {
  struct spawn_request *request = argument;
  int err = child_prepare(request->join_fds, request->join_count);
  if (!err)
    err = child_exec(request->path, request->argv, request->envp, request->cwd, -1, request->stdout_fd, request->stderr_fd,
                     request->control_fd, -1);
  request->err = err != 0 ? err : EIO;
  _exit(127);
}

// Starts the request in a new process; 0 with *pid and *pidfd set, or an errno value.
static int spawn_request(struct spawn_request *request, int *pid, int *pidfd) {
  const size_t stack_size = 64 * 1024;
  char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return errno;
  // No handler of the runtime may run in the child while it shares the runtime's memory.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  request->err = 0;
  int child_pidfd = -1;
  int child = clone(spawn_child, stack + stack_size, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, request,
                    &child_pidfd);
  int saved = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  munmap(stack, stack_size);
  // Before Linux 5.2 clone knows no CLONE_PIDFD.
  if (child < 0) return saved == EINVAL ? ENOSYS : saved;
  if (request->err != 0) {
    // exec failed: the child has exited already.
    cspaces_reap(child);
    if (child_pidfd >= 0) close(child_pidfd);
    return request->err;
  }
  *pid = child;
  *pidfd = child_pidfd;
  return 0;
}

int cspaces_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd, const int *join_fds,
                  int join_count, int stdout_fd, int stderr_fd, int *pid, int *pidfd) {
  struct spawn_request request = {path, argv, envp, cwd, join_fds, join_count, stdout_fd, stderr_fd, -1, 0};
  return spawn_request(&request, pid, pidfd);
}

// A spare's command travels as one message: a header, then NUL-terminated strings (path, the
// arguments, the environment, the folder), with the two output pipes as SCM_RIGHTS, and for a
// spare inside a persistent sandbox a third descriptor (the shell session's state file), which
// the command gets as descriptor 3, and maybe a fourth, its standard input (a warm shell's
// script; else /dev/null).
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
    char bytes[CMSG_SPACE(sizeof(int) * 4)];
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

// In a persistent sandbox, the zygote's exec-only copy of /bin/sh (see zygote_shell_copy), which
// a warm shell is exec'd from; -1 elsewhere.
static int spare_shell_fd = -1;

int cspaces_spare_serve(int control) {
  (void)fcntl(control, F_SETFD, FD_CLOEXEC);
  // The buffers are mapped before any command arrives, and only written by this process.
  char *buffer = mmap(NULL, SPARE_BUFFER, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char **strings = mmap(NULL, sizeof(char *) * (SPARE_MAX_STRINGS + 2), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int err = (buffer == MAP_FAILED || strings == MAP_FAILED) ? ENOMEM : 0;
  struct spare_header header;
  int fds[4] = {-1, -1, -1, -1};
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
        cmsg->cmsg_len >= CMSG_LEN(sizeof(int) * 2) && cmsg->cmsg_len <= CMSG_LEN(sizeof(int) * 4) &&
        (cmsg->cmsg_len - CMSG_LEN(0)) % sizeof(int) == 0) {
      memcpy(fds, CMSG_DATA(cmsg), cmsg->cmsg_len - CMSG_LEN(0));
    }
    uint32_t count = header.argc + header.envc + 1 + header.has_cwd;
    if ((size_t)got < sizeof header || fds[0] < 0 || fds[1] < 0 || (fds[3] >= 0 && fds[2] < 0) || header.length > SPARE_BUFFER ||
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
      // A warm shell (its script comes on standard input) is exec'd from the zygote's copy of
      // /bin/sh, which nothing in the sandbox can read: the kernel then makes the shell
      // undumpable, out of reach of ptrace, /proc/PID/mem and pidfd_getfd while it waits. Without
      // that copy it is not started at all.
      int exec_fd = -1;
      if (fds[3] >= 0) {
        if (strcmp(path, "/bin/sh") != 0 || spare_shell_fd < 0) err = EPERM;
        exec_fd = spare_shell_fd;
      }
      if (!err) err = child_exec(path, argv, envp, cwd, fds[3], fds[0], fds[1], fds[2], exec_fd);
    }
  }
  ssize_t ignored = write(control, &err, sizeof err);
  (void)ignored;
  _exit(127);
}

int cspaces_spare_start(const char *helper, const int *join_fds, int join_count, cspaces_spare *spare) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return errno;
  char *const argv[] = {(char *)"spaces-spare", NULL};
  char *const envp[] = {NULL};
  struct spawn_request request = {helper, argv, envp, "/", join_fds, join_count, -1, -1, pair[1], 0};
  int err = spawn_request(&request, &spare->pid, &spare->pidfd);
  close(pair[1]);
  if (err != 0) {
    close(pair[0]);
    return err;
  }
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

// Sends a command to a spare (see spare_serve's message); 0 or an errno value (E2BIG: too large).
static int spare_send(int control_fd, const char *path, char *const argv[], char *const envp[], const char *cwd,
                      const int *fds, int fd_count) {
  struct spare_header header = {0, 0, cwd != NULL, 0};
  size_t length = strlen(path) + 1;
  for (; argv[header.argc] != NULL; header.argc++) length += strlen(argv[header.argc]) + 1;
  for (; envp[header.envc] != NULL; header.envc++) length += strlen(envp[header.envc]) + 1;
  if (cwd != NULL) length += strlen(cwd) + 1;
  if (length > SPARE_BUFFER || header.argc + header.envc + 2 > SPARE_MAX_STRINGS || header.argc == 0) return E2BIG;
  header.length = (uint32_t)length;
  char *body = malloc(length);
  if (body == NULL) return ENOMEM;
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
  message.header.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)fd_count);
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&message.header);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)fd_count);
  memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * (size_t)fd_count);
  ssize_t sent;
  do {
    sent = sendmsg(control_fd, &message.header, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  int saved = errno;
  free(body);
  if (sent < 0) return saved == EMSGSIZE ? E2BIG : saved;
  return 0;
}

int cspaces_spare_launch(cspaces_spare *spare, const char *path, char *const argv[], char *const envp[],
                         const char *cwd, int stdout_fd, int stderr_fd) {
  int fds[2] = {stdout_fd, stderr_fd};
  int sent = spare_send(spare->control_fd, path, argv, envp, cwd, fds, 2);
  if (sent != 0) {
    cspaces_spare_discard(spare);
    return sent;
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

// MARK: - The persistent sandbox's zygote

#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/signalfd.h>

// What the zygote sends on a spare's socket once the spare (then the command it became) has
// ended: the magic and the wait status. Eight bytes, so it can't be taken for the four-byte
// errno value a spare sends when exec fails.
#define ZYGOTE_STATUS_MAGIC 0x53544154u
#define ZYGOTE_MAX_CHILDREN 4096
#define ZYGOTE_MAX_JOINS 8

struct zygote_status {
  uint32_t magic;
  int32_t status;
};

static void zygote_report(int sock, int status) {
  struct zygote_status message = {ZYGOTE_STATUS_MAGIC, status};
  (void)send(sock, &message, sizeof message, MSG_NOSIGNAL | MSG_DONTWAIT);
}

// A message of one byte (`byte`) with room for ancillary data in `control`.
static void one_byte_message(struct msghdr *header, struct iovec *part, char *byte, void *control, size_t length) {
  memset(header, 0, sizeof *header);
  *part = (struct iovec){byte, 1};
  header->msg_iov = part;
  header->msg_iovlen = 1;
  header->msg_control = control;
  header->msg_controllen = length;
}

// An exec-only, sealed copy of `path` in memory (mode 0111): a process exec'd from it can't be
// dumped, traced or read by a process of the same user without privileges (the kernel's check on
// exec: a binary its user can't read), and nothing can change it. -1 when it can't be made.
static int zygote_shell_copy(const char *path) {
  int source = open(path, O_RDONLY | O_CLOEXEC);
  if (source < 0) return -1;
  int copy = memfd_create("spaces-sh", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  struct stat info;
  int ok = copy >= 0 && fstat(source, &info) == 0 && S_ISREG(info.st_mode);
  char buffer[1 << 16];
  while (ok) {
    ssize_t got = read(source, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      ok = got == 0;
      break;
    }
    for (ssize_t put = 0; ok && put < got;) {
      ssize_t wrote = write(copy, buffer + put, (size_t)(got - put));
      if (wrote < 0 && errno == EINTR) continue;
      ok = wrote > 0;
      if (ok) put += wrote;
    }
  }
  close(source);
  ok = ok && fchmod(copy, 0111) == 0 &&
       fcntl(copy, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) == 0;
  if (!ok) {
    if (copy >= 0) close(copy);
    return -1;
  }
  return copy;
}

int cspaces_zygote_serve(int control) {
  (void)fcntl(control, F_SETFD, FD_CLOEXEC);
  // Nothing in the sandbox may read this process's memory or take its descriptors
  // (ptrace, pidfd_getfd, /proc/PID/fd): the commands run as the same user.
  (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  spare_shell_fd = zygote_shell_copy("/bin/sh");
  sigset_t children;
  sigemptyset(&children);
  sigaddset(&children, SIGCHLD);
  sigprocmask(SIG_BLOCK, &children, NULL);
  int signals = signalfd(-1, &children, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signals < 0) return 1;
  static int pids[ZYGOTE_MAX_CHILDREN];
  static int socks[ZYGOTE_MAX_CHILDREN];
  int count = 0;
  int open_control = 1;
  while (open_control || count > 0) {
    struct pollfd waits[2] = {{open_control ? control : -1, POLLIN, 0}, {signals, POLLIN, 0}};
    if (poll(waits, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (waits[1].revents != 0) {
      struct signalfd_siginfo info;
      while (read(signals, &info, sizeof info) > 0) {
      }
      int status = 0;
      pid_t pid;
      while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < count; i++) {
          if (pids[i] != pid) continue;
          zygote_report(socks[i], status);
          close(socks[i]);
          count--;
          pids[i] = pids[count];
          socks[i] = socks[count];
          break;
        }
      }
    }
    if (waits[0].revents == 0) continue;
    // A request for a spare: one byte, its socket and the cgroup files it must join.
    char kind = 0;
    struct iovec part;
    union {
      char bytes[CMSG_SPACE(sizeof(int) * (1 + ZYGOTE_MAX_JOINS))];
      struct cmsghdr align;
    } space;
    struct msghdr header;
    one_byte_message(&header, &part, &kind, space.bytes, sizeof space.bytes);
    ssize_t got = recvmsg(control, &header, MSG_CMSG_CLOEXEC);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      open_control = 0;
      continue;
    }
    if (got == 0) {
      open_control = 0;  // the runtime ended this sandbox: finish what runs, then exit
      continue;
    }
    int fds[1 + ZYGOTE_MAX_JOINS];
    int fd_count = 0;
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&header);
    if (cmsg != NULL && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
      fd_count = (int)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      memcpy(fds, CMSG_DATA(cmsg), sizeof(int) * (size_t)fd_count);
    }
    if (kind != 'S' || fd_count < 1 || (header.msg_flags & MSG_CTRUNC) || count >= ZYGOTE_MAX_CHILDREN) {
      for (int i = 0; i < fd_count; i++) close(fds[i]);
      continue;
    }
    pid_t pid = fork();
    if (pid == 0) {
      close(control);
      close(signals);
      for (int i = 0; i < count; i++) close(socks[i]);
      int err = child_prepare(fds + 1, fd_count - 1);
      for (int i = 1; i < fd_count; i++) close(fds[i]);
      if (err != 0) _exit(126);
      // Ready: one byte with this process's credentials, which the kernel translates into the
      // runtime's PID namespace.
      struct ucred me = {getpid(), getuid(), getgid()};
      union {
        char bytes[CMSG_SPACE(sizeof me)];
        struct cmsghdr align;
      } creds;
      char ready = 'R';
      struct iovec readyPart;
      struct msghdr readyHeader;
      one_byte_message(&readyHeader, &readyPart, &ready, creds.bytes, sizeof creds.bytes);
      struct cmsghdr *c = CMSG_FIRSTHDR(&readyHeader);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_CREDENTIALS;
      c->cmsg_len = CMSG_LEN(sizeof me);
      memcpy(CMSG_DATA(c), &me, sizeof me);
      if (sendmsg(fds[0], &readyHeader, MSG_NOSIGNAL) != 1) _exit(126);
      cspaces_spare_serve(fds[0]);
      _exit(127);
    }
    for (int i = 1; i < fd_count; i++) close(fds[i]);
    if (pid < 0) {
      close(fds[0]);
      continue;
    }
    pids[count] = pid;
    socks[count] = fds[0];
    count++;
  }
  return 0;
}

int cspaces_zygote_start(const char *bwrap, char *const argv[], char *const envp[], int *pid, int *pidfd,
                         int *control) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return errno;
  struct spawn_request request = {bwrap, argv, envp, "/", NULL, 0, -1, -1, pair[1], 0};
  int err = spawn_request(&request, pid, pidfd);
  close(pair[1]);
  if (err != 0) {
    close(pair[0]);
    return err;
  }
  *control = pair[0];
  return 0;
}

int cspaces_zygote_spare(int control, const int *join_fds, int join_count, int timeout_ms, cspaces_spare *spare) {
  if (join_count > ZYGOTE_MAX_JOINS) return E2BIG;
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return errno;
  int on = 1;
  if (setsockopt(pair[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) {
    int saved = errno;
    close(pair[0]);
    close(pair[1]);
    return saved;
  }
  int fds[1 + ZYGOTE_MAX_JOINS];
  fds[0] = pair[1];
  for (int i = 0; i < join_count; i++) fds[1 + i] = join_fds[i];
  char kind = 'S';
  struct iovec part;
  union {
    char bytes[CMSG_SPACE(sizeof(int) * (1 + ZYGOTE_MAX_JOINS))];
    struct cmsghdr align;
  } space;
  memset(&space, 0, sizeof space);
  struct msghdr header;
  one_byte_message(&header, &part, &kind, space.bytes, CMSG_SPACE(sizeof(int) * (size_t)(1 + join_count)));
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&header);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)(1 + join_count));
  memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * (size_t)(1 + join_count));
  ssize_t sent;
  do {
    sent = sendmsg(control, &header, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  int saved = errno;
  close(pair[1]);
  if (sent < 0) {
    close(pair[0]);
    return saved;
  }
  // Wait for the spare's "ready" and its pid, as this process's PID namespace sees it.
  struct pollfd wait = {pair[0], POLLIN, 0};
  int ready;
  do {
    ready = poll(&wait, 1, timeout_ms);
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) {
    close(pair[0]);
    return ready == 0 ? ETIMEDOUT : errno;
  }
  char byte = 0;
  struct iovec readyPart;
  union {
    char bytes[CMSG_SPACE(sizeof(struct ucred))];
    struct cmsghdr align;
  } creds;
  struct msghdr readyHeader;
  one_byte_message(&readyHeader, &readyPart, &byte, creds.bytes, sizeof creds.bytes);
  ssize_t got;
  do {
    got = recvmsg(pair[0], &readyHeader, MSG_CMSG_CLOEXEC);
  } while (got < 0 && errno == EINTR);
  struct cmsghdr *c = CMSG_FIRSTHDR(&readyHeader);
  struct ucred who = {0, 0, 0};
  if (got == 1 && byte == 'R' && c != NULL && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
      c->cmsg_len == CMSG_LEN(sizeof who)) {
    memcpy(&who, CMSG_DATA(c), sizeof who);
  }
  if (who.pid <= 0) {
    close(pair[0]);
    return EPROTO;
  }
  spare->pid = who.pid;
  spare->pidfd = -1;
  spare->control_fd = pair[0];
  return 0;
}

int cspaces_zygote_launch(cspaces_spare *spare, const char *path, char *const argv[], char *const envp[],
                          const char *cwd, int stdout_fd, int stderr_fd, int state_fd, int stdin_fd) {
  if (stdin_fd >= 0 && state_fd < 0) return EINVAL;
  int fds[4] = {stdout_fd, stderr_fd, state_fd, stdin_fd};
  return spare_send(spare->control_fd, path, argv, envp, cwd, fds, stdin_fd >= 0 ? 4 : state_fd >= 0 ? 3 : 2);
}

int cspaces_pipe_resize(int fd, int size) {
  return fcntl(fd, F_SETPIPE_SZ, size) < 0 ? errno : 0;
}

int cspaces_memfd(const char *name) {
  return memfd_create(name, MFD_CLOEXEC);
}

int cspaces_zygote_status(int sock, int *exec_error) {
  *exec_error = 0;
  for (;;) {
    union {
      struct zygote_status status;
      int err;
    } message;
    ssize_t got;
    do {
      got = recv(sock, &message, sizeof message, 0);
    } while (got < 0 && errno == EINTR);
    if (got == (ssize_t)sizeof message.status && message.status.magic == ZYGOTE_STATUS_MAGIC) {
      int status = message.status.status;
      // As bwrap's init reports it: a command killed by signal N exits with 128 + N.
      if (WIFSIGNALED(status)) return (128 + WTERMSIG(status)) << 8;
      return status;
    }
    if (got == (ssize_t)sizeof message.err) {
      *exec_error = message.err;
      continue;
    }
    // The sandbox is gone (its zygote killed): so is the command.
    return (128 + SIGKILL) << 8;
  }
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

int cspaces_fix_mmap_threshold(int bytes) { return mallopt(M_MMAP_THRESHOLD, bytes); }

int cspaces_set_trim_threshold(int bytes) { return mallopt(M_TRIM_THRESHOLD, bytes); }

int cspaces_release_free_memory(void) { return malloc_trim(0); }

static _Thread_local int wake_holding;
static _Thread_local int wake_owed;

int cspaces_wake_hold_begin(void) {
  int earlier = wake_holding;
  wake_holding = 1;
  return earlier;
}

int cspaces_wake_hold_request(void) {
  if (!wake_holding) return 0;
  wake_owed = 1;
  return 1;
}

int cspaces_wake_hold_end(int earlier) {
  wake_holding = earlier;
  if (earlier) return 0;
  int owed = wake_owed;
  wake_owed = 0;
  return owed;
}

#include <sys/resource.h>

long cspaces_raise_descriptor_limit(long most) {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  rlim_t wanted = limit.rlim_max == RLIM_INFINITY || limit.rlim_max > (rlim_t)most ? (rlim_t)most : limit.rlim_max;
  if (wanted > limit.rlim_cur) {
    limit.rlim_cur = wanted;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  }
  return (long)limit.rlim_cur;
}

// MARK: - Tree scans (change records)

#include <sys/stat.h>

static int scan_append(cspaces_scan_buffer *out, const char *path, size_t path_len, const struct stat *st) {
  size_t padded = (path_len + 7) & ~(size_t)7;
  size_t need = sizeof(cspaces_scan_entry) + padded;
  size_t capacity = malloc_usable_size(out->bytes);
  if (out->length + need > capacity) {
    size_t grown = capacity < 65536 ? 65536 : capacity * 2;
    while (grown < out->length + need) grown *= 2;
    unsigned char *bigger = realloc(out->bytes, grown);
    if (bigger == NULL) return ENOMEM;
    out->bytes = bigger;
  }
  cspaces_scan_entry entry = {
      .path_len = (unsigned int)path_len,
      .mode = (unsigned int)st->st_mode,
      .size = (unsigned long long)st->st_size,
      .mtime_ns = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec,
      .ctime_ns = (long long)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec,
      .ino = (unsigned long long)st->st_ino,
  };
  memcpy(out->bytes + out->length, &entry, sizeof entry);
  memcpy(out->bytes + out->length + sizeof entry, path, path_len);
  memset(out->bytes + out->length + sizeof entry + path_len, 0, padded - path_len);
  out->length += need;
  out->count += 1;
  return 0;
}

static int scan_is_temporary(const char *name) {
  size_t length = strlen(name);
  if (length < 13 || strncmp(name, ".spaces-", 8) != 0 || strcmp(name + length - 4, ".tmp") != 0) return 0;
  for (size_t i = 8; i < length - 4; i++) {
    char c = name[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
  }
  return 1;
}

static int scan_folder(int dir, char *path, size_t path_len, int depth, cspaces_scan_buffer *out) {
  // A descriptor of its own (not dup, which would share the offset of the caller's).
  int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  DIR *stream = fdopendir(fd);
  if (stream == NULL) {
    int saved = errno;
    close(fd);
    return saved;
  }
  int status = 0;
  for (;;) {
    errno = 0;
    struct dirent *entry = readdir(stream);
    if (entry == NULL) {
      status = errno;
      break;
    }
    const char *name = entry->d_name;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || scan_is_temporary(name)) continue;
    size_t name_len = strlen(name);
    if (path_len + 1 + name_len >= 4096) {
      status = ENAMETOOLONG;
      break;
    }
    size_t child_len = path_len;
    if (path_len > 0) path[child_len++] = '/';
    memcpy(path + child_len, name, name_len);
    child_len += name_len;
    path[child_len] = 0;
    struct stat st;
    if (fstatat(dirfd(stream), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // removed while we looked
      status = errno;
      break;
    }
    status = scan_append(out, path, child_len, &st);
    if (status != 0) break;
    if (S_ISDIR(st.st_mode)) {
      if (depth >= 1) {
        int child = openat(dirfd(stream), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (child < 0) {
          if (errno == ENOENT) continue;
          status = errno;
          break;
        }
        status = scan_folder(child, path, child_len, depth - 1, out);
        close(child);
        if (status != 0) break;
      }
    }
    path[path_len] = 0;
  }
  path[path_len] = 0;
  closedir(stream);
  return status;
}

int cspaces_syncfs(int fd) { return syncfs(fd); }

int cspaces_scan(int dir, const char *prefix, int max_depth, cspaces_scan_buffer *out) {
  char path[4096];
  size_t length = strlen(prefix);
  if (length >= sizeof path) return ENAMETOOLONG;
  memcpy(path, prefix, length + 1);
  return scan_folder(dir, path, length, max_depth, out);
}
