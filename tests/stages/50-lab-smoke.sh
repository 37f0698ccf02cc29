#!/usr/bin/env bash
# The lab itself: Docker engine up, lab image built (or taken from cache, with both times
# printed by lab/build-image.sh), then Molecule scenario `smoke`: three systemd hosts on two
# internal networks; PID 1 is systemd, Redis starts, every host reaches every other by its
# inventory address (across subnets too), and each fault (kill/start, stop/start a
# service, isolate/rejoin a network, pause/resume) has its effect and is reversed.
# Then scripts/lab.sh on three hosts, and checks nothing is left behind but the cached
# image. About 2.5-3 min once the image exists; a first run also builds it (about 3 min).
set -euo pipefail
cd "$(dirname "$0")/../.."

scripts/docker-up.sh
scripts/venv.sh
lab/build-image.sh

# Molecule calls ansible-config & co. by name.
export PATH="$PWD/.venv/bin:$PATH"
start=$(date +%s)
molecule test -s smoke
echo "molecule smoke: $(($(date +%s) - start)) s"

# scripts/lab.sh itself on a copy of inventories/lab moved to 10.98.x with prefix mxlt,
# so it neither meets a running `make lab` nor its subnets: exactly the hosts named
# (--limit) with their addresses, routing between subnets by inventory address, one
# fault through the command line and its reverse, and `down` leaving nothing.
inv=$(mktemp -d)
# On failure too: no mxlt host stays behind.
trap 'MATRIXHA_LAB_INVENTORY=$inv scripts/lab.sh down >/dev/null 2>&1 || true; rm -rf "$inv"' EXIT
cp -a inventories/lab/. "$inv/"
sed -i 's/10\.0\./10.98./g' "$inv/hosts.yml" "$inv/group_vars/all/lab.yml"
sed -i 's/^lab_prefix: .*/lab_prefix: mxlt/' "$inv/group_vars/all/lab.yml"
export MATRIXHA_LAB_INVENTORY=$inv
scripts/lab.sh up --limit 'haproxy1,synapse,patroni1' --no-site
names=$(docker ps --filter label=matrixha.lab=mxlt --format '{{.Names}}' | sort | paste -sd' ')
[[ $names == "mxlt-haproxy1 mxlt-patroni1 mxlt-synapse" ]] || { echo "lab hosts: got '$names'" >&2; exit 1; }
got=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' mxlt-patroni1)
[[ $got == 10.98.3.11 ]] || { echo "patroni1 address: got $got" >&2; exit 1; }
docker exec mxlt-synapse ping -c1 -W2 patroni1 >/dev/null # 10.98.2.10 -> 10.98.3.11, routed
scripts/lab.sh fault isolate patroni1
if docker exec mxlt-synapse ping -c1 -W1 10.98.3.11 >/dev/null 2>&1; then
  echo "patroni1 still answers while isolated" >&2
  exit 1
fi
scripts/lab.sh fault rejoin patroni1
docker exec mxlt-synapse ping -c1 -W2 10.98.3.11 >/dev/null
scripts/lab.sh status
scripts/lab.sh down
unset MATRIXHA_LAB_INVENTORY

# Cleanup check: the scenario's containers, networks and fault records are gone.
left=$(docker ps -a --format '{{.Names}}' | grep -E '^smoke-[abc]$' || true)
left+=$(docker network ls --format '{{.Name}}' | grep -E '^mxmol-smoke-' || true)
left+=$(docker ps -a --filter label=matrixha.lab=mxlt -q)
left+=$(docker network ls --filter label=matrixha.lab=mxlt -q)
left+=$(find .lab/faults -name 'smoke-*' -o -name 'mxlt-*' 2>/dev/null || true)
if [[ -n $left ]]; then
  echo "lab smoke left behind: $left" >&2
  exit 1
fi
echo "lab smoke: nothing left behind (the cached images stay: $(docker image ls --format '{{.Repository}}:{{.Tag}}' | grep -c '^matrixha/lab-') tags)"
