#!/usr/bin/env bash
# Faults under load against a running `./lukseun up`: for each part of the system, loadgen
# runs (game calls through the gate, chat on the edge) while the part is killed with
# SIGKILL; the lukseun supervisor starts it again. Prints, per fault, what the players saw:
# sent / ok / errors by status / timed out (-2) / cut (the connection broke under the
# request: the client knows at once) / lost (no answer at all while the connection lived) /
# recovered: answers per second in the last 3 s of the run against the seconds before the
# fault.
#
#   scripts/fault-test.sh [seconds per fault] [fault ...]
#
# Faults: redis nats mariadb worker gate edge mail (SIGKILL), and worker-term gate-term
# (SIGTERM: a graceful stop under load must answer every request it accepted).
#
# Before the faults a player is created and a mail sent; afterwards both must still be
# there (acknowledged data survives every fault).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f var/cluster.env ] || { echo "start the system first: ./lukseun up" >&2; exit 2; }
set -a; . var/cluster.env; set +a
SECS=${1:-21}
shift || true
cargo build --release --locked -q -p loadgen -p cli
LOADGEN=target/release/loadgen
CLI=target/release/lukseun-cli
export LUKSEUN_SESSION=var/fault-test-session.json
rm -f "$LUKSEUN_SESSION"

# name -> pgrep -f pattern of the process to kill (the first match)
declare -A PATTERNS=(
  [redis]="redis-server 127.0.0.1:16379"
  [nats]="nats-server .*-a 127.0.0.1 -p 14222"
  [mariadb]="mariadbd --no-defaults.*--port=13306"
  [worker]="target/release/worker"
  [gate]="target/release/gate"
  [edge]="target/release/edge"
  [mail]="target/release/mail"
  [worker-term]="target/release/worker"
  [gate-term]="target/release/gate"
)
ORDER=(redis nats mariadb worker gate edge mail worker-term gate-term)
[ $# -gt 0 ] && ORDER=("$@")

# Acknowledged data written before the faults.
GN="fault_$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$CLI" login >/dev/null
"$CLI" call create_player "{\"gn\":\"$GN\",\"icon\":1}" >/dev/null
"$CLI" call send_mail "{\"gn_target\":\"$GN\",\"subj\":\"before the faults\",\"body\":\"still here?\"}" >/dev/null
DEVICE=$("$CLI" call account_all_info | sed -n 's/.*"unique_id": "\([^"]*\)".*/\1/p')

printf '%-8s %8s %8s %-22s %9s %5s %5s %10s %10s\n' fault sent ok "errors (status:n)" "timed out" cut lost "chat got" recovered
for fault in "${ORDER[@]}"; do
  out=$(mktemp)
  "$LOADGEN" --gate "$LUKSEUN_GATES" --edge "$LUKSEUN_EDGES" --connections 16 \
    --duration-secs "$SECS" --warmup-secs 0 --timeout-secs 15 --json \
    --mix "account_all_info:2,get_all_resource:2,get_info_player:2,get_new_mail:1" \
    --chat-senders 2 --chat-listeners 2 --chat-rate 5 >"$out" 2>/dev/null &
  lg=$!
  sleep $((SECS / 3))
  pattern=${PATTERNS[$fault]:?unknown fault $fault}
  pid=$(pgrep -f "$pattern" | head -1 || true)
  signal=-9
  [[ "$fault" == *-term ]] && signal=-TERM
  [ -n "$pid" ] && kill "$signal" "$pid"
  wait "$lg" || true
  python3 - "$fault" "$out" "$((SECS / 3))" <<'EOF'
import json, statistics, sys
fault, path, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
line = next((l for l in open(path) if l.startswith("{")), None)
if line is None:
    print(f"{fault:<8} loadgen produced no report: " + open(path).read().strip()[:200])
    sys.exit(0)
r = json.loads(line)
errors = " ".join(f"{k}:{v}" for k, v in sorted(r["errors"].items())) or "-"
chat = r.get("chat", {})
# Seconds 1..kill_at ran before the fault; the last full seconds after the restart.
seconds = r.get("per_second", [])
before = [n for n in seconds[1:kill_at] if n > 0]
after = seconds[-4:-1]
recovered = "-"
if before and after:
    recovered = f"{100 * statistics.median(after) / statistics.median(before):.0f} %"
print(f"{fault:<8} {r['requests']:>8} {r['ok']:>8} {errors:<22} {r['timed_out']:>9} {r['cut']:>5} {r['lost']:>5} {chat.get('ok', 0):>10} {recovered:>10}")
EOF
  rm -f "$out"
  # Let the restarted part come back before the next fault.
  sleep 3
done

echo
echo "after the faults:"
"$CLI" login >/dev/null
now=$("$CLI" call account_all_info | sed -n 's/.*"unique_id": "\([^"]*\)".*/\1/p')
[ "$now" = "$DEVICE" ] && echo "  account $DEVICE: still there" || echo "  account $DEVICE: MISSING"
"$CLI" call get_info_player | grep -q "\"$GN\"" && echo "  player $GN: still there" || echo "  player $GN: MISSING"
"$CLI" mail list | grep -q "before the faults" && echo "  mail sent before the faults: still there" ||
  echo "  mail sent before the faults: MISSING"
