// The shell scripts the DaemonSet's containers run, as data (the modules come as arguments, never
// spliced into the text). POSIX sh, run by the image's own /bin/sh.

// The init container: unloads the in-tree modules the instance replaces (arguments before "--"),
// then loads the instance's modules in order with the image's modprobe (the image's
// /lib/modules/<kver>, dependencies resolved; loaded or built-in modules are left alone).
export const LOAD_SCRIPT = [
  'set -eu',
  'while [ "$#" -gt 0 ] && [ "$1" != -- ]; do',
  '  m=$(echo "$1" | tr - _); shift',
  '  if [ -e "/sys/module/$m/initstate" ]; then echo "kvc: unloading in-tree $m"; rmmod "$m"; fi',
  'done',
  'shift',
  'modprobe --all -- "$@"',
  'echo "kvc: loaded $* into $(uname -r)"',
].join('\n');

// The long-running container: waits; on SIGTERM (the pod deleted, the DaemonSet removed or
// rolled) runs the image's pre-unload hook when it has one, then unloads the modules given, in
// the order given (the load order reversed), each only while loaded and not built in.
export const HOLD_SCRIPT = [
  'set -u',
  'unload() {',
  '  trap - TERM INT',
  '  status=0',
  '  if [ -x /usr/lib/kvc/pre-unload ]; then /usr/lib/kvc/pre-unload || { echo "kvc: pre-unload failed" >&2; status=1; }; fi',
  '  for module in "$@"; do',
  '    m=$(echo "$module" | tr - _)',
  '    [ -e "/sys/module/$m/initstate" ] || continue',
  '    if rmmod "$m"; then echo "kvc: unloaded $m"; else echo "kvc: could not unload $m" >&2; status=1; fi',
  '  done',
  '  exit "$status"',
  '}',
  'trap \'unload "$@"\' TERM INT',
  'echo "kvc: holding $*; they are unloaded when this pod stops"',
  'sleep infinity &',
  'wait $!',
].join('\n');

// The tools container: stays up for `kubectl exec` and exits at once on SIGTERM.
export const TOOLS_SCRIPT = ["trap 'exit 0' TERM INT", 'sleep infinity &', 'wait $!'].join('\n');
