#!/usr/bin/python3
"""Failover drill for the database tier: a writer commits numbered rows through
the writer VIP while faults are injected; prints recovery times and the number
of acknowledged rows missing afterwards (must be 0).

Scenarios per round: hard kill of the primary's host (docker kill), kill of the
VIP holder, the VIP holder cut from the primary only (vip_cut: the VIP must move
to a holder whose HAProxy sees the primary), planned switchover through
matrixha.stack.patroni_cluster.

In-flight scenarios (issue 19): `inflight_vip_holder`, `inflight_primary`,
`inflight_pgbouncer` each hold `SELECT pg_sleep(60)` open through VIP:6432
(PgBouncer, Synapse's path) and through VIP:5432 (HAProxy straight to the
primary), with the libpq keepalives Synapse gets, then lose (a) the VIP holder,
(b) the primary, (c) the PgBouncer node that serves the 6432 query and is
neither. Printed: when each query ended (result or error) after the fault and
after the VIP moved, the bound (10 s after the VIP moved), whether the query
still runs on the primary, and PgBouncer `SHOW SERVERS` 60 s later with the
server connections opened before the fault whose path went through the lost
host (stuck ones: must be none).
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
    log(f"hard kill: {args.fault} {victim} (the primary{', also the etcd leader' if etcd_leader == victim else ''})"
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
    log(f"VIP kill: {args.fault} {holder} (VIP holder{', also the primary' if was_leader else ''})")
    moved = wait(lambda: lab.vip_holder(), args.timeout, 0.1)
    vip_move = time.monotonic() - t0 if moved else None
    back = wait(lambda: writer.first_ack_after(t_dead), args.timeout, 0.05)
    recovery = (back - t0) if back else None
    log(f"VIP kill: VIP on {moved} after {fmt(vip_move)} s; writes succeed again after {fmt(recovery)} s")
    lab.start(holder)
    wait(lambda: healthy(lab, len(lab.hosts)) and member_role(lab, holder) is not None, args.timeout, 0.5)
    return {"victim": holder, "victim_was_leader": was_leader, "vip_move_s": vip_move,
            "recovery_s": recovery, "new_holder": moved, "others": others}


def netns(lab, host, *rule):
    pid = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", lab.container(host)],
                         capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["nsenter", "-t", pid, "-n", "iptables", "-w", *rule], check=True, capture_output=True)


def scenario_vip_cut(args, lab, writer, proxy_only=False):
    """The VIP holder loses only its path to the primary (packets to PostgreSQL and the
    Patroni API dropped) while everything else still reaches both: the VIP must move to
    a holder that sees the primary, and writes resume within the VIP move time (issue 11)."""
    separate_primary_from_vip(args, lab)
    holder, primary = lab.vip_holder(), lab.leader()
    # The cut also stops the holder's own replication: when it is the synchronous standby,
    # commits wait until Patroni names another one (up to loop_wait), whichever VIP serves.
    holder_sync = member_role(lab, holder) == "sync_standby"
    # vip_cut_proxy: only HAProxy's packets (replication goes on), which shows the VIP's
    # own part of the recovery without the sync-standby switch.
    # The container's uid, not this machine's user of that name (nsenter -n keeps our users).
    uid = subprocess.run(["docker", "exec", lab.container(holder), "id", "-u", "haproxy"],
                         capture_output=True, text=True, check=True).stdout.strip() if proxy_only else ""
    owner = ["-m", "owner", "--uid-owner", uid] if proxy_only else []
    rule = ["OUTPUT", "-d", lab.address(primary), "-p", "tcp", "-m", "multiport",
            "--dports", "5432,8008", *owner, "-j", "DROP"]
    time.sleep(args.settle)
    netns(lab, holder, "-I", *rule)
    t0 = time.monotonic()   # the rule is in place: rows sent from now on cross the cut
    log(f"VIP cut: {holder} (VIP holder{', the sync standby' if holder_sync else ''}) no longer reaches "
        f"{primary}'s PostgreSQL and API{' (its HAProxy only)' if proxy_only else ''}")
    try:
        moved = wait(lambda: (lambda h: h if h and h != holder else None)(lab.vip_holder()), args.timeout, 0.1)
        vip_move = time.monotonic() - t0 if moved else None
        back = wait(lambda: writer.first_ack_after(t0), args.timeout, 0.05)
        recovery = (back - t0) if back else None
        window = writer.max_gap(writer.last_ack_before(t0) or t0, time.monotonic())
        time.sleep(args.cut_seconds)
    finally:
        netns(lab, holder, "-D", *rule)
    # Healed: with nopreempt the VIP stays where it went (no flap back).
    time.sleep(5)
    after = lab.vip_holder()
    log(f"VIP cut: VIP on {moved} after {fmt(vip_move)} s; writes succeed again after {fmt(recovery)} s "
        f"(longest gap between commits {fmt(window)} s); {args.cut_seconds:.0f} s later healed, VIP on {after}")
    return {"victim": holder, "cut": "haproxy only" if proxy_only else "all packets",
            "victim_was_sync_standby": holder_sync, "primary": primary, "vip_move_s": vip_move,
            "recovery_s": recovery, "window_s": window,
            "new_holder": moved, "holder_after_heal": after, "stayed": after == moved}


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


# --- In-flight queries (issue 19) --------------------------------------------------------

BOUND_S = 10.0   # an in-flight query ends within this many seconds after the VIP moved


class Inflight(threading.Thread):
    """One long query held open through a path; records when and how it ended."""

    def __init__(self, args, port, app, seconds):
        super().__init__(daemon=True)
        self.args, self.port, self.app, self.seconds = args, port, app, seconds
        self.started = threading.Event()
        self.ended_at = None
        self.outcome = None
        self.conn = None

    def open(self):
        # libpq settings as generated for Synapse (mdad-vars: keepalives idle/interval/count;
        # the lab homeserver gets the same numbers) plus its TCP user timeout.
        a = self.args
        self.conn = psycopg2.connect(
            host=a.vip, port=self.port, dbname=a.dbname, user=a.user, password=a.password,
            connect_timeout=3, application_name=self.app, keepalives=1,
            keepalives_idle=a.ka_idle, keepalives_interval=a.ka_interval, keepalives_count=a.ka_count,
            tcp_user_timeout=a.tcp_user_timeout_ms)
        self.conn.autocommit = True

    def run(self):
        try:
            with self.conn.cursor() as cur:
                self.started.set()
                cur.execute("SELECT pg_sleep(%s)", (self.seconds,))
            self.outcome = "result"
        except Exception as e:  # the error class tells how it ended; its text may quote nothing secret
            self.outcome = f"error: {type(e).__name__}: {str(e).strip().splitlines()[0][:120] if str(e).strip() else ''}"
        self.ended_at = time.monotonic()
        try:
            self.conn.close()
        except Exception:
            pass


def admin(args, host, lab):
    c = psycopg2.connect(host=lab.address(host), port=6432, dbname="pgbouncer", user=args.pgb_admin_user,
                         password=args.pgb_admin_password, connect_timeout=2)
    c.autocommit = True
    return c


def show(args, lab, host, what):
    """SHOW <what> on a PgBouncer's admin console as a list of dicts (None if it does not answer)."""
    # Not `with conn`: psycopg2 opens a transaction there, and the console knows no BEGIN.
    try:
        c = admin(args, host, lab)
    except Exception:
        return None
    try:
        with c.cursor() as cur:
            cur.execute(f"SHOW {what}")
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, row)) for row in cur.fetchall()]
    except Exception:
        return None
    finally:
        c.close()


