#!/bin/sh
# Makes the README's screenshots from the real thing: a release daemon on
# examples/cluster.isinittab (every file in a temporary directory, as
# ./demo does), the real console in a detached 120x36 tmux session driven
# with send-keys, each state captured with `tmux capture-pane -e`, turned
# into HTML by aha and photographed by headless Chromium:
#
#   overview.png  groups, and mail's processes with live pids, uptimes,
#                 CPU and memory, mta selected with its output
#   actions.png   mail's processes sorted by CPU, and the y/n question `R`
#                 asks before restarting mta
#   picker.png    the level picker for mail, runmore highlighted, with the
#                 daemon's preview of what would stop / keep / start
#   output.png    web's flapping `warmer`: exit history, backoff, output
#   xray.png      `x`: every process of mta as a tree
#   timeline.png  `A`: mail's last switch, spool holding cf and mta back
#
# Then, as root with openssh-server, the fleet ones (each its own script,
# also runnable alone): fleet.sh (fleet.png: three hosts, drift, a lost
# host) and fleet-rollout.sh (fleet-rollout.png: 48 hosts, trouble first,
# a rolling switch in progress).
#
# Installs what it needs (tmux, aha, chromium, a monospace font) with
# apt-get if missing. Leaves nothing running: the console is quit, the
# daemon shut down, the temporary directory removed, also on failure.
#
#   screenshots/make.sh          # writes screenshots/*.png
set -eu
cd "$(dirname "$0")/.."
out=$PWD/screenshots

