import SpacesModel

/// The `/bin/sh` scripts the container backend runs inside a space's container.
///
/// They use only shell builtins for the parts that must work when the container's process
/// limit is exhausted (finding and killing an operation's session), and `grep` for the rest.
enum ContainerScripts {
  /// PID 1 of every space container: sleeps, reaps orphans (`wait` reaps any child), and
  /// exits at once on SIGTERM so `stop` is quick.
  static let keepAlive = "trap 'exit 0' TERM INT; while :; do sleep 86400 & wait $!; done"

  /// Environment variable that marks every process an operation starts.
  static let marker = "SPACES_OPERATION"

  /// Folder (a tmpfs) where each running operation records its session id.
  static let stateFolder = "/run/spaces"

  /// Shell functions: `spaces_sweep SID OP` kills the session SID (except this shell and
  /// PID 1) until it is empty, then every process carrying OP's marker or no marker at all;
  /// `spaces_limits` reads the container's pids-limit and OOM-kill counters into `_p`, `_m`.
  static let functions = """
    spaces_sweep() {
      _sid=$1; _op=$2; _round=0
      while [ $_round -lt 300 ]; do
        _left=0
        for _d in /proc/[0-9]*; do
          _pid=${_d#/proc/}
          if [ "$_pid" = 1 ] || [ "$_pid" = $$ ]; then continue; fi
          read -r _st 2>/dev/null <"$_d/stat" || continue
          set -- ${_st##*") "}
          [ "$1" = Z ] && continue
          if [ -n "$_sid" ] && [ "$4" = "$_sid" ]; then kill -9 "$_pid" 2>/dev/null; _left=1; fi
        done
        [ $_left = 0 ] && break
        _round=$((_round + 1))
      done
      for _d in /proc/[0-9]*; do
        _pid=${_d#/proc/}
        if [ "$_pid" = 1 ] || [ "$_pid" = $$ ] || [ ! -r "$_d/environ" ]; then continue; fi
        grep -qs "\(marker)=$_op" "$_d/environ" 2>/dev/null
        _g=$?
        if [ $_g = 0 ]; then
          kill -9 "$_pid" 2>/dev/null
        elif [ $_g = 1 ] && ! grep -qs "\(marker)=" "$_d/environ" 2>/dev/null; then
          kill -9 "$_pid" 2>/dev/null
        fi
      done
    }
    spaces_count() {
      _n=0
      [ -r "$1" ] || return 0
      while read -r _k _v; do [ "$_k" = "$2" ] && _n=$_v; done <"$1"
    }
    spaces_limits() {
      spaces_count /sys/fs/cgroup/pids.events max; _p=$_n
      spaces_count /sys/fs/cgroup/pids/pids.events max; _p=$((_p + _n))
      spaces_count /sys/fs/cgroup/memory.events oom_kill; _m=$_n
      spaces_count /sys/fs/cgroup/memory/memory.oom_control oom_kill; _m=$((_m + _n))
    }

    """

  /// The wrapper each operation runs as (`sh -c WRAPPER spaces-op SCRIPT`): records its
  /// session, runs the script with stdin from /dev/null, watches the container's pids-limit
  /// counter while it runs (a refused fork stops the operation, as in the other backends),
  /// kills whatever the script left, and reports a process-limit or memory-limit hit with the
  /// runner's note on stderr.
  static func wrapper(operation: String, limits: ShellLimits) -> String {
    let processNote = ShellLimit.processes.note(limits)
    let memoryNote = ShellLimit.memory.note(limits)
    return functions + """
      echo $$ >\(stateFolder)/\(operation) 2>/dev/null
      spaces_limits; _p0=$_p; _m0=$_m
      /bin/sh -c "$1" </dev/null &
      _c=$!; _hit=; _i=0
      while read -r _st 2>/dev/null </proc/$_c/stat; do
        set -- ${_st##*") "}
        [ "$1" = Z ] && break
        spaces_limits
        if [ "$_p" -gt "$_p0" ]; then _hit=1; spaces_sweep $$ \(operation); break; fi
        if [ $_i -lt 20 ]; then _i=$((_i + 1)); { sleep 0.005; } 2>/dev/null; else { sleep 0.05; } 2>/dev/null; fi
      done
      wait $_c
      _s=$?
      spaces_sweep $$ \(operation)
      spaces_limits
      if [ -n "$_hit" ] || [ "$_p" -gt "$_p0" ]; then printf '%s' \(quote(processNote)) >&2
      elif [ "$_m" -gt "$_m0" ]; then printf '%s' \(quote(memoryNote)) >&2; fi
      rm -f \(stateFolder)/\(operation)
      exit $_s
      """
  }

  /// The sweeper run by a separate exec after a timeout or cancellation.
  static func sweeper(operation: String) -> String {
    functions + """
      _sid=
      read -r _sid 2>/dev/null <\(stateFolder)/\(operation)
      spaces_sweep "$_sid" \(operation)
      rm -f \(stateFolder)/\(operation)
      exit 0
      """
  }

  /// Single-quotes a string for `/bin/sh`.
  static func quote(_ text: String) -> String {
    "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
  }
}
