#!/bin/sh
# Makes screenshots/fleet.png the way make.sh makes the others: the fleet
# console (`isinit-tui -H web1 -H web2 -H web3`) over real OpenSSH, three
# release daemons each behind its own sshd on its own loopback address,
# all in a temporary directory. web2 runs an edited isinittab (DRIFT);
# web3's daemon and sshd are stopped once the console has seen it (LOST).
#
# Needs root (sshd), openssh-server and what make.sh needs. Leaves nothing
# running: the console is quit, every sshd and daemon stopped by its pid,
# the temporary directory removed, also on failure.
#
#   sudo screenshots/fleet.sh    # writes screenshots/fleet.png
set -eu
cd "$(dirname "$0")/.."
out=$PWD/screenshots

say() { printf 'fleet.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (sshd)"
[ -x /usr/sbin/sshd ] || die "needs openssh-server"
for tool in tmux aha chromium ssh ssh-keygen; do
    command -v "$tool" >/dev/null 2>&1 || die "needs $tool (screenshots/make.sh installs the rest)"
done

cargo build --release --quiet --bin isinit --bin isinit-tui
bin=$PWD/target/release

dir=$(mktemp -d "${TMPDIR:-/tmp}/isinit-fleet.XXXXXX")
chmod 755 "$dir"
server=isinit-fleet-$$
tmux_socket=
pids=
leftovers=

tm() { tmux -L "$server" -f /dev/null "$@"; }

cleanup() {
    status=$?
    tm kill-server 2>/dev/null || true
    [ -z "$tmux_socket" ] || rm -f "$tmux_socket"
    for pid in $pids; do kill "$pid" 2>/dev/null || true; done
    for pid in $pids; do wait "$pid" 2>/dev/null || true; done
    for pgid in $leftovers; do kill -KILL -- "-$pgid" 2>/dev/null || true; done
    rm -rf "$dir"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$dir/id"
cp "$dir/id.pub" "$dir/authorized_keys"
: >"$dir/ssh_config"
base=$((40000 + $$ % 10000))

# web2 runs a file with one edited line: what drift catches.
sed 's/sleep 2; done/sleep 5; done/' examples/cluster.isinittab >"$dir/edited.isinittab"

for n in 1 2 3; do
    h=$dir/web$n
    mkdir -p "$h"
    tab=$PWD/examples/cluster.isinittab
    [ "$n" -ne 2 ] || tab=$dir/edited.isinittab
    ISINIT_CONFIG=$tab ISINIT_SOCKET=$h/init.s ISINIT_INITSTAT=$h/initstat ISINIT_LOGDIR=$h/logs \
        "$bin/isinit" daemon --respawn-pause 20 2>"$h/daemon.log" &
    pids="$pids $!"
    eval "daemon$n=$!"
    tries=0
    until ISINIT_SOCKET=$h/init.s "$bin/isinit" status >/dev/null 2>&1; do
        tries=$((tries + 1))
        [ "$tries" -lt 200 ] || die "daemon web$n did not start"
        sleep 0.05
    done
    for group in mail web db; do
        ISINIT_SOCKET=$h/init.s "$bin/isinit" tell "$group" run >/dev/null
    done
    [ "$n" -ne 3 ] || ISINIT_SOCKET=$h/init.s "$bin/isinit" tell batch run >/dev/null
    port=$((base + n))
    cat >"$h/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.$((n + 1))
HostKey $dir/host_key
PidFile none
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
SetEnv ISINIT_SOCKET=$h/init.s
EOF
    /usr/sbin/sshd -D -e -f "$h/sshd_config" 2>"$h/sshd.log" &
    pids="$pids $!"
    eval "sshd$n=$!"
    cat >>"$dir/ssh_config" <<EOF
Host web$n
  HostName 127.0.0.$((n + 1))
  Port $port
  User root
  IdentityFile $dir/id
  IdentitiesOnly yes
  UserKnownHostsFile /dev/null
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking no
  LogLevel ERROR
EOF
done

unset TMUX TMUX_PANE
tm start-server \; set-option -g status off \; set-option -g default-terminal tmux-256color \; \
    new-session -d -s shots -x 120 -y 36 \
    -e "ISINIT_SSH=ssh -F $dir/ssh_config -o BatchMode=yes" -e "ISINIT_REMOTE_BIN=$bin/isinit" \
    -- "$bin/isinit-tui" -H web1 -H web2 -H web3
tmux_socket=$(tm display-message -p -t shots '#{socket_path}')

. "$out/lib.sh"

wait_for "three hosts up" '3 up' '1 DRIFT' 'mail +run DONE +run DONE +run DONE'

# web3 goes away at once, as in a power cut: its daemon and sshd are
# killed. Its children run in process groups of their own; they are
# remembered first and killed (by group) once the shot is taken.
# shellcheck disable=SC2154 # set by eval above
leftovers=$(ISINIT_SOCKET=$dir/web3/init.s "$bin/isinit" status --json |
    sed -n 's/^ *"pid": \([0-9]*\),*$/\1/p' | grep -vx "$daemon3" || true)
kill -KILL "$daemon3" "$sshd3"
wait_for "web3 lost" '2 up' '1 LOST' '1 DRIFT'
keys Down
wait_for "web2 selected" '1 LOST'
shot fleet

for pgid in $leftovers; do kill -KILL -- "-$pgid" 2>/dev/null || true; done

keys q
tries=0
while tm has-session -t shots 2>/dev/null; do
    tries=$((tries + 1))
    [ "$tries" -lt 400 ] || die "the console did not quit"
    sleep 0.05
done
say "done: screenshots/fleet.png"
