#!/usr/bin/env python3
"""The matrixha lab: systemd containers on Docker networks, as an inventory names them.

Called by scripts/lab.sh (which first makes sure dockerd, the venv and the image exist)
and by the fault-injection playbooks. Only the standard library and the docker CLI.

  lab.py up [--limit PATTERN] [--no-site] [--no-recheck]
  lab.py down
  lab.py status
  lab.py health [--limit PATTERN]
  lab.py fault ACTION HOST [ARG]     (see FAULTS below)

HOST in `fault` is an inventory host of the lab (patroni1), or with --container a
container name (a Molecule instance); ARG is a service unit or a network name.
"""

import argparse
import ipaddress
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("MATRIXHA_LAB_STATE", ROOT / ".lab"))
VENV_BIN = ROOT / ".venv" / "bin"
INVENTORY = Path(os.environ.get("MATRIXHA_LAB_INVENTORY", ROOT / "inventories" / "lab"))
SITE = ROOT / "playbooks" / "site.yml"

# DESIGN.md section 4: what a systemd container needs on these machines (--privileged
# fails here: a capability it asks for is missing).
CONTAINER_FLAGS = [
    "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN",
    "--security-opt", "seccomp=unconfined", "--cgroupns=host",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs", "/run", "--tmpfs", "/run/lock",
]
BOOT_TIMEOUT_S = 90


class LabError(Exception):
    """A failure with a message for the operator (printed without a traceback)."""


def run(argv, check=True, capture=True, timeout=600):
    """Runs a command; returns stdout. Raises LabError naming the command on failure."""
    proc = subprocess.run(argv, capture_output=capture, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout or "").strip() if capture else ""
        raise LabError(f"`{' '.join(argv)}` failed ({proc.returncode}): {detail}")
    return proc.stdout if capture else ""


def docker(*args, check=True):
    return run(["docker", *args], check=check)


def exists(kind, name):
    return subprocess.run(["docker", kind, "inspect", name], capture_output=True,
                          check=False).returncode == 0


def log(msg):
    print(f"lab: {msg}", flush=True)


def inventory_prefix():
    """lab_prefix of the inventory (MATRIXHA_LAB_PREFIX, when set, saves reading it)."""
    if os.environ.get("MATRIXHA_LAB_PREFIX"):
        return os.environ["MATRIXHA_LAB_PREFIX"]
    argv = [str(VENV_BIN / "ansible-inventory"), "-i", str(INVENTORY), "--list"]
    hostvars = json.loads(run(argv)).get("_meta", {}).get("hostvars", {})
    return next(iter(hostvars.values()), {}).get("lab_prefix", "mxlab")


# --- The inventory ---------------------------------------------------------------------

class Lab:
    """The lab as the inventory describes it: hosts, addresses, networks."""

    def __init__(self, limit=None):
        argv = [str(VENV_BIN / "ansible-inventory"), "-i", str(INVENTORY), "--list"]
        hostvars = json.loads(run(argv)).get("_meta", {}).get("hostvars", {})
        selected = set(hostvars)
        if limit:
            limited = json.loads(run([*argv, "--limit", limit]))
            selected = set(limited.get("_meta", {}).get("hostvars", {}))
        if not selected:
            raise LabError(f"no host in {INVENTORY} matches --limit {limit!r}")
        some = next(iter(hostvars.values()))
        self.prefix = some.get("lab_prefix", "mxlab")
        if not self.prefix.startswith("mx"):
            # The host routes only between bridges named mx* (scripts/docker-up.sh).
            raise LabError(f"lab_prefix {self.prefix!r} must start with 'mx'")
        self.image = some.get("lab_image", "matrixha/lab-debian12:latest")
        self.networks = {name: ipaddress.ip_network(net)
                         for name, net in some.get("lab_networks", {}).items()}
        # all_hosts: every inventory host (each resolves all of them by name);
        # hosts: the ones this command acts on (--limit).
        self.all_hosts = {}
        for host, hv in sorted(hostvars.items()):
            addresses = hv.get("lab_addresses") or [hv.get("matrixha_node_address")]
            if not all(addresses):
                raise LabError(f"{host}: set matrixha_node_address (or lab_addresses) "
                               f"in {INVENTORY}")
            self.all_hosts[host] = [(self.network_of(host, a), a) for a in addresses]
        self.hosts = {h: a for h, a in self.all_hosts.items() if h in selected}
        # Namespaced kernel settings fixed at creation (/proc/sys is read-only inside).
        self.sysctls = {h: hostvars[h].get("lab_sysctls") or {} for h in self.hosts}

    def network_of(self, host, address):
        ip = ipaddress.ip_address(address)
        for name, net in self.networks.items():
            if ip in net:
                return name
        raise LabError(f"{host}: address {address} is in none of lab_networks "
                       f"({', '.join(map(str, self.networks.values()))}); add its subnet")

    def container(self, host):
        return f"{self.prefix}-{host}"

    def docker_network(self, name):
        return f"{self.prefix}-{name}"

    @property
    def egress(self):
        return f"{self.prefix}-egress"


