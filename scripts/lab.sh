#!/usr/bin/env bash
# The lab: one systemd container per inventory host on the seed subnets (DESIGN.md §4).
#   scripts/lab.sh up [--limit PATTERN] [--no-site] [--no-recheck]
#       build/reuse the image, create exactly the hosts inventories/lab names (or the
#       PATTERN subset) with their addresses, attach an egress network, run
#       playbooks/site.yml, remove the egress network, run site.yml again (must change
#       nothing, offline), print a health summary and the times
#   scripts/lab.sh down               remove every lab container and network
#   scripts/lab.sh status             health summary
#   scripts/lab.sh fault ACTION HOST [UNIT|NETWORK]
#       kill|power-cut|start, stop-service|start-service UNIT, isolate|rejoin [NETWORK],
#       pause|resume
# MATRIXHA_LAB_INVENTORY selects another inventory (default inventories/lab).
set -euo pipefail
cd "$(dirname "$0")/.."
case ${1:-} in
  up)
    scripts/venv.sh
    lab/build-image.sh
    # Tiers that use the collection's roles and modules need matrixha.stack installed:
    # build it (this machine's architecture only; cargo makes a rebuild cheap) and
    # install it into .lab/collections for the site.yml runs.
    tiers=$(sed -n 's/^ *ansible.builtin.import_playbook: *//p' playbooks/site.yml)
    if [[ " $* " != *" --no-site "* ]] && (cd playbooks && grep -qs 'matrixha\.stack\.' $tiers); then
      tarball=$(MATRIXHA_TARGETS=$(uname -m) MATRIXHA_DIST_DIR=target/dist-$(uname -m) scripts/build-collection.sh)
      rm -rf .lab/collections
      .venv/bin/ansible-galaxy collection install --force -p .lab/collections "$tarball" >/dev/null
      export ANSIBLE_COLLECTIONS_PATH="$PWD/.lab/collections"
    fi
    ;;
  down | status | fault | health)
    scripts/docker-up.sh >/dev/null
    ;;
  *)
    sed -n '2,14p' "$0" >&2
    exit 2
    ;;
esac
start=$(date +%s)
python3 lab/lab.py "$@"
echo "lab: $1 took $(($(date +%s) - start)) s"
