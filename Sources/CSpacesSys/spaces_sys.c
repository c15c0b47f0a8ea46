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