# --- Building and removing the lab -------------------------------------------------------

def ensure_network(lab, name):
    full = lab.docker_network(name)
    if exists("network", full):
        return
    net = lab.networks[name]
    # Bridge named mx*: the host routes between mx* bridges only (scripts/docker-up.sh).
    docker("network", "create", "--internal", "--subnet", str(net),
           "--gateway", str(next(net.hosts())),
           "-o", f"com.docker.network.bridge.name={full[:15]}",
           "--label", f"matrixha.lab={lab.prefix}", full)


def ensure_egress(lab):
    if not exists("network", lab.egress):
        # Not internal: Docker NATs it to the outside. Attached only while installing.
        docker("network", "create", "--label", f"matrixha.lab={lab.prefix}", lab.egress)


def remove_egress(lab):
    if not exists("network", lab.egress):
        return
    info = json.loads(docker("network", "inspect", lab.egress))[0]
    for cont in (info.get("Containers") or {}).values():
        docker("network", "disconnect", lab.egress, cont["Name"], check=False)
    docker("network", "rm", lab.egress)


def create_host(lab, host):
    name = lab.container(host)
    if exists("container", name):
        if docker("inspect", "-f", "{{.State.Status}}", name).strip() == "exited":
            docker("start", name)
        return False
    (first_net, first_ip), *more = lab.hosts[host]
    # Every lab host resolves every other by inventory name (Docker's DNS only knows the
    # containers sharing a network), in the seeds' /etc/hosts form "IP NAME.internal
    # NAME". That form also survives network changes: when a container leaves a network
    # Docker deletes from its /etc/hosts every line ending in "<TAB>NAME" for the names
    # it knew on that network (seen with Docker 20.10), which "NAME.internal NAME" lines
    # do not (a space, not a tab, precedes the last name).
    add_hosts = [f"--add-host={h}.internal {h}:{addrs[0][1]}"
                 for h, addrs in lab.all_hosts.items()]
    sysctls = [f"--sysctl={k}={v}" for k, v in sorted(lab.sysctls[host].items())]
    docker("run", "-d", "--name", name, "--hostname", host,
           "--label", f"matrixha.lab={lab.prefix}",
           "--network", lab.docker_network(first_net), "--ip", first_ip,
           *CONTAINER_FLAGS, *sysctls, *add_hosts, lab.image)
    for net, ip in more:
        docker("network", "connect", "--ip", ip, lab.docker_network(net), name)
    return True


def wait_booted(containers, timeout=BOOT_TIMEOUT_S):
    """Waits until systemd in each container finished booting (running or degraded)."""
    deadline = time.monotonic() + timeout
    pending = list(containers)
    while pending:
        for name in list(pending):
            state = docker("exec", name, "systemctl", "is-system-running",
                           check=False).strip()
            if state in ("running", "degraded"):
                pending.remove(name)
        if not pending:
            return
        if time.monotonic() > deadline:
            raise LabError(f"systemd did not finish booting in {timeout} s on "
                           f"{', '.join(pending)}; see `docker exec NAME systemctl --failed`")
        time.sleep(0.5)


