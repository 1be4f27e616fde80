#!/bin/sh
# Makes screenshots/fleet-rollout.png the way fleet.sh makes fleet.png: the
# fleet console over real OpenSSH at scale — 48 release daemons, web01 …
# web48, behind three sshds each listening on 16 loopback addresses
# (OpenSSH's limit), each address reaching its own daemon through `Match
# LocalAddress` and `SetEnv ISINIT_SOCKET=…` (as tests/src/ssh.rs does), all
# in a temporary
# directory — sorted trouble first, with a rolling switch of web to level 2
# in waves of 8 in progress: wave 1 rolled, wave 2 running host by host,
# web14 failed (its level 2 entry cannot stay up: backoff), so the rollout
# stops after that wave.
#
# Needs root (sshd), openssh-server and what make.sh needs. Leaves nothing
# running: the console is quit, the sshds and every daemon stopped by its
# pid, the temporary directory removed, also on failure.
#
#   sudo screenshots/fleet-rollout.sh    # writes screenshots/fleet-rollout.png
set -eu
cd "$(dirname "$0")/.."
out=$PWD/screenshots
hosts=48

say() { printf 'fleet-rollout.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (sshd)"
[ -x /usr/sbin/sshd ] || die "needs openssh-server"
for tool in tmux aha chromium ssh ssh-keygen; do
    command -v "$tool" >/dev/null 2>&1 || die "needs $tool (screenshots/make.sh installs the rest)"
done

cargo build --release --quiet --bin isinit --bin isinit-tui
bin=$PWD/target/release

dir=$(mktemp -d "${TMPDIR:-/tmp}/isinit-rollout.XXXXXX")
chmod 755 "$dir"
server=isinit-rollout-$$
tmux_socket=
pids=

tm() { tmux -L "$server" -f /dev/null "$@"; }

cleanup() {
    status=$?
    tm kill-server 2>/dev/null || true
    [ -z "$tmux_socket" ] || rm -f "$tmux_socket"
    # Daemons first (each stops its own children), then the sshds.
    for pid in $pids; do kill "$pid" 2>/dev/null || true; done
    for pid in $pids; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$dir"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# Every host: web at level 1 (front), level 2 adds a cache; db and mail
# run; a nightly report ran once. web14's cache exits at once: at level 2
# it goes into backoff, and the rollout's health gate fails it.
cat >"$dir/host.isinittab" <<'EOF'
web:front:1,2:respawn:exec sleep 100000
web:cache:2:respawn:exec sleep 100001
db:server:run:respawn:exec sleep 100002
mail:mta:run:respawn:exec sleep 100003
batch:report:run:once:true
EOF
sed 's/^web:cache:2:respawn:.*/web:cache:2:respawn:echo "cache: cannot bind :6379" >\&2; exit 1/' \
    "$dir/host.isinittab" >"$dir/broken.isinittab"

mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$dir/id"
cp "$dir/id.pub" "$dir/authorized_keys"
port=$((40000 + $$ % 10000))
cat >"$dir/sshd_head" <<EOF
Port $port
HostKey $dir/host_key
PidFile none
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
MaxStartups 512
UseDNS no
EOF
: >"$dir/ssh_config"

n=1
while [ "$n" -le "$hosts" ]; do
    name=web$(printf %02d "$n")
    h=$dir/$name
    mkdir -p "$h"
    tab=$dir/host.isinittab
    [ "$n" -ne 14 ] || tab=$dir/broken.isinittab
    ISINIT_CONFIG=$tab ISINIT_SOCKET=$h/init.s ISINIT_INITSTAT=$h/initstat ISINIT_LOGDIR=$h/logs \
        "$bin/isinit" daemon --respawn-pause 60 2>"$h/daemon.log" &
    pids="$pids $!"
    addr=127.0.0.$((n + 1))
    chunk=$(((n - 1) / 16))
    echo "ListenAddress $addr" >>"$dir/listen$chunk"
    printf 'Match LocalAddress %s\n  SetEnv ISINIT_SOCKET=%s\n' "$addr" "$h/init.s" >>"$dir/matches$chunk"
    cat >>"$dir/ssh_config" <<EOF
Host $name
  HostName $addr
  Port $port
  User root
  IdentityFile $dir/id
  IdentitiesOnly yes
  UserKnownHostsFile /dev/null
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking no
  LogLevel ERROR
EOF
    n=$((n + 1))
done

n=1
while [ "$n" -le "$hosts" ]; do
    h=$dir/web$(printf %02d "$n")
    tries=0
    until ISINIT_SOCKET=$h/init.s "$bin/isinit" status >/dev/null 2>&1; do
        tries=$((tries + 1))
        [ "$tries" -lt 400 ] || die "daemon $h did not start"
        sleep 0.05
    done
    for group in web:1 db:run mail:run batch:run; do
        ISINIT_SOCKET=$h/init.s "$bin/isinit" tell "${group%%:*}" "${group#*:}" >/dev/null
    done
    n=$((n + 1))
done

# One sshd per 16 addresses, all on the same port.
for listen in "$dir"/listen*; do
    chunk=${listen#"$dir/listen"}
    cat "$dir/sshd_head" "$listen" "$dir/matches$chunk" >"$dir/sshd_config$chunk"
    /usr/sbin/sshd -D -e -f "$dir/sshd_config$chunk" 2>"$dir/sshd$chunk.log" &
    pids="$pids $!"
done

unset TMUX TMUX_PANE
tm start-server \; set-option -g status off \; set-option -g default-terminal tmux-256color \; \
    new-session -d -s shots -x 150 -y 46 \
    -e "ISINIT_SSH=ssh -F $dir/ssh_config -o BatchMode=yes" -e "ISINIT_REMOTE_BIN=$bin/isinit" \
    -- "$bin/isinit-tui" -H "web[01-$hosts]" -f 8 --connect-timeout 20
tmux_socket=$(tm display-message -p -t shots '#{socket_path}')

. "$out/lib.sh"

# 48 ssh handshakes on a busy 2-core box: 8 at a time (-f 8), each allowed
# 20 s, so that no host is reported lost for the box's own slowness.
wait_for "every host up" "$hosts up" " Hosts $hosts "
keys s
wait_for "trouble first" 'sort: trouble first'
keys :
tm send-keys -t shots -l 'roll web 2 8'
keys Enter
wait_for "the form, filled in" 'Rolling switch' '‹ web ›' '‹ 2 ›'
keys Enter
wait_for "wave 2 running, web14 failed" \
    'wave 1/6 web\[01-08\]: ok' 'wave 2/6 web\[09-16\]' '✕ web14' '… web1[0-6] up, settling' 'running'
shot fleet-rollout

keys S
wait_for "the rollout stopped" 'not told web\[17-48\] \(32\)'
keys q
tries=0
while tm has-session -t shots 2>/dev/null; do
    tries=$((tries + 1))
    [ "$tries" -lt 400 ] || die "the console did not quit"
    sleep 0.05
done
say "done: screenshots/fleet-rollout.png"
