#!/usr/bin/env bash
# Database tier + PgBouncer in the lab: Molecule scenario `db_pgbouncer` (pgbpat1-3,
# 10.0.13.0/24, VIP 10.0.13.10): converge playbooks/db.yml and the pgbouncer role,
# idempotence, then verify that writes through every node's PgBouncer land on the leader,
# and that after a Patroni failover (Patroni stopped on the leader) new sessions through
# every PgBouncer reach the new primary with PgBouncer untouched. About 5.5 min here.
# scripts/molecule-scenario.sh builds the collection from this tree first.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/molecule-scenario.sh db_pgbouncer
