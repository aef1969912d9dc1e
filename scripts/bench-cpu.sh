#!/usr/bin/env bash
# CPU time and voluntary context switches per request, per process, on the request path
# (gate, worker, nats-server, redis-server, mariadbd, and the load generator itself), for
# a fixed-rate load against a running `./lukseun up` (reads var/cluster.env). CPU per
# request barely moves with the machine's other load, so this is the figure to compare
# A/B (docs/perf.md).
#
#   scripts/bench-cpu.sh [mix] [rate] [seconds] [connections] [loadgen option ...]
#   scripts/bench-cpu.sh no_such_function 4000 8 64     # the bare path: unknown function
#   scripts/bench-cpu.sh no_such_function 0 8 64 --one-request-per-connection
#
# Prints one line per process: CPU µs / request and voluntary context switches / request,
# then the sum, then loadgen's own summary (requests/s, p50, p99, statuses), and how much of
# the machine was idle or stolen by its host meanwhile (a virtual machine's wake-ups from
# idle count as steal: docs/perf.md "The host's share"). With
# BENCH_CPU_JSON=1 it prints all of that as one JSON line instead (scripts/bench-ratio.sh).
# LOADGEN=<path> runs another loadgen binary (an A/B of the client itself).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f var/cluster.env ] || { echo "start the system first: ./lukseun up" >&2; exit 2; }
MIX=${1:-no_such_function}
RATE=${2:-2000}
SECS=${3:-8}
CONNS=${4:-64}
shift $(($# < 4 ? $# : 4))
cargo build --release --locked -q -p loadgen
exec python3 - "$MIX" "$RATE" "$SECS" "$CONNS" "$@" <<'PY'
import json, os, subprocess, sys

mix, rate, secs, conns = sys.argv[1:5]
extra = sys.argv[5:]
as_json = os.environ.get("BENCH_CPU_JSON") == "1"
sys.path.insert(0, "scripts")
from stack import cluster_env, cpu_seconds, machine_shares, machine_ticks, processes  # noqa: E402

env = cluster_env()


def sample(pid):
    """(CPU seconds, voluntary context switches over all threads)."""
    cpu = cpu_seconds(pid)
    switches = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        for line in open(f"/proc/{pid}/task/{task}/status"):
            if line.startswith("voluntary_ctxt_switches"):
                switches += int(line.split()[1])
    return cpu, switches


procs = processes(env, ("gate", "worker"))
missing = [n for n in ("gate", "worker", "nats-server", "redis-server", "mariadbd") if n not in procs]
if missing:
    sys.exit(f"not running (or not this checkout's): {', '.join(missing)}")
before = {n: [sample(p) for p in pids] for n, pids in procs.items()}
machine_before = machine_ticks()
cmd = [os.environ.get("LOADGEN", "target/release/loadgen"), "--gate", env["LUKSEUN_GATES"], "--mix", mix,
       "--duration-secs", secs, "--connections", conns, "--json", "--label", "cpu"]
if rate != "0":
    cmd += ["--rate", rate]
cmd += extra
child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE)
out = child.stdout.read()
_, status, usage = os.wait4(child.pid, 0)
after = {n: [sample(p) for p in pids] for n, pids in procs.items()}
idle, steal = machine_shares(machine_before, machine_ticks())
report = json.loads(out.decode().strip().splitlines()[-1])
# CPU counts loadgen's logins and warm-up too, requests only its measured window: the
# absolute figures are a little high (docs/perf.md); A/B comparisons are unaffected.
requests = max(1, report["requests"])
per_process = {}
for name in sorted(procs):
    cpu = sum(a[0] - b[0] for a, b in zip(after[name], before[name]))
    cs = sum(a[1] - b[1] for a, b in zip(after[name], before[name]))
    per_process[name] = (cpu / requests * 1e6, cs / requests)
per_process["loadgen"] = ((usage.ru_utime + usage.ru_stime) / requests * 1e6,
                          usage.ru_nvcsw / requests)
total = sum(cpu for cpu, _ in per_process.values())
load = os.getloadavg()[0]
if as_json:
    print(json.dumps({"mix": mix, "rate": rate, "seconds": secs, "connections": conns,
                      "options": extra, "report": report, "load": load, "cpu_us": total,
                      "machine_idle_pct": idle, "machine_steal_pct": steal,
                      "per_process": {n: {"cpu_us": c, "vol_cs": v}
                                      for n, (c, v) in per_process.items()}}))
    sys.exit(0)
print(f"mix {mix}, {conns} connections, rate {rate}/s, {secs} s{' ' + ' '.join(extra) if extra else ''}: "
      f"{requests} requests answered in the window, {report['rps']:.0f}/s, "
      f"p50 {report['latency_ms']['p50']} ms, p99 {report['latency_ms']['p99']} ms, "
      f"errors {report['errors']}, lost {report['lost']}")
print(f"{'process':<14}{'CPU µs/req':>12}{'vol cs/req':>12}")
for name, (cpu, cs) in per_process.items():
    print(f"{name:<14}{cpu:>12.1f}{cs:>12.2f}")
print(f"{'sum':<14}{total:>12.1f}")
print(f"load average {load:.1f}; the machine {idle:.0f} % idle, {steal:.0f} % stolen by its host")
PY
