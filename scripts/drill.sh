#!/usr/bin/env bash
# Failover drill for the database tier (`make drill`): a writer commits numbered rows
# through the writer VIP while (1) the primary's host is hard-killed, (2) the VIP holder
# is killed, (3) a planned switchover runs through matrixha.stack.patroni_cluster.
# Prints recovery times, p50/p95 over rounds, and acknowledged rows missing (must be 0).
#
#   scripts/drill.sh [--rounds N] [--scenarios hard_kill,vip_kill,switchover]
#
# Needs a converged DB tier (`make lab` + site.yml, or `molecule converge -s db`).
# Environment (defaults fit the lab inventory):
#   MATRIXHA_DRILL_HOSTS / _VIP_HOLDERS / _VIP / _CONTAINER_PREFIX / _KILL_CMD / _START_CMD
#   MATRIXHA_DRILL_DB_PASSWORD   the Synapse role's password (patroni_synapse_db_password)
#   MATRIXHA_DRILL_API_PASSWORD  patroni_restapi_password
# Exit status 1 when a row was lost or writes never came back.
set -euo pipefail
cd "$(dirname "$0")/.."

/usr/bin/python3 -c 'import psycopg2' 2>/dev/null || {
  echo "drill: python3-psycopg2 is missing; run scripts/deps.sh (make deps)" >&2
  exit 2
}

# The switchover goes through the real module, built from this tree (cargo's
# incremental build: seconds when up to date) and installed into .lab/collections.
ansible=${MATRIXHA_DRILL_ANSIBLE:-$PWD/.venv/bin/ansible}
tarball=$(MATRIXHA_TARGETS=$(uname -m) MATRIXHA_DIST_DIR=target/dist-$(uname -m) scripts/build-collection.sh)
mkdir -p .lab/collections
.venv/bin/ansible-galaxy collection install --force -p .lab/collections "$tarball" >/dev/null
export ANSIBLE_COLLECTIONS_PATH=$PWD/.lab/collections
export MATRIXHA_DRILL_ANSIBLE=$ansible

# Against the lab (`make lab`): containers are named <lab_prefix>-<host>, and the
# secrets come from the lab inventory unless given.
inventory=${MATRIXHA_LAB_INVENTORY:-inventories/lab}
hostvars=$(.venv/bin/ansible-inventory -i "$inventory" --host patroni1 2>/dev/null || echo '{}')
export MATRIXHA_DRILL_DB_PASSWORD=${MATRIXHA_DRILL_DB_PASSWORD:-$(jq -r '.patroni_synapse_db_password // empty' <<<"$hostvars")}
export MATRIXHA_DRILL_API_PASSWORD=${MATRIXHA_DRILL_API_PASSWORD:-$(jq -r '.patroni_restapi_password // empty' <<<"$hostvars")}
prefix=$(jq -r '.lab_prefix // empty' <<<"$hostvars")
export MATRIXHA_DRILL_CONTAINER_PREFIX=${MATRIXHA_DRILL_CONTAINER_PREFIX-${prefix:+$prefix-}}

start=$(date +%s)
status=0
/usr/bin/python3 tests/drill/drill.py "$@" || status=$?
echo "drill: finished in $(($(date +%s) - start)) s (exit $status)"
exit "$status"
