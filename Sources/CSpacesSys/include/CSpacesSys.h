#ifndef CSPACES_SYS_H
#define CSPACES_SYS_H

#include <dirent.h>

// Values the Swift Glibc module doesn't import (checked against the system headers in spaces_sys.c).
#define CSPACES_O_PATH 010000000
#define CSPACES_RESOLVE_NO_MAGICLINKS 0x02ULL
#define CSPACES_RESOLVE_BENEATH 0x08ULL

/// openat2(2) without the variadic syscall(); returns -1 with errno set (ENOSYS where unsupported).
int cspaces_openat2(int dirfd, const char *path, int flags, int mode, unsigned long long resolve);

/// openat(2) with an explicit mode, since Swift can't call the variadic one.
int cspaces_openat(int dirfd, const char *path, int flags, int mode);

/// The next entry name of `dir`, skipping "." and ".."; NULL at the end (errno 0) or on error (errno set).
const char *cspaces_readdir_name(DIR *dir);

#endif