def warm(args, lab, host):
    try:
        c = psycopg2.connect(host=lab.address(host), port=6432, dbname=args.dbname, user=args.user,
                             password=args.password, connect_timeout=3)
        # Autocommit: a client that leaves inside a transaction makes PgBouncer close the
        # server connection instead of pooling it.
        c.autocommit = True
        try:
            with c.cursor() as cur:
                cur.execute("SELECT 1")
        finally:
            c.close()
    except Exception as e:
        raise SystemExit(f"drill: PgBouncer on {host} does not serve a session: {type(e).__name__}")


def serving_pgbouncer(args, lab, app):
    for h in args.pgbouncers:
        for row in show(args, lab, h, "CLIENTS") or []:
            if row.get("application_name") == app:
                return h
    return None


def still_running_on_primary(args):
    """Backends on the (new) primary still sleeping: PgBouncer does not pass application_name
    on, so the query text identifies them (nothing else in the lab runs pg_sleep)."""
    try:
        with db(args) as c, c.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(%%' "
                        "AND state = 'active' AND pid <> pg_backend_pid()")
            return cur.fetchone()[0]
    except Exception:
        return None


def separate_primary_from_vip(args, lab):
    """Make the primary a host that does not hold the VIP (a switchover through the module
    when they coincide), so losing one is not also losing the other."""
    holder, primary = lab.vip_holder(), lab.leader()
    if holder != primary:
        return
    c = lab.cluster() or {}
    others = [m for m in c.get("members", []) if m.get("name") != holder and m.get("role") != "leader"]
    others.sort(key=lambda m: m.get("role") != "sync_standby")
    if not others:
        raise SystemExit("drill: no replica to switch over to")
    module_switchover(args, lab, others[0]["name"])
    if not wait(lambda: lab.leader() == others[0]["name"] and healthy(lab, len(lab.hosts)), args.timeout, 0.5):
        raise SystemExit(f"drill: the switchover to {others[0]['name']} did not settle")
    log(f"inflight: primary moved to {others[0]['name']}, the VIP stays on {holder}")


