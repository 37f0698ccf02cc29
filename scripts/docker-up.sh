#!/usr/bin/env bash
# Makes a Docker engine usable for the lab: installs Debian's docker.io when missing,
# starts dockerd in the background when nothing answers on the socket, and waits
# (bounded) until `docker info` works. Idempotent; safe to call before every lab command.
#
# Why start dockerd by hand: these machines (and CI) boot without systemd as PID 1, so
# `systemctl start docker` is not available; the daemon runs as a plain background
# process logging to .lab/dockerd.log. Checked here (Docker 20.10 from Debian 12, cgroup
# v1, ext4): the default overlay2 storage driver and iptables work as they are, so no
# --storage-driver/--iptables override is needed. If overlay2 is refused (e.g. on an
# overlayfs root), set MATRIXHA_DOCKERD_ARGS="--storage-driver=vfs" (slower, uses more
# disk); if iptables-nft is refused, `update-alternatives --set iptables
# /usr/sbin/iptables-legacy` is the usual cure.
set -euo pipefail
cd "$(dirname "$0")/.."

log_dir=${MATRIXHA_LAB_STATE:-$PWD/.lab}
mkdir -p "$log_dir"

if ! command -v dockerd >/dev/null 2>&1; then
  echo "docker-up: installing docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi

# Lab networks are Docker `internal` networks: Docker drops every packet that would leave
# such a bridge (DOCKER-ISOLATION chains), which also stops the host from routing between
# two lab subnets the way production routers do. Lab bridges are named mx* (lab/lab.py
# and lab/molecule/create.yml name them so); this one rule, ahead of Docker's own in the
# DOCKER-USER chain, lets the host route between two mx* bridges and nothing else: a lab
# packet still cannot leave the machine or reach any other Docker network.
lab_routing_rule() {
  iptables -C DOCKER-USER -i 'mx+' -o 'mx+' -j ACCEPT 2>/dev/null ||
    iptables -I DOCKER-USER -i 'mx+' -o 'mx+' -j ACCEPT
}

if docker info >/dev/null 2>&1; then
  lab_routing_rule
  exit 0
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "docker-up: starting dockerd (log: $log_dir/dockerd.log)"
  # setsid: the daemon must outlive the shell (and the test stage) that started it.
  # shellcheck disable=SC2086  # extra args are word-split on purpose
  setsid dockerd ${MATRIXHA_DOCKERD_ARGS:-} >>"$log_dir/dockerd.log" 2>&1 </dev/null &
fi

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "docker-up: engine ready ($(docker version --format '{{.Server.Version}}'))"
    lab_routing_rule
    exit 0
  fi
  sleep 1
done
echo "docker-up: dockerd did not answer within 60 s; last log lines:" >&2
tail -n 20 "$log_dir/dockerd.log" >&2 || true
exit 1
