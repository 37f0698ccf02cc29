#!/usr/bin/env bash
# The lab itself: Docker engine up, lab image built (or taken from cache, with both times
# printed by lab/build-image.sh), then Molecule scenario `smoke`: three systemd hosts on two
# internal networks; PID 1 is systemd, Redis starts, every host reaches every other by its
# inventory address (across subnets too), and each fault (kill/start, stop/start a
# service, isolate/rejoin a network, pause/resume) has its effect and is reversed.
# Then checks nothing is left behind but the cached image. About 2-3 min once the image
# exists; a first run also builds the image (about 3 min).
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

# Cleanup check: the scenario's containers, networks and fault records are gone.
left=$(docker ps -a --format '{{.Names}}' | grep -E '^smoke-[abc]$' || true)
left+=$(docker network ls --format '{{.Name}}' | grep -E '^mxmol-smoke-' || true)
left+=$(find .lab/faults -name 'smoke-*' 2>/dev/null || true)
if [[ -n $left ]]; then
  echo "lab smoke left behind: $left" >&2
  exit 1
fi
echo "lab smoke: nothing left behind (the cached images stay: $(docker image ls --format '{{.Repository}}:{{.Tag}}' | grep -c '^matrixha/lab-') tags)"