def scenario_inflight(args, lab, writer, target):
    separate_primary_from_vip(args, lab)
    holder, primary = lab.vip_holder(), lab.leader()
    if not holder or not primary:
        raise SystemExit(f"drill: no VIP holder ({holder}) or no primary ({primary}) before {target}")
    tag = f"matrixha-inflight-{int(time.time())}"
    # The 6432 query must run through the victim in case (c): open connections until one
    # lands on a PgBouncer that is neither the VIP holder nor the primary (leastconn: a
    # few tries), keeping the others open so leastconn moves on.
    spare, q6432, serving = [], None, None
    for i in range(8):
        q = Inflight(args, 6432, f"{tag}-6432-{i}", args.inflight_seconds)
        q.open()
        serving = wait(lambda: serving_pgbouncer(args, lab, q.app), 5, 0.2)
        if target != "pgbouncer" or serving not in (holder, primary, None):
            q6432 = q
            break
        spare.append(q)
    if q6432 is None:
        raise SystemExit(f"drill: no query through VIP:6432 reached a PgBouncer other than {holder}/{primary}")
    q5432 = Inflight(args, 5432, f"{tag}-5432", args.inflight_seconds)
    q5432.open()
    victim = {"vip_holder": holder, "primary": primary, "pgbouncer": serving}[target]
    for q in (q6432, q5432):
        q.start()
        q.started.wait(5)
    time.sleep(args.settle)
    # Every other PgBouncer gets an idle server connection (a session through it directly,
    # then back to its pool), so the check 60 s later has something to find: when the VIP
    # holder or the primary is lost, each such connection crossed the lost host.
    for h in args.pgbouncers:
        if h != victim:
            warm(args, lab, h)
    before = {h: show(args, lab, h, "SERVERS") or [] for h in args.pgbouncers if h != victim}
    crossed_before = sum(len(v) for v in before.values()) if target in ("vip_holder", "primary") else 0
    t0 = time.monotonic()
    lab.kill(victim)
    log(f"inflight {target}: {args.fault} {victim} (VIP holder {holder}, primary {primary}, "
        f"6432 query on PgBouncer {serving})")
    moved_to = None
    t_moved = t0
    if victim == holder:
        moved_to = wait(lambda: lab.vip_holder(), args.timeout, 0.1)
        t_moved = time.monotonic()
    # Which queries crossed the victim: all, but for a PgBouncer-only node the 5432 query
    # (HAProxy straight to the primary) does not, and must go on untouched.
    crossing = {"6432": q6432, "5432": q5432} if target != "pgbouncer" else {"6432": q6432}
    ends = {}
    for name, q in crossing.items():
        q.join(args.inflight_seconds + 30)
        ends[name] = None if q.ended_at is None else q.ended_at - t0
    untouched = None
    if target == "pgbouncer":
        untouched = q5432.is_alive()
        log(f"inflight {target}: query via VIP:5432 (its path does not cross {victim}) "
            f"{'still running, as it should' if untouched else 'ended: ' + str(q5432.outcome)}")
        try:
            q5432.conn.cancel()
        except Exception:
            pass
        q5432.join(10)
    for q in spare:
        try:
            q.conn.close()
        except Exception:
            pass
    vip_move = (t_moved - t0) if moved_to else None
    after_move = {k: (None if v is None else v - (t_moved - t0)) for k, v in ends.items()}
    for name, q in crossing.items():
        log(f"inflight {target}: query via VIP:{name} ended {fmt(ends[name])} s after the fault"
            f"{'' if vip_move is None else f' ({fmt(after_move[name])} s after the VIP moved)'}: {q.outcome}")
    # 60 s later: what PgBouncer still holds, and whether the primary still runs the sleeps.
    rest = max(0.0, 60.0 - (time.monotonic() - t0))
    log(f"inflight {target}: SHOW SERVERS in {rest:.0f} s")
    time.sleep(rest)
    crossed = target in ("vip_holder", "primary")   # every pre-fault server connection crossed the victim
    servers, stuck = {}, []
    for h in args.pgbouncers:
        if h == victim:
            continue
        rows = show(args, lab, h, "SERVERS")
        servers[h] = [{k: str(r.get(k)) for k in ("state", "addr", "port", "connect_time", "request_time", "ptr")}
                      for r in (rows or [])]
        # ptr is a memory address PgBouncer may reuse: a connection is the same one only
        # with the same connect_time too.
        old = {(r.get("ptr"), str(r.get("connect_time"))) for r in before.get(h, [])}
        if rows is None:
            stuck.append(f"{h}: the admin console did not answer")
        elif crossed:
            stuck += [f"{h}:{r.get('addr')}:{r.get('port')} since {r.get('connect_time')}" for r in (rows or [])
                      if (r.get("ptr"), str(r.get("connect_time"))) in old]
        log(f"inflight {target}: {h} SHOW SERVERS: " + (
            "no answer" if rows is None else
            (", ".join(f"{r['state']} {r['addr']}:{r['port']} since {r['connect_time']}" for r in servers[h])
             or "no server connections")))
    running = still_running_on_primary(args)
    log(f"inflight {target}: of {crossed_before} server connections on the lost path before the fault, "
        f"{len(stuck)} are still held (stuck); "
        f"{running} of the drill's sleeps still running on the primary")
    lab.start(victim)
    wait(lambda: healthy(lab, len(lab.hosts)) and member_role(lab, victim) is not None, args.timeout, 0.5)
    ok = (all(v is not None and v <= BOUND_S for v in after_move.values()) and not stuck and running == 0
          and untouched is not False)
    return {"target": target, "victim": victim, "vip_holder": holder, "primary": primary,
            "pgbouncer": serving, "vip_move_s": vip_move, "end_after_fault_s": ends,
            "end_after_vip_move_s": after_move, "outcomes": {k: q.outcome for k, q in crossing.items()},
            "bound_s": BOUND_S, "untouched_5432": untouched, "crossed_server_connections": crossed_before,
            "stuck_server_connections": stuck, "sleeps_running_on_primary": running,
            "servers_60s": servers, "within_bound": ok}


