"""What the benchmark scripts (bench-cpu.sh, load-model.sh) read of a running `./lukseun up`:
its settings (var/cluster.env) and its processes by name, from /proc."""
import os

TICK = os.sysconf("SC_CLK_TCK")


def cluster_env():
    """The environment with var/cluster.env's settings on top."""
    env = dict(os.environ)
    for line in open("var/cluster.env"):
        key, _, value = line.strip().partition("=")
        if key:
            env[key] = value
    return env


def processes(env, services):
    """This checkout's `services` binaries and the stack's servers: name -> pids."""
    root = os.getcwd()
    nats_port = env["LUKSEUN_NATS_URL"].rsplit(":", 1)[1]
    redis_port = env["LUKSEUN_REDIS_URL"].rstrip("/").rsplit(":", 1)[1]
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
            name = open(f"/proc/{pid}/comm").read().strip()
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # redis-server rewrites its command line to `<ip>:<port>`.
        ours = (
            (name in services and exe.startswith(root))
            or (name == "nats-server" and f"-p {nats_port}" in cmd)
            or (name == "redis-server" and cmd.strip().endswith(f":{redis_port}"))
            or (name == "mariadbd" and f"{root}/var" in cmd)
        )
        if ours:
            found.setdefault(name, []).append(pid)
    return found


def cpu_seconds(pid):
    """User + system CPU seconds of a process (all its threads); 0 once it is gone."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_ticks():
    """The whole machine's CPU ticks from /proc/stat: (idle, steal, total). On a virtual
    machine `steal` is time a virtual CPU wanted to run and the host ran something else,
    waking an idle one included: latency no process here can remove."""
    fields = [int(f) for f in open("/proc/stat").readline().split()[1:]]
    idle, steal = fields[3], fields[7] if len(fields) > 7 else 0
    return idle, steal, sum(fields[:8])


def machine_shares(before, after):
    """(idle %, steal %) of the machine between two machine_ticks() readings."""
    total = max(1, after[2] - before[2])
    return (100.0 * (after[0] - before[0]) / total, 100.0 * (after[1] - before[1]) / total)