def run_site(lab, limit, label):
    """Runs playbooks/site.yml against the lab; returns the number of changed tasks."""
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", str(INVENTORY), str(SITE)]
    if limit:
        argv += ["--limit", limit]
    log(f"{label}: {' '.join(argv[1:])}")
    logfile = STATE / f"site-{label.replace(' ', '-')}.log"
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", PATH=f"{VENV_BIN}:{os.environ['PATH']}")
    # One fork per host (16 in the seed lab): the docker connection spends its time waiting on
    # `docker exec`, not on CPU; pipelining saves a round trip per task.
    env.setdefault("ANSIBLE_FORKS", str(max(5, len(lab.hosts))))
    env.setdefault("ANSIBLE_PIPELINING", "True")
    with open(logfile, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env, cwd=ROOT)
        changed, recap = 0, False
        for line in proc.stdout:
            out.write(line)
            sys.stdout.write(line)
            if line.startswith("PLAY RECAP"):
                recap = True
            m = re.search(r"\bchanged=(\d+)", line) if recap else None
            if m:
                changed += int(m.group(1))
        if proc.wait() != 0:
            raise LabError(f"{label} of playbooks/site.yml failed; log: {logfile}")
    return changed


def cmd_up(args):
    t0 = time.monotonic()
    lab = Lab(args.limit)
    names = [lab.container(h) for h in lab.hosts]
    log(f"{len(names)} hosts: {', '.join(lab.hosts)}")
    for net in sorted({n for addrs in lab.hosts.values() for n, _ in addrs}):
        ensure_network(lab, net)
    ensure_egress(lab)
    created = [h for h in lab.hosts if create_host(lab, h)]
    for name in names:
        docker("network", "connect", lab.egress, name, check=False)
    wait_booted(names)
    t_hosts = time.monotonic() - t0
    log(f"hosts up in {t_hosts:.1f} s ({len(created)} created, "
        f"{len(names) - len(created)} already there)")
    timings = {"hosts up": t_hosts}
    try:
        if not args.no_site:
            t1 = time.monotonic()
            changed = run_site(lab, args.limit, "converge")
            timings["site.yml (egress on)"] = time.monotonic() - t1
            log(f"converge: {changed} changed")
    finally:
        # Also after a failed run: the lab never stays connected to the outside.
        remove_egress(lab)
        log("egress network removed: the lab is cut off from the outside")
    if not args.no_site and not args.no_recheck:
        t2 = time.monotonic()
        changed = run_site(lab, args.limit, "second run")
        timings["site.yml second run (offline)"] = time.monotonic() - t2
        if changed:
            raise LabError(f"second run of site.yml changed {changed} tasks: not idempotent; "
                           f"log: {STATE / 'site-second-run.log'}")
        log("second run: 0 changed (idempotent, and works without the egress network)")
    health(lab)
    timings["lab up total"] = time.monotonic() - t0
    for what, secs in timings.items():
        log(f"time {what}: {secs:.1f} s")


def labelled(kind, prefix):
    fmt = "{{.Name}}" if kind == "network" else "{{.Names}}"
    listing = ["network", "ls"] if kind == "network" else ["ps", "-a"]
    out = docker(*listing, "--filter", f"label=matrixha.lab={prefix}", "--format", fmt)
    return [line for line in out.split() if line]


def cmd_down(args):
    t0 = time.monotonic()
    prefix = inventory_prefix()
    containers = labelled("container", prefix)
    if containers:
        docker("rm", "-f", *containers)
    networks = labelled("network", prefix)
    if networks:
        docker("network", "rm", *networks)
    for state in (STATE / "faults").glob(f"{prefix}-*"):
        state.unlink()
    log(f"removed {len(containers)} containers and {len(networks)} networks "
        f"in {time.monotonic() - t0:.1f} s")
    del args


# --- Health -----------------------------------------------------------------------------

# Services every lab host runs from boot; the summary lists what the roles added.
BASE_SERVICES = re.compile(r"^(systemd-.*|dbus|user@.*|getty@.*|console-getty|cron)\.service$")


def host_health(name):
    status = docker("inspect", "-f", "{{.State.Status}}", name, check=False).strip() or "missing"
    if status != "running":
        return status, "-", [], []
    system = docker("exec", name, "systemctl", "is-system-running", check=False).strip()
    failed = docker("exec", name, "systemctl", "list-units", "--state=failed", "--no-legend",
                    "--plain", check=False).split("\n")
    failed = [line.split()[0] for line in failed if line.strip()]
    running = docker("exec", name, "systemctl", "list-units", "--type=service",
                     "--state=running", "--no-legend", "--plain", check=False).split("\n")
    running = [line.split()[0] for line in running if line.strip()]
    services = [s.removesuffix(".service") for s in running if not BASE_SERVICES.match(s)]
    return status, system, failed, services