SCENARIOS = {
    "hard_kill": scenario_hard_kill, "vip_kill": scenario_vip_kill, "vip_cut": scenario_vip_cut,
    "vip_cut_proxy": lambda a, l, w: scenario_vip_cut(a, l, w, proxy_only=True),
    "switchover": scenario_switchover,
    "inflight_vip_holder": lambda a, l, w: scenario_inflight(a, l, w, "vip_holder"),
    "inflight_primary": lambda a, l, w: scenario_inflight(a, l, w, "primary"),
    "inflight_pgbouncer": lambda a, l, w: scenario_inflight(a, l, w, "pgbouncer"),
}


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
    ap.add_argument("--pgbouncers", default=env("MATRIXHA_DRILL_PGBOUNCERS", ""),
                    help="PgBouncer hosts (default: --hosts)")
    ap.add_argument("--pgb-admin-user", default=env("MATRIXHA_DRILL_PGB_ADMIN_USER", "pgbouncer_admin"))
    # Client keepalives for the in-flight queries: the numbers Synapse gets (matrixha_tcp_*).
    ap.add_argument("--ka-idle", type=int, default=int(env("MATRIXHA_DRILL_KA_IDLE", "5")))
    ap.add_argument("--ka-interval", type=int, default=int(env("MATRIXHA_DRILL_KA_INTERVAL", "1")))
    ap.add_argument("--ka-count", type=int, default=int(env("MATRIXHA_DRILL_KA_COUNT", "3")))
    ap.add_argument("--tcp-user-timeout-ms", type=int, default=int(env("MATRIXHA_DRILL_TCP_USER_TIMEOUT_MS", "8000")))
    # Longer than the 60 s after which SHOW SERVERS and pg_stat_activity are read, so a
    # sleep still running then was not cancelled.
    ap.add_argument("--inflight-seconds", type=int, default=150, help="pg_sleep of the in-flight queries")
    ap.add_argument("--cut-seconds", type=float, default=20.0, help="how long vip_cut keeps the path cut")
    ap.add_argument("--interval", type=float, default=0.01, help="seconds between commits")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds of steady writes before a fault")
    ap.add_argument("--timeout", type=float, default=120.0, help="bound on every wait")
    args = ap.parse_args()
    args.hosts = args.hosts.split(",")
    args.vip_holders = args.vip_holders.split(",")
    args.addresses = args.addresses.split(",") if args.addresses else []
    args.pgbouncers = args.pgbouncers.split(",") if args.pgbouncers else list(args.hosts)
    args.pgb_admin_password = env("MATRIXHA_DRILL_PGB_ADMIN_PASSWORD")
    args.password = env("MATRIXHA_DRILL_DB_PASSWORD")
    args.api_password = env("MATRIXHA_DRILL_API_PASSWORD")
    if not args.password or not args.api_password:
        raise SystemExit("drill: set MATRIXHA_DRILL_DB_PASSWORD (the Synapse role's) and "
                         "MATRIXHA_DRILL_API_PASSWORD (patroni_restapi_password)")
    scenarios = args.scenarios.split(",")
    if any(x.startswith("inflight_") for x in scenarios) and not args.pgb_admin_password:
        raise SystemExit("drill: the inflight scenarios read PgBouncer's admin console: set "
                         "MATRIXHA_DRILL_PGB_ADMIN_PASSWORD (pgbouncer_admin_password)")
    unknown = [x for x in scenarios if x not in SCENARIOS]
    if unknown:
        raise SystemExit(f"drill: unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")
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
            r = SCENARIOS[s](args, lab, writer)
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
                   ("vip_cut", "vip_move_s"), ("vip_cut", "recovery_s"), ("vip_cut", "window_s"),
                   ("vip_cut_proxy", "vip_move_s"), ("vip_cut_proxy", "recovery_s"),
                   ("vip_cut_proxy", "window_s"),
                   ("switchover", "window_s")):
        vals = [r[key] for r in results.get(s, []) if r.get(key) is not None]
        if s in results and results[s]:
            print(f"{s:13s} {key:12s} n={len(vals)} p50={fmt(pct(vals, 50))} s p95={fmt(pct(vals, 95))} s "
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
    for s in [x for x in scenarios if x.startswith("inflight_")]:
        for r in results[s]:
            e, m = r["end_after_fault_s"], r["end_after_vip_move_s"]
            ends = ", ".join(f"{k} {fmt(v)} s" for k, v in e.items())
            moved = ", ".join(f"{k} {fmt(v)} s" for k, v in m.items())
            extra = "" if r["untouched_5432"] is None else f"; 5432 untouched: {r['untouched_5432']}"
            print(f"{s:20s} fault={args.fault} victim={r['victim']} query end after fault: {ends}; "
                  f"after VIP move: {moved} (bound {BOUND_S:.0f} s){extra}; "
                  f"server connections on the lost path {r['crossed_server_connections']}, stuck 60 s later "
                  f"{len(r['stuck_server_connections'])}; "
                  f"sleeps left on primary {r['sleeps_running_on_primary']}; "
                  f"{'within bound' if r['within_bound'] else 'NOT within bound'}")
    print(f"acknowledged rows missing: {lost_total}")
    failed = (lost_total > 0
              or any(not r["within_bound"] for x in scenarios if x.startswith("inflight_") for r in results[x])
              or any(r.get("recovery_s") is None for rs in results.values() for r in rs if "recovery_s" in r)
              or any(r["rejoined_role"] not in ("replica", "sync_standby") for r in results.get("hard_kill", []))
              or any(not r["stayed"] for x in ("vip_cut", "vip_cut_proxy") for r in results.get(x, [])))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