say() { printf 'make.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# ---- 1. tools ---------------------------------------------------------------
missing=
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
command -v aha >/dev/null 2>&1 || missing="$missing aha"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
fc-list 2>/dev/null | grep -q 'DejaVu Sans Mono' || missing="$missing fonts-dejavu-core"
if [ -n "$missing" ]; then
    say "installing$missing"
    sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    # shellcheck disable=SC2086 # one word per package
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

# ---- 1b. a neutral path ---------------------------------------------------------
# The console's header shows the isinittab's path: photograph it as the
# path an operator has, /etc/isinittab, not this checkout's. As root, the
# script runs itself again (after installing its tools, which must land
# in the real /etc) in a private mount namespace whose /etc is an
# overlay on the real one (which is never written), holding the example as
# /etc/isinittab; without root it keeps the checkout's path.
if [ "${ISINIT_SHOTS_NS:-}" != 1 ] && [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null 2>&1; then
    exec env ISINIT_SHOTS_NS=1 unshare --mount --propagation private "$out/make.sh" "$@"
fi
config=$PWD/examples/cluster.isinittab
if [ "${ISINIT_SHOTS_NS:-}" = 1 ]; then
    overlay=$(mktemp -d "${TMPDIR:-/tmp}/isinit-shots-etc.XXXXXX")
    mkdir "$overlay/upper" "$overlay/work"
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$overlay/upper,workdir=$overlay/work" /etc
    cp examples/cluster.isinittab /etc/isinittab
    config=/etc/isinittab
fi

# ---- 2. binaries --------------------------------------------------------------
cargo build --release --quiet --bin isinit --bin isinit-tui
bin=$PWD/target/release

# ---- 3. a daemon in a temporary directory ---------------------------------------
dir=$(mktemp -d "${TMPDIR:-/tmp}/isinit-shots.XXXXXX")
export ISINIT_CONFIG="$config"
export ISINIT_SOCKET="$dir/init.s"
export ISINIT_INITSTAT="$dir/initstat"
export ISINIT_LOGDIR="$dir/logs"
server=isinit-shots-$$ # the private tmux server
tmux_socket=
daemon=

tm() { tmux -L "$server" -f /dev/null "$@"; }

cleanup() {
    status=$?
    tm kill-server 2>/dev/null || true
    [ -z "$tmux_socket" ] || rm -f "$tmux_socket" # tmux leaves it behind
    if [ -n "$daemon" ]; then
        "$bin/isinit" shutdown --wait >/dev/null 2>&1 || kill "$daemon" 2>/dev/null || true
        wait "$daemon" 2>/dev/null || true
    fi
    [ "$status" -eq 0 ] || { [ ! -f "$dir/daemon.log" ] || tail -n 20 "$dir/daemon.log" >&2; }
    rm -rf "$dir"
    if [ -n "${overlay:-}" ]; then
        umount /etc 2>/dev/null || true
        rm -rf "$overlay"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# A short respawn pause, as in ./demo, so the flapping entry comes back.
"$bin/isinit" daemon --respawn-pause 20 --log "$dir/daemon.log" 2>/dev/null &
daemon=$!
tries=0
until "$bin/isinit" status >/dev/null 2>&1; do
    kill -0 "$daemon" 2>/dev/null || die "the daemon exited during start-up"
    tries=$((tries + 1))
    [ "$tries" -lt 200 ] || die "the daemon did not start"
    sleep 0.05
done
for group in mail web db; do
    "$bin/isinit" tell "$group" run >/dev/null
done

# ---- 4. the console in tmux -------------------------------------------------------
unset TMUX TMUX_PANE
tm start-server \; set-option -g status off \; set-option -g default-terminal tmux-256color \; \
    new-session -d -s shots -x 120 -y 36 -- "$bin/isinit-tui" --socket "$ISINIT_SOCKET"
tmux_socket=$(tm display-message -p -t shots '#{socket_path}')

# The capture-and-photograph helpers: wait_for, keys, shot (needs $dir,
# $out, tm, say and die).
. "$out/lib.sh"

wait_for "the console" '● connected' '^│mail +run +DONE'

# Overview: mail selected, focus on its processes, mta highlighted with
# some output; web flagged `!` (warmer is flapping), the notice below.
keys Down
keys Down
wait_for "mail selected" 'processes of mail'
keys Tab
keys Down
keys Down
wait_for "mta with output, db and web up" \
    '┌ mta respawn' 'mta: queue run 4,' '^│web +run +DONE .*!│' '^│db +run +DONE' 'warmer respawning too rapidly' \
    '^│[^│]*││mta +respawn +run,runmore +running +[0-9]+ +[0-9]+s +[0-9]+ +[0-9.]+ +[0-9.]+[KMG] '
shot overview

# The level picker for mail, runmore highlighted, the preview filled in.
keys Enter
wait_for "the level picker" 'switch mail to a level'
keys Down
wait_for "the preview of runmore" '› runmore' 'tell mail runmore' 'keep +mta' 'start +runner' 'done +spool, cf'
shot picker

# web's warmer: throttled, several exits, "connection refused".
keys Escape
wait_for "the picker closed" '^│[^│]*││tag +mode'
keys BTab
keys Down
wait_for "web selected" 'processes of web'
keys Tab
keys Down
keys Down
wait_for "warmer throttled, with its exits and output" \
    '┌ warmer respawn' 'throttled until' '^│[^│]*││warmer +respawn +run +backoff' \
    'connection refused' '^│[0-9:]{8} exit 1 +0\.[0-9]s +│'
# ...with the six quick exits that led to the throttle listed.
[ "$(grep -Ec '^│[0-9:]{8} exit 1 ' "$dir/screen.txt")" -ge 6 ] || die "fewer than six exits listed"
shot output

# Back to mail, mta selected, sorted by CPU (s five times: tag, state,
# uptime, respawns, cpu), then R: the question names what will happen.
keys BTab
keys Up
wait_for "mail selected" 'processes of mail'
keys Tab
keys Down
keys Down
wait_for "mta selected" '┌ mta respawn'
keys s s s s s
wait_for "sorted by cpu" 'cpu%▼'
keys R
wait_for "the restart question" 'restart mta\?' 'Stops mta \(pid [0-9]+\)'
shot actions
keys n
wait_for "the question closed" 'nothing done'

# x: the x-ray of mta — every process of the entry as a tree (its shell
# and the sleep it is running).
keys x
wait_for "the x-ray of mta" 'x-ray: mta' 'sleep 2'
shot xray
keys Escape
wait_for "the x-ray closed" '┌ mta respawn'

# A: the last switch of mail as a strip — spool (wait) held cf and mta.
keys A
wait_for "the timeline of mail" 'last switch of mail' 'spool' 'after spool'
shot timeline
keys Escape
wait_for "the timeline closed" '┌ mta respawn'

# ---- 5. quit; the trap shuts the daemon down ---------------------------------------
keys q
tries=0
while tm has-session -t shots 2>/dev/null; do
    tries=$((tries + 1))
    [ "$tries" -lt 400 ] || die "the console did not quit"
    sleep 0.05
done
# ---- 6. the fleet screenshots: real sshd, so root only ---------------------------
if [ "$(id -u)" -eq 0 ] && [ -x /usr/sbin/sshd ]; then
    "$out/fleet.sh"
    "$out/fleet-rollout.sh"
else
    say "skipping fleet.png and fleet-rollout.png: they need root and openssh-server"
fi
say "done: $(cd "$out" && ls ./*.png | tr '\n' ' ')"