def health(lab):
    print(f"{'host':<12} {'address':<15} {'container':<9} {'systemd':<9} "
          f"{'failed units':<24} services up")
    bad, shown = 0, 0
    present = set(labelled("container", lab.prefix))
    for host, addrs in lab.hosts.items():
        if lab.container(host) not in present:
            continue
        shown += 1
        status, system, failed, services = host_health(lab.container(host))
        bad += status != "running" or system != "running" or bool(failed)
        print(f"{host:<12} {addrs[0][1]:<15} {status:<9} {system:<9} "
              f"{(','.join(failed) or '-'):<24} {', '.join(services) or '-'}")
    missing = len(lab.hosts) - shown
    log(f"health: {shown - bad}/{shown} hosts running with no failed unit"
        + (f" ({missing} inventory hosts not created)" if missing else ""))
    return bad + missing


def cmd_status(args):
    lab = Lab(args.limit)
    present = set(labelled("container", lab.prefix))
    if not present:
        log("no lab container exists (scripts/lab.sh up creates them)")
        return
    health(lab)


def cmd_health(args):
    if health(Lab(args.limit)):
        raise LabError("some hosts are not healthy (see the table)")


# --- Faults -----------------------------------------------------------------------------

def resolve_container(host, exact=False):
    """The container of inventory host HOST (<lab_prefix>-HOST), or with exact=True the
    container named HOST (what Ansible's ansible_host holds, for the lab and Molecule)."""
    if exact:
        if exists("container", host):
            return host
        raise LabError(f"no container named {host!r}")
    prefix = inventory_prefix()
    if exists("container", f"{prefix}-{host}"):
        return f"{prefix}-{host}"
    raise LabError(f"no container {prefix}-{host!r} for inventory host {host!r}; is the lab "
                   "up? (--container takes a container name)")


