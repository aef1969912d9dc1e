#!/usr/bin/env bash
# The ratio of issue 17: the unknown-function path (the whole request path, no game work)
# and `account_all_info` (token check and one MariaDB row), each with 1 and 64 connections,
# keep-alive and one request per connection (closed loop), and 64 keep-alive connections
# open loop at half the keep-alive maximum; per row requests/s, p50/p99 and CPU µs per
# request per process (scripts/bench-cpu.sh samples /proc), and requests/s and p99 against
# the Python original's. Needs a running `./lukseun up` (reads var/cluster.env).
#
#   scripts/bench-ratio.sh [seconds per row]          e.g. scripts/bench-ratio.sh 8
#
# The original's figures are fixed (ORIGINAL below), measured on the same machine: for the
# unknown function, issue 17's handler that does nothing (64 clients 4.0k/s, p99 28 ms);
# for account_all_info, docs/benchmarks.md (64 clients 3.0k/s, p99 35 ms); one sequential
# client 900/s for both.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f var/cluster.env ] || { echo "start the system first: ./lukseun up" >&2; exit 2; }
SECS=${1:-8}
cargo build --release --locked -q -p loadgen
rows=$(mktemp)
log=$(mktemp)
trap 'rm -f "$rows" "$log"' EXIT
row() {
  if ! BENCH_CPU_JSON=1 scripts/bench-cpu.sh "$@" >"$log.out" 2>"$log"; then
    echo "failed: scripts/bench-cpu.sh $*" >&2
    tail -5 "$log" >&2
    rm -f "$log.out"
    exit 1
  fi
  tail -1 "$log.out" >>"$rows"
  rm -f "$log.out"
  # A closed connection's port stays in TIME_WAIT; Linux reuses it for a new connection
  # to loopback only after a second, so give the next row's logins free ports.
  sleep 2
}
for mix in no_such_function account_all_info; do
  for conns in 1 64; do
    echo "== $mix, $conns connection(s), keep-alive" >&2
    row "$mix" 0 "$SECS" "$conns"
    echo "== $mix, $conns connection(s), one request per connection" >&2
    row "$mix" 0 "$SECS" "$conns" --one-request-per-connection
  done
  max=$(python3 -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
print(int(next(r for r in rows if r["mix"]==sys.argv[2] and r["connections"]=="64"
              and not r["options"])["report"]["rps"]))' "$rows" "$mix")
  echo "== $mix, 64 connections, keep-alive, open loop at half load ($((max / 2))/s)" >&2
  row "$mix" "$((max / 2))" "$SECS" 64
done
python3 - "$rows" <<'PY'
import json, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
# The Python original, keep-alive closed loop: mix -> connections -> (requests/s, p99 ms).
ORIGINAL = {
    "no_such_function": {"64": (4000, 28.0), "1": (900, None)},
    "account_all_info": {"64": (3000, 35.0), "1": (900, None)},
}
procs = ["gate", "worker", "nats-server", "redis-server", "mariadbd", "loadgen"]
head = (f"{'mix':<18}{'conns':>6} {'mode':<10}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'lost':>5}  " + "".join(f"{p.split('-')[0][:7]:>8}" for p in procs)
        + f"{'sum µs':>8}{'× orig':>8}{'p99 ÷':>7}{'load':>6}")
print(head)
for r in rows:
    rep = r["report"]
    mode = ("one/conn" if "--one-request-per-connection" in r["options"]
            else "keep" if r["rate"] == "0" else "half")
    cpu = "".join(f"{r['per_process'].get(p, {}).get('cpu_us', 0):>8.1f}" for p in procs)
    # Against the original's keep-alive closed-loop figures.
    times, p99_part = "", ""
    orig = ORIGINAL.get(r["mix"], {}).get(r["connections"]) if mode == "keep" else None
    if orig:
        times = f"{rep['rps'] / orig[0]:.1f}"
        if orig[1] and rep["latency_ms"]["p99"] > 0:
            p99_part = f"{orig[1] / rep['latency_ms']['p99']:.1f}"
    lost = rep["lost"] + rep["cut"]
    print(f"{r['mix']:<18}{r['connections']:>6} {mode:<10}{rep['rps']:>8.0f}"
          f"{rep['latency_ms']['p50']:>8.3f}{rep['latency_ms']['p99']:>8.3f}{lost:>5}  "
          f"{cpu}{r['cpu_us']:>8.1f}{times:>8}{p99_part:>7}{r['load']:>6.1f}")
# Status 10 is the answer the unknown-function rows ask for.
errors = {}
for r in rows:
    e = {s: n for s, n in r["report"]["errors"].items()
         if not (r["mix"] == "no_such_function" and s == "10")}
    if e:
        errors[f"{r['mix']} {r['connections']} {' '.join(r['options'])}"] = e
print("other statuses:", errors or "none")
print("CPU µs per request (utime+stime over the run, logins and warm-up included, / requests "
      "answered in the window); × orig: requests/s over the original's; p99 ÷: the "
      "original's p99 over ours.")
PY
