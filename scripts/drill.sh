#!/usr/bin/env bash
# Failover drill for the database tier (`make drill`): a writer commits numbered rows
# through the writer VIP while (1) the primary's host is hard-killed, (2) the VIP holder
# is killed, (3) the VIP holder loses only its path to the primary (vip_cut: the VIP must
# move to a holder whose HAProxy sees the primary), (4) a planned switchover runs
# through matrixha.stack.patroni_cluster.
# Prints recovery times, p50/p95 over rounds, and acknowledged rows missing (must be 0).
#
# Each fault kind runs in turn (MATRIXHA_DRILL_FAULTS, default "kill power-cut"): `kill`
# is docker kill (the kernel resets the host's connections), `power-cut` drops every
# packet in the host's namespace first (its peers hear nothing, as when power or network
# is lost; issue 19). With power cuts the drill also holds queries in flight through
# VIP:6432 and VIP:5432 while the VIP holder, the primary and a PgBouncer-only node are
# lost (inflight_*), and prints when each query ended and PgBouncer SHOW SERVERS 60 s later.
#
#   scripts/drill.sh [--rounds N] [--scenarios LIST]   (LIST overrides both defaults)
#   MATRIXHA_DRILL_SCENARIOS_KILL        default hard_kill,vip_kill,vip_cut,switchover
#   MATRIXHA_DRILL_SCENARIOS_POWER_CUT   default hard_kill,vip_kill + the inflight_* three
#                                        when the inventory has PgBouncer hosts
#
# Needs a converged DB tier (`make lab` + site.yml, or `molecule converge -s db`).
# Environment (defaults fit the lab inventory):
#   MATRIXHA_DRILL_HOSTS / _VIP_HOLDERS / _VIP / _CONTAINER_PREFIX / _KILL_CMD / _START_CMD
#   MATRIXHA_DRILL_DB_PASSWORD   the Synapse role's password (patroni_synapse_db_password)
#   MATRIXHA_DRILL_API_PASSWORD  patroni_restapi_password
#   MATRIXHA_DRILL_PGB_ADMIN_PASSWORD  pgbouncer_admin_password (inflight scenarios)
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
export MATRIXHA_DRILL_PGB_ADMIN_PASSWORD=${MATRIXHA_DRILL_PGB_ADMIN_PASSWORD:-$(jq -r '.pgbouncer_admin_password // empty' <<<"$hostvars")}
prefix=$(jq -r '.lab_prefix // empty' <<<"$hostvars")
inflight=""
if [[ -n $MATRIXHA_DRILL_PGB_ADMIN_PASSWORD ]] &&
  .venv/bin/ansible-inventory -i "$inventory" --graph pgbouncer 2>/dev/null | grep -q -- '--'; then
  inflight=",inflight_vip_holder,inflight_primary,inflight_pgbouncer"
fi
export MATRIXHA_DRILL_CONTAINER_PREFIX=${MATRIXHA_DRILL_CONTAINER_PREFIX-${prefix:+$prefix-}}

start=$(date +%s)
status=0
for fault in ${MATRIXHA_DRILL_FAULTS:-kill power-cut}; do
  case $fault in
    kill) scenarios=${MATRIXHA_DRILL_SCENARIOS_KILL:-hard_kill,vip_kill,vip_cut,switchover} ;;
    power-cut) scenarios=${MATRIXHA_DRILL_SCENARIOS_POWER_CUT:-hard_kill,vip_kill$inflight} ;;
    *) echo "drill: unknown fault '$fault' in MATRIXHA_DRILL_FAULTS (kill, power-cut)" >&2; exit 2 ;;
  esac
  echo "== drill: fault $fault"
  # A --scenarios in "$@" comes later and wins.
  /usr/bin/python3 tests/drill/drill.py --fault "$fault" --scenarios "$scenarios" "$@" || status=$?
done
echo "drill: finished in $(($(date +%s) - start)) s (exit $status)"
exit "$status"
