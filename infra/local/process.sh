# Sourced by up.sh and down.sh: processes recorded in pid files.

# True when the pid file names a live process. A killed process can linger as a zombie
# where nothing reaps orphans (containers whose PID 1 is not an init); `kill -0` still
# succeeds on those, so zombies count as dead.
alive() {
  local pidfile=$1 pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null || return 1
  ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null
}
