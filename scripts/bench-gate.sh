#!/usr/bin/env bash
# Gate round trip through the whole stack (gate, NATS, worker, Redis, MariaDB): requests/s
# and latency percentiles with 1 and 64 connections, then 64 connections at half the
# measured maximum (open loop). Needs a running `./lukseun up` (reads var/cluster.env).
#
#   scripts/bench-gate.sh [mix] [seconds]      e.g. scripts/bench-gate.sh get_all_resource 10
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f var/cluster.env ] || { echo "start the system first: ./lukseun up" >&2; exit 2; }
set -a; . var/cluster.env; set +a
MIX=${1:-account_all_info}
SECS=${2:-10}
cargo build --release --locked -q -p loadgen
LOADGEN=target/release/loadgen
run() { "$LOADGEN" --gate "$LUKSEUN_GATES" --mix "$MIX" --duration-secs "$SECS" --json "$@"; }

echo "== 1 connection, closed loop ($MIX)"
run --connections 1 --label one | tee /tmp/bench-one.txt
echo "== 64 connections, closed loop ($MIX)"
run --connections 64 --label max | tee /tmp/bench-max.txt
MAX=$(sed -n 's/.*"rps":\([0-9.]*\).*/\1/p' /tmp/bench-max.txt | head -1)
HALF=$(python3 -c "print(int(float('$MAX') / 2))")
echo "== 64 connections, open loop at half load ($HALF req/s)"
run --connections 64 --rate "$HALF" --label half