def networks_of(name):
    nets = json.loads(docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", name))
    return {net: cfg.get("IPAddress") for net, cfg in nets.items()}


def resolve_network(name, network):
    nets = networks_of(name)
    if network is None:
        lab_nets = [n for n in nets if not n.endswith("-egress")]
        if len(lab_nets) != 1:
            raise LabError(f"{name} is on {', '.join(lab_nets) or 'no network'}: name the "
                           "network to cut")
        return lab_nets[0]
    prefix = name.split("-", 1)[0]
    for full in (network, f"{prefix}-{network}"):
        if exists("network", full):
            return full
    raise LabError(f"no Docker network {network!r} or {prefix}-{network!r}")


def fault_state(name, network):
    return STATE / "faults" / f"{name}--{network}"


def fault(action, host, arg=None, exact=False):
    name = resolve_container(host, exact)
    if action == "kill":
        # SIGKILL to every process of the host at once: a power cut, no clean shutdown.
        docker("kill", name)
        ensure_state(name, "exited")
    elif action == "power-cut":
        power_cut(name)
    elif action == "start":
        # Docker gives the host a fresh network namespace with its addresses: a
        # power-cut host comes back with its network, without the DROP rules.
        docker("start", name)
        wait_booted([name])
    elif action in ("stop-service", "start-service"):
        if not arg:
            raise LabError(f"fault {action} needs a unit: {action} HOST UNIT")
        verb = action.split("-")[0]
        docker("exec", name, "systemctl", verb, arg)
        want = "inactive" if verb == "stop" else "active"
        got = docker("exec", name, "systemctl", "is-active", arg, check=False).strip()
        if got != want:
            raise LabError(f"{arg} on {name} is {got!r} after {verb}, expected {want!r}")
    elif action == "isolate":
        network = resolve_network(name, arg)
        address = networks_of(name).get(network)
        if not address:
            raise LabError(f"{name} is not on {network} (already isolated?)")
        state = fault_state(name, network)
        state.parent.mkdir(parents=True, exist_ok=True)
        state.write_text(address + "\n", encoding="utf-8")
        docker("network", "disconnect", network, name)
    elif action == "rejoin":
        network = resolve_network(name, arg) if arg else None
        states = ([fault_state(name, network)] if network
                  else sorted((STATE / "faults").glob(f"{name}--*")))
        if not states or not states[0].exists():
            raise LabError(f"{name} was not isolated by `fault isolate` (no record in "
                           f"{STATE / 'faults'})")
        for state in states:
            net = state.name.split("--", 1)[1]
            docker("network", "connect", "--ip", state.read_text(encoding="utf-8").strip(),
                   net, name)
            state.unlink()
    elif action == "pause":
        # The cgroup freezer stops every process like SIGSTOP would: the host hangs,
        # its sockets stay open, its peers see timeouts rather than refused connections.
        docker("pause", name)
        ensure_state(name, "paused")
    elif action == "resume":
        docker("unpause", name)
        ensure_state(name, "running")
    else:
        raise LabError(f"unknown fault {action!r}; one of: {', '.join(FAULTS)}")
    log(f"fault {action} {name}{' ' + arg if arg else ''}: done")


def power_cut(name):
    """Silence the host's network, then kill it: what a power or link loss looks like.

    `docker kill` alone lets the kernel close every socket of the dying processes,
    and the FIN/RST packets reach the peers, which then fail fast. Dropping every
    packet in the host's own network namespace first means the peers hear nothing:
    their connections stay half-open until keepalives or timeouts notice.
    """
    pid = docker("inspect", "-f", "{{.State.Pid}}", name).strip()
    if not pid.isdigit() or pid == "0":
        raise LabError(f"{name} is not running: nothing to cut")
    for tool in ("iptables", "ip6tables"):
        for chain in ("INPUT", "OUTPUT", "FORWARD"):
            run(["nsenter", "-t", pid, "-n", tool, "-w", "-I", chain, "1", "-j", "DROP"])
    docker("kill", name)
    ensure_state(name, "exited")


def ensure_state(name, want, timeout=10):
    """Waits (bounded) until Docker reports the container in state `want`."""
    deadline = time.monotonic() + timeout
    while True:
        got = docker("inspect", "-f", "{{.State.Status}}", name).strip()
        if got == want:
            return
        if time.monotonic() > deadline:
            raise LabError(f"{name} is {got!r} {timeout} s after the fault, expected {want!r}")
        time.sleep(0.2)


FAULTS = {
    "kill": "hard-kill the host (docker kill: SIGKILL to all its processes; peers see "
            "its connections reset)",
    "power-cut": "drop every packet in the host's network namespace, then kill it: peers "
                 "get no FIN or RST, their connections stay half-open",
    "start": "start a killed or power-cut host again with its network, wait for systemd "
             "(reverses kill and power-cut)",
    "stop-service": "systemctl stop UNIT on the host",
    "start-service": "systemctl start UNIT on the host (reverses stop-service)",
    "isolate": "disconnect the host from NETWORK (default: its only lab network)",
    "rejoin": "reconnect it with the same address (reverses isolate)",
    "pause": "freeze every process of the host (docker pause, like SIGSTOP)",
    "resume": "thaw it (reverses pause)",
}


def cmd_fault(args):
    fault(args.action, args.host, args.arg, args.container)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="create the inventory's hosts, run site.yml, report health")
    up.add_argument("--limit", help="only these hosts/groups (an Ansible host pattern)")
    up.add_argument("--no-site", action="store_true", help="only create the hosts")
    up.add_argument("--no-recheck", action="store_true",
                    help="skip the second (offline, must change nothing) site.yml run")
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="remove every lab container and network").set_defaults(
        func=cmd_down)
    for name, func in (("status", cmd_status), ("health", cmd_health)):
        p = sub.add_parser(name, help=f"{name} of the lab hosts")
        p.add_argument("--limit")
        p.set_defaults(func=func)
    f = sub.add_parser("fault", help="inject or reverse a fault",
                       epilog="\n".join(f"{k:14} {v}" for k, v in FAULTS.items()),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("--container", action="store_true",
                   help="HOST is a container name (Molecule instance, ansible_host)")
    f.add_argument("action", choices=list(FAULTS))
    f.add_argument("host")
    f.add_argument("arg", nargs="?", help="UNIT for *-service, NETWORK for isolate/rejoin")
    f.set_defaults(func=cmd_fault)
    args = parser.parse_args()
    STATE.mkdir(parents=True, exist_ok=True)
    try:
        args.func(args)
    except LabError as err:
        print(f"lab: error: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
