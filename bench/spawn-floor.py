"""The floor under metric C's start row on this machine: N `sleep 1000`
started back to back by one thread with posix_spawn (vfork + exec), no
supervisor, no cgroups, no output files, timed until every one of them
shows `sleep` in /proc (its exec done), as the peers harness counts a
service live. Three runs; every child is killed and reaped after each.

    python3 bench/spawn-floor.py 950
"""
import os, shutil, signal, sys, time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 950
sleep = shutil.which("sleep")
def live(pids):
    c = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if f.read().startswith(sleep.encode() + b"\0"):
                    c += 1
        except OSError:
            pass
    return c
for rep in range(3):
    t0 = time.perf_counter()
    pids = [os.posix_spawn(sleep, [sleep, "1000"], os.environ) for _ in range(n)]
    t1 = time.perf_counter()
    while live(pids) < n:
        time.sleep(0.005)
    t2 = time.perf_counter()
    print(f"spawned in {1000*(t1-t0):.0f} ms, all exec'd at {1000*(t2-t0):.0f} ms")
    for p in pids: os.kill(p, signal.SIGKILL)
    for p in pids: os.waitpid(p, 0)
    time.sleep(0.5)
