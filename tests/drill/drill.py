#!/usr/bin/python3
"""Failover drill for the database tier: a writer commits numbered rows through
the writer VIP while faults are injected; prints recovery times and the number
of acknowledged rows missing afterwards (must be 0).

Scenarios per round: hard kill of the primary's host (docker kill), kill of the
VIP holder, planned switchover through matrixha.stack.patroni_cluster.
Runs on the machine that runs the lab's containers; talks only to the lab's
own addresses. Every wait is bounded.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

import psycopg2


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Lab:
    """The containers and how to hurt them (`docker kill` = power loss)."""

    def __init__(self, args):
        self.hosts = args.hosts
        self.holders = args.vip_holders
        self.addr = dict(zip(self.hosts, args.addresses)) if args.addresses else {}
        self.prefix = args.container_prefix
        self.vip = args.vip
        self.kill_cmd = args.kill_cmd
        self.start_cmd = args.start_cmd
        self.fault = args.fault

    def container(self, host):
        return self.prefix + host

    def address(self, host):
        if host not in self.addr:
            out = subprocess.run(
                ["docker", "inspect", "-f",
                 "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", self.container(host)],
                capture_output=True, text=True, check=True).stdout.split()
            ours = [a for a in out if a.startswith(self.vip.rsplit(".", 1)[0] + ".")]
            self.addr[host] = ours[0] if ours else out[0]
        return self.addr[host]

    def kill(self, host):
        if not self.kill_cmd and self.fault == "power-cut":
            # As lab/lab.py power_cut: drop every packet in the host's network
            # namespace first, so its peers get no FIN/RST (issue 19), then kill.
            pid = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", self.container(host)],
                                 capture_output=True, text=True, check=True).stdout.strip()
            for tool in ("iptables", "ip6tables"):
                for chain in ("INPUT", "OUTPUT", "FORWARD"):
                    subprocess.run(["nsenter", "-t", pid, "-n", tool, "-w", "-I", chain, "1", "-j", "DROP"],
                                   check=True, capture_output=True)
        cmd = (shlex.split(self.kill_cmd) + [host]) if self.kill_cmd else ["docker", "kill", self.container(host)]
        subprocess.run(cmd, check=True, capture_output=True)

    def start(self, host):
        cmd = (shlex.split(self.start_cmd) + [host]) if self.start_cmd else ["docker", "start", self.container(host)]
        subprocess.run(cmd, check=True, capture_output=True)

    def running(self, host):
        r = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", self.container(host)],
                           capture_output=True, text=True)
        return r.stdout.strip() == "true"

    def vip_holder(self):
        for h in self.holders:
            if not self.running(h):
                continue
            r = subprocess.run(["docker", "exec", self.container(h), "ip", "-4", "-o", "addr", "show"],
                               capture_output=True, text=True)
            if f" {self.vip}/" in r.stdout:
                return h
        return None

    def cluster(self):
        """/cluster from the first member that answers."""
        for h in self.hosts:
            try:
                with urllib.request.urlopen(f"http://{self.address(h)}:8008/cluster", timeout=1) as r:
                    return json.load(r)
            except Exception:
                continue
        return None

    def etcd_leader(self):
        """Host whose etcd member leads the Raft group (its death also resets etcd lease TTLs)."""
        ids = {}
        leader = None
        for h in self.hosts:
            try:
                req = urllib.request.Request(f"http://{self.address(h)}:2379/v3/maintenance/status", data=b"{}",
                                             method="POST")
                with urllib.request.urlopen(req, timeout=1) as r:
                    st = json.load(r)
                ids[st["header"]["member_id"]] = h
                leader = st.get("leader")
            except Exception:
                continue
        return ids.get(leader)

    def leader(self):
        c = self.cluster() or {}
        for m in c.get("members", []):
            if m.get("role") in ("leader", "master", "primary"):
                return m["name"]
        return None


class Writer(threading.Thread):
    """Commits INSERT (run, id) through the VIP one row at a time; an id is
    'acknowledged' only when COMMIT returned (synchronous replication: the
    sync standby has it)."""

    def __init__(self, args, run_id):
        super().__init__(daemon=True)
        self.args = args
        self.run_id = run_id
        self.acked = []          # (id, monotonic time of COMMIT's answer)
        self.sent = {}           # id -> monotonic time the INSERT was sent
        self.errors = 0
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()

    def connect(self):
        c = psycopg2.connect(
            host=self.args.vip, port=self.args.port, dbname=self.args.dbname, user=self.args.user,
            password=self.args.password, connect_timeout=1, application_name="matrixha-drill",
            # A dead server must not hang the writer: the kernel gives up on
            # unacknowledged data after 2 s (libpq tcp_user_timeout, PG >= 12).
            keepalives=1, keepalives_idle=1, keepalives_interval=1, keepalives_count=2,
            tcp_user_timeout=2000)
        c.autocommit = False
        return c

    def run(self):
        conn = None
        seq = 0
        while not self.stop_flag.is_set():
            try:
                if conn is None:
                    conn = self.connect()
                seq += 1
                self.sent[seq] = time.monotonic()
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO drill_rows (run, id) VALUES (%s, %s)", (self.run_id, seq))
                conn.commit()
                with self.lock:
                    self.acked.append((seq, time.monotonic()))
                time.sleep(self.args.interval)
            except Exception:
                self.errors += 1
                try:
                    if conn is not None:
                        conn.close()
                except Exception:
                    pass
                conn = None
                time.sleep(0.05)
        if conn is not None:
            conn.close()

    def first_ack_after(self, t):
        """First acknowledgement of a row sent after t (a commit in flight at t says nothing)."""
        with self.lock:
            for i, at in self.acked:
                if self.sent.get(i, 0) > t:
                    return at
        return None

    def last_ack_before(self, t):
        with self.lock:
            prev = None
            for _, at in self.acked:
                if at > t:
                    break
                prev = at
        return prev

    def max_gap(self, t0, t1):
        with self.lock:
            times = [at for _, at in self.acked if t0 <= at <= t1]
        if len(times) < 2:
            return None
        return max(b - a for a, b in zip(times, times[1:]))

    def ids(self):
        with self.lock:
            return [i for i, _ in self.acked]


def wait(cond, timeout, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return None


def healthy(lab, n):
    """A leader plus n-1 replicas streaming, one of them synchronous."""
    c = lab.cluster()
    if not c:
        return False
    ms = c.get("members", [])
    leaders = [m for m in ms if m.get("role") in ("leader", "master", "primary") and m.get("state") == "running"]
    streaming = [m for m in ms if m.get("role") not in ("leader", "master", "primary")
                 and m.get("state") in ("streaming", "running") and isinstance(m.get("lag"), int)]
    sync = [m for m in ms if m.get("role") == "sync_standby"]
    return len(leaders) == 1 and len(streaming) == n - 1 and len(sync) >= 1


def member_role(lab, name):
    c = lab.cluster() or {}
    for m in c.get("members", []):
        if m.get("name") == name and m.get("state") in ("running", "streaming"):
            return m.get("role")
    return None


def db(args):
    c = psycopg2.connect(host=args.vip, port=args.port, dbname=args.dbname, user=args.user,
                         password=args.password, connect_timeout=3)
    c.autocommit = True
    return c


def missing_rows(args, writer):
    """Acknowledged ids not in the table now (read through the VIP, i.e. from the primary)."""
    def fetch():
        try:
            with db(args) as c, c.cursor() as cur:
                cur.execute("SELECT id FROM drill_rows WHERE run = %s", (writer.run_id,))
                return {r[0] for r in cur.fetchall()}
        except Exception:
            return None
    present = wait(fetch, 30, 0.5)
    if present is None:
        raise SystemExit("drill: could not read drill_rows through the VIP for 30 s")
    acked = writer.ids()
    return len([i for i in acked if i not in present]), len(acked)


def module_switchover(args, lab, candidate):
    """Planned switchover through matrixha.stack.patroni_cluster (run by ansible on this machine)."""
    leader = lab.leader()
    mod_args = {"action": "switchover", "api_url": f"http://{lab.address(leader)}:8008",
                "api_username": args.api_user, "api_password": args.api_password,
                "leader": leader, "candidate": candidate, "timeout": 60}
    cmd = [args.ansible, "localhost", "-c", "local", "-o", "-m", "matrixha.stack.patroni_cluster",
           "-a", json.dumps(mod_args)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise SystemExit(f"drill: switchover through the module failed:\n{r.stdout}\n{r.stderr}")
    out = r.stdout
    try:
        res = json.loads(out[out.index("{"):])
    except ValueError:
        res = {}
    return leader, res


def scenario_hard_kill(args, lab, writer):
    victim = lab.leader()
    if not victim:
        raise SystemExit("drill: no leader before the hard kill")
    time.sleep(args.settle)
    etcd_leader = lab.etcd_leader()
    t0 = time.monotonic()
    lab.kill(victim)
    t_dead = time.monotonic()
    log(f"hard kill: docker kill {victim} (the primary{', also the etcd leader' if etcd_leader == victim else ''})"
        f" took {t_dead - t0:.2f} s")
    back = wait(lambda: writer.first_ack_after(t_dead), args.timeout, 0.05)
    recovery = (back - t0) if back else None
    new_leader = wait(lambda: (lambda l: l if l and l != victim else None)(lab.leader()), args.timeout)
    log(f"hard kill: writes succeed again after {fmt(recovery)} s; new leader {new_leader}")
    t1 = time.monotonic()
    lab.start(victim)
    rejoined = wait(lambda: healthy(lab, len(lab.hosts)) and member_role(lab, victim) in ("replica", "sync_standby"),
                    args.timeout, 0.5)
    rejoin = time.monotonic() - t1 if rejoined else None
    role = member_role(lab, victim)
    log(f"hard kill: {victim} is back as {role} after {fmt(rejoin)} s")
    return {"victim": victim, "victim_was_etcd_leader": etcd_leader == victim, "recovery_s": recovery, "rejoin_s": rejoin, "rejoined_role": role,
            "new_leader": new_leader}


def scenario_vip_kill(args, lab, writer):
    holder = lab.vip_holder()
    if not holder:
        raise SystemExit(f"drill: no host holds {args.vip}")
    was_leader = holder == lab.leader()
    others = [h for h in lab.holders if h != holder]
    time.sleep(args.settle)
    t0 = time.monotonic()
    lab.kill(holder)
    t_dead = time.monotonic()
    log(f"VIP kill: docker kill {holder} (VIP holder{', also the primary' if was_leader else ''})")
    moved = wait(lambda: lab.vip_holder(), args.timeout, 0.1)
    vip_move = time.monotonic() - t0 if moved else None
    back = wait(lambda: writer.first_ack_after(t_dead), args.timeout, 0.05)
    recovery = (back - t0) if back else None
    log(f"VIP kill: VIP on {moved} after {fmt(vip_move)} s; writes succeed again after {fmt(recovery)} s")
    lab.start(holder)
    wait(lambda: healthy(lab, len(lab.hosts)) and member_role(lab, holder) is not None, args.timeout, 0.5)
    return {"victim": holder, "victim_was_leader": was_leader, "vip_move_s": vip_move,
            "recovery_s": recovery, "new_holder": moved, "others": others}


def scenario_switchover(args, lab, writer):
    c = lab.cluster() or {}
    sync = [m["name"] for m in c.get("members", []) if m.get("role") == "sync_standby"]
    candidate = sync[0] if sync else None
    time.sleep(args.settle)
    t0 = time.monotonic()
    leader, res = module_switchover(args, lab, candidate)
    t1 = time.monotonic()
    time.sleep(2)
    wait(lambda: writer.first_ack_after(t1), 30, 0.05)
    window = writer.max_gap(writer.last_ack_before(t0) or t0, time.monotonic())
    log(f"switchover: {leader} -> {res.get('candidate', candidate)} through the module "
        f"(module elapsed {res.get('elapsed')} s); write-unavailability window {fmt(window)} s")
    wait(lambda: healthy(lab, len(lab.hosts)), args.timeout, 0.5)
    return {"from": leader, "to": res.get("candidate", candidate), "window_s": window,
            "module_elapsed_s": res.get("elapsed")}


def fmt(v):
    return "n/a" if v is None else f"{v:.2f}"


def pct(values, p):
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    k = max(0, min(len(v) - 1, round(p / 100 * (len(v) - 1) + 0.4999)))
    return v[int(k)]


def main():
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=int(env("MATRIXHA_DRILL_ROUNDS", "1")))
    ap.add_argument("--scenarios", default=env("MATRIXHA_DRILL_SCENARIOS", "hard_kill,vip_kill,switchover"))
    ap.add_argument("--hosts", default=env("MATRIXHA_DRILL_HOSTS", "patroni1,patroni2,patroni3"))
    ap.add_argument("--vip-holders", default=env("MATRIXHA_DRILL_VIP_HOLDERS", "patroni1,patroni2"))
    ap.add_argument("--addresses", default=env("MATRIXHA_DRILL_ADDRESSES", ""),
                    help="node addresses in --hosts order (default: docker inspect)")
    ap.add_argument("--container-prefix", default=env("MATRIXHA_DRILL_CONTAINER_PREFIX", ""))
    ap.add_argument("--kill-cmd", default=env("MATRIXHA_DRILL_KILL_CMD", ""),
                    help="command + host that hard-kills a host (default: docker kill)")
    ap.add_argument("--start-cmd", default=env("MATRIXHA_DRILL_START_CMD", ""))
    ap.add_argument("--fault", choices=("kill", "power-cut"), default=env("MATRIXHA_DRILL_FAULT", "kill"),
                    help="how host scenarios lose a host: docker kill (peers get RST) or power-cut "
                         "(packets dropped first, peers hear nothing; issue 19)")
    ap.add_argument("--vip", default=env("MATRIXHA_DRILL_VIP", "10.0.3.10"))
    ap.add_argument("--port", type=int, default=5432)
    ap.add_argument("--dbname", default=env("MATRIXHA_DRILL_DB", "synapse"))
    ap.add_argument("--user", default=env("MATRIXHA_DRILL_USER", "synapse"))
    ap.add_argument("--api-user", default=env("MATRIXHA_DRILL_API_USER", "patroni"))
    ap.add_argument("--ansible", default=env("MATRIXHA_DRILL_ANSIBLE", "ansible"))
    ap.add_argument("--interval", type=float, default=0.01, help="seconds between commits")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds of steady writes before a fault")
    ap.add_argument("--timeout", type=float, default=120.0, help="bound on every wait")
    args = ap.parse_args()
    args.hosts = args.hosts.split(",")
    args.vip_holders = args.vip_holders.split(",")
    args.addresses = args.addresses.split(",") if args.addresses else []
    args.password = env("MATRIXHA_DRILL_DB_PASSWORD")
    args.api_password = env("MATRIXHA_DRILL_API_PASSWORD")
    if not args.password or not args.api_password:
        raise SystemExit("drill: set MATRIXHA_DRILL_DB_PASSWORD (the Synapse role's) and "
                         "MATRIXHA_DRILL_API_PASSWORD (patroni_restapi_password)")
    scenarios = args.scenarios.split(",")
    lab = Lab(args)

    if not wait(lambda: healthy(lab, len(lab.hosts)), 60, 0.5):
        raise SystemExit(f"drill: the cluster is not healthy (leader + {len(lab.hosts) - 1} streaming "
                         f"replicas + a sync standby): {json.dumps(lab.cluster())}. "
                         "Fix: converge playbooks/db.yml (make lab, or molecule converge -s db)")
    with db(args) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS drill_rows (run bigint, id bigint, "
                    "at timestamptz DEFAULT clock_timestamp(), PRIMARY KEY (run, id))")

    results = {s: [] for s in scenarios}
    lost_total = 0
    for rnd in range(1, args.rounds + 1):
        for s in scenarios:
            run_id = int(time.time() * 1000)
            writer = Writer(args, run_id)
            writer.start()
            if not wait(lambda: writer.ids(), 15, 0.05):
                raise SystemExit("drill: the writer cannot commit through the VIP")
            r = {"hard_kill": scenario_hard_kill, "vip_kill": scenario_vip_kill,
                 "switchover": scenario_switchover}[s](args, lab, writer)
            time.sleep(1)
            writer.stop_flag.set()
            writer.join(10)
            missing, acked = missing_rows(args, writer)
            lost_total += missing
            r.update({"round": rnd, "acked_rows": acked, "missing_acked_rows": missing})
            log(f"round {rnd} {s}: {acked} rows acknowledged, {missing} missing")
            results[s].append(r)
            print("DRILL " + json.dumps({"scenario": s, "fault": args.fault, **r}), flush=True)

    print("\n== drill summary ==")
    for s, key in (("hard_kill", "recovery_s"), ("vip_kill", "vip_move_s"), ("vip_kill", "recovery_s"),
                   ("switchover", "window_s")):
        vals = [r[key] for r in results.get(s, []) if r.get(key) is not None]
        if s in results and results[s]:
            print(f"{s:10s} {key:12s} n={len(vals)} p50={fmt(pct(vals, 50))} s p95={fmt(pct(vals, 95))} s "
                  f"max={fmt(max(vals) if vals else None)} s  values={[round(v, 2) for v in vals]}")
    for flag in (True, False):
        vals = [r["recovery_s"] for r in results.get("hard_kill", [])
                if r.get("victim_was_etcd_leader") == flag and r.get("recovery_s") is not None]
        if vals:
            print(f"hard_kill  recovery_s   victim {'was' if flag else 'was not'} the etcd leader: n={len(vals)} "
                  f"p50={fmt(pct(vals, 50))} s max={fmt(max(vals))} s")
    rejoined = [r for r in results.get("hard_kill", [])]
    if rejoined:
        print(f"hard_kill  old primary back as replica: {sum(1 for r in rejoined if r['rejoined_role'] in ('replica', 'sync_standby'))}/{len(rejoined)}")
    print(f"acknowledged rows missing: {lost_total}")
    failed = (lost_total > 0
              or any(r.get("recovery_s") is None for rs in results.values() for r in rs if "recovery_s" in r)
              or any(r["rejoined_role"] not in ("replica", "sync_standby") for r in results.get("hard_kill", [])))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
