#!/usr/bin/env bash
# The load model of docs/scaling.md: what one player costs each service and each dependency,
# read from counters, not guessed. Against a running `./lukseun up` (var/cluster.env), the
# load generator logs PLAYERS players in, then plays the `play` mix (the original's player
# simulator: a function picked uniformly from its list about every 2.5 s a player, so
# PLAYERS x 0.4 requests/s in open loop) for SECONDS. Counters are read before the log-ins,
# when the play starts and when it ends:
#   - every service's /metrics (gate requests, worker calls, auth and mail requests, edge),
#   - Redis INFO commandstats (calls per command), MariaDB SHOW GLOBAL STATUS (statements,
#     rows, commits, log fsyncs), nats-server /varz (messages and bytes in and out),
#   - the mail store's files, and CPU time per process from /proc.
# CPU is net of the stack's idle CPU (measured first, LOAD_MODEL_IDLE_SECS, default 10).
# It prints per request, per player-minute and per log-in, and (LOAD_MODEL_JSON=1) one JSON
# line with all of it.
#
#   scripts/load-model.sh [players] [seconds] [rate-per-player] [loadgen option ...]
#   scripts/load-model.sh 400 60          # 400 players at the simulator's pace, 60 s
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f var/cluster.env ] || { echo "start the system first: ./lukseun up" >&2; exit 2; }
PLAYERS=${1:-400}
SECS=${2:-60}
PACE=${3:-0.4}
shift $(($# < 3 ? $# : 3))
cargo build --release --locked -q -p loadgen
exec python3 - "$PLAYERS" "$SECS" "$PACE" "$@" <<'PY'
import json, os, re, subprocess, sys, threading, time, urllib.request

players, secs, pace = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
extra = sys.argv[4:]
sys.path.insert(0, "scripts")
from stack import cluster_env, cpu_seconds, processes  # noqa: E402

env = cluster_env()
root = os.getcwd()
OURS = ("gate", "worker", "auth", "edge", "mail", "config")


def cpu(pids):
    return sum(cpu_seconds(p) for p in pids)


def metrics(port):
    """Sum of each series name (labels summed) on an admin port."""
    out = {}
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return out
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name_labels, _, value = line.rpartition(" ")
        name = name_labels.split("{", 1)[0]
        try:
            out[name] = out.get(name, 0.0) + float(value)
        except ValueError:
            pass
    return out


def redis_stats():
    url = env["LUKSEUN_REDIS_URL"]
    text = subprocess.run(["redis-cli", "-u", url, "--no-auth-warning", "INFO", "commandstats"],
                          capture_output=True, text=True, check=True).stdout
    calls = {}
    for m in re.finditer(r"cmdstat_([a-z|_]+):calls=(\d+)", text):
        calls[m.group(1)] = int(m.group(2))
    return calls


def mariadb_stats():
    text = subprocess.run(["mariadb", "--no-defaults", "-uroot", f"--socket={root}/var/mysql/mysqld.sock",
                           "-N", "-e", "SHOW GLOBAL STATUS"], capture_output=True, text=True, check=True).stdout
    keep = ("Questions", "Com_select", "Com_insert", "Com_update", "Com_delete", "Com_replace",
            "Com_commit", "Com_begin", "Innodb_data_fsyncs", "Innodb_log_writes", "Innodb_rows_read",
            "Innodb_rows_inserted", "Innodb_rows_updated", "Innodb_rows_deleted",
            "Bytes_received", "Bytes_sent")
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition("\t")
        if k in keep:
            out[k] = int(v)
    return out


def nats_stats():
    url = env.get("LUKSEUN_NATS_MONITOR_URL")
    if not url:
        return {}
    v = json.load(urllib.request.urlopen(f"{url}/varz", timeout=5))
    return {k: v[k] for k in ("in_msgs", "out_msgs", "in_bytes", "out_bytes")}


def mail_files():
    n = 0
    for _, dirs, files in os.walk("var/mail"):
        n += len(files)
    return n


def admin_ports():
    ports = {"auth": [9101], "config": [9102], "mail": [9103], "gate": [], "worker": [], "edge": []}
    # `./lukseun up --replicas N`: replica i of gate, worker, edge at 9110+i, 9120+i,
    # 9130+i; mail replica i > 0 at 9140+i (the first keeps 9103).
    for i in range(10):
        for name, base in (("gate", 9110), ("worker", 9120), ("edge", 9130), ("mail", 9140)):
            if name == "mail" and i == 0:
                continue
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{base + i}/healthz", timeout=1)
                ports[name].append(base + i)
            except OSError:
                pass
    return ports


PORTS = admin_ports()


def snapshot():
    procs = processes(env, OURS)
    snap = {"cpu": {name: cpu(pids) for name, pids in procs.items()}, "redis": redis_stats(),
            "mariadb": mariadb_stats(), "nats": nats_stats(), "mail_files": mail_files(),
            "metrics": {}, "t": time.time()}
    snap["replicas"] = {}
    for service, ports in PORTS.items():
        total = {}
        for p in ports:
            m = metrics(p)
            snap["replicas"][f"{service}@{p}"] = m.get("gate_requests_total", m.get("worker_function_calls_total", 0.0))
            for k, v in m.items():
                total[k] = total.get(k, 0.0) + v
        snap["metrics"][service] = total
    return snap, procs


def diff(a, b):
    if isinstance(a, dict):
        return {k: diff(a.get(k, 0), b[k]) for k in b}
    return b - a


cmd = [f"{root}/target/release/loadgen", "--gate", env["LUKSEUN_GATES"], "--connections", str(players),
       "--rate", str(players * pace), "--duration-secs", str(secs), "--warmup-secs", "0",
       "--mix", "play", "--json", "--timeout-secs", "15", *extra]
# The stack's own background CPU (timers, probes, refreshes) over IDLE s with no load,
# subtracted from the play's CPU so the per-request figures are the requests' own.
IDLE = float(os.environ.get("LOAD_MODEL_IDLE_SECS", "10"))
idle_a, _ = snapshot()
time.sleep(IDLE)
idle_b, _ = snapshot()
idle_rate = {k: v / (idle_b["t"] - idle_a["t"]) for k, v in diff(idle_a["cpu"], idle_b["cpu"]).items()}
before, _ = snapshot()
lg = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
err = bytearray()
started = threading.Event()


def read_err():
    while True:
        b = lg.stderr.read(1)
        if not b:
            break
        err.extend(b)
        if b"load starts" in err[-200:]:
            started.set()


threading.Thread(target=read_err, daemon=True).start()
while not started.is_set() and lg.poll() is None:
    time.sleep(0.05)
start, procs = snapshot()
start["cpu"]["loadgen"] = cpu([str(lg.pid)])
out = lg.stdout.read().decode()
lg.wait()
end, _ = snapshot()
end["cpu"]["loadgen"] = start["cpu"]["loadgen"]  # loadgen has exited: not counted
report = json.loads(out.strip().splitlines()[-1])
login, play = diff(before, start), diff(start, end)
requests = play["metrics"]["gate"].get("gate_requests_total", 0) or 1
minutes = players * play["t"] / 60
rows = []


def row(what, value):
    rows.append((what, value, value / requests, value / minutes))


for name, v in sorted(play["cpu"].items()):
    if name != "loadgen":
        row(f"cpu_us.{name}", max(0.0, v - idle_rate.get(name, 0.0) * play["t"]) * 1e6)
row("cpu_us.all", sum(max(0.0, v - idle_rate.get(k, 0.0) * play["t"]) for k, v in play["cpu"].items()
                      if k != "loadgen") * 1e6)
for k, v in sorted(play["redis"].items()):
    if v:
        row(f"redis.{k}", v)
for k, v in sorted(play["mariadb"].items()):
    row(f"mariadb.{k}", v)
for k, v in sorted(play["nats"].items()):
    row(f"nats.{k}", v)
row("mail.files", play["mail_files"])
for svc, keys in (("gate", ["gate_requests_total", "gate_timeouts_total"]),
                  ("worker", ["worker_function_calls_total"]),
                  ("auth", ["auth_requests_total"]), ("mail", ["mail_requests_total", "mail_delivered_total"]),
                  ("config", ["config_requests_total"])):
    for k in keys:
        if k in play["metrics"].get(svc, {}):
            row(f"{svc}.{k}", play["metrics"][svc][k])
logins = {k: v / players for k, v in (("cpu_us_total", sum(login["cpu"].values()) * 1e6),
                                       ("redis_calls", sum(login["redis"].values())),
                                       ("mariadb_questions", login["mariadb"].get("Questions", 0)),
                                       ("mariadb_fsyncs", login["mariadb"].get("Innodb_data_fsyncs", 0)),
                                       ("nats_in_msgs", login["nats"].get("in_msgs", 0)))}
if os.environ.get("LOAD_MODEL_JSON") == "1":
    print(json.dumps({"players": players, "seconds": play["t"], "requests": requests, "loadgen": report,
                      "replicas": play["replicas"], "rows": [{"what": w, "total": t, "per_request": r, "per_player_minute": m}
                               for w, t, r, m in rows], "per_login": logins}))
else:
    print(f"{players} players, {play['t']:.1f} s of play, {requests:.0f} requests "
          f"({requests / play['t']:.0f}/s, {requests / minutes:.1f} a player-minute); "
          f"loadgen: p50 {report['latency_ms']['p50']} ms, p99 {report['latency_ms']['p99']} ms, "
          f"ok {report['ok']}, other statuses {report['errors']}, lost {report['lost']}")
    print(f"{'counter':44} {'total':>12} {'per request':>12} {'per player-min':>15}")
    for w, t, r, m in rows:
        print(f"{w:44} {t:12.0f} {r:12.3f} {m:15.3f}")
    spread = {k: v for k, v in play["replicas"].items() if k.startswith(("gate@", "worker@"))}
    print("requests per gate and calls per worker replica: " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(spread.items())))
    print("per log-in (login_unique of a new guest, enter_world, create_player): " +
          ", ".join(f"{k} {v:.1f}" for k, v in logins.items()))
PY
