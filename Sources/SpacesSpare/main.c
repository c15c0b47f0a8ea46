// spaces-spare: a process the runtime starts ahead of a shell command. It waits on descriptor 3
// for the command, then execs it; being small, it makes that exec cheap. See cspaces_spare_start.
// With `--zygote` it is the zygote of a persistent sandbox (inside bwrap): it forks such spares
// on request. See cspaces_zygote_serve.
#include "CSpacesSys.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
  int type = 0;
  socklen_t length = sizeof type;
  if (fcntl(3, F_GETFD) < 0 || getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != SOCK_SEQPACKET) {
    fputs("spaces-spare: started by the spaces runtime only; it is not a command of its own\n", stderr);
    return 2;
  }
  if (argc == 2 && strcmp(argv[1], "--zygote") == 0) return cspaces_zygote_serve(3);
  return cspaces_spare_serve(3);
}
