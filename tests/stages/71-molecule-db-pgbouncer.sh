#!/usr/bin/env bash
# Database tier + PgBouncer in the lab: Molecule scenario `db_pgbouncer` (pgbpat1-3,
# 10.0.13.0/24, VIP 10.0.13.10): converge playbooks/db.yml and the pgbouncer role,
# idempotence, then verify that writes through every node's PgBouncer land on the leader,
# and that after a Patroni failover (Patroni stopped on the leader) new sessions through
# every PgBouncer reach the new primary with PgBouncer untouched. About 5.5 min here.
# Uses the collection built by stage 25 (dist/); builds it when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/molecule-scenario.sh db_pgbouncer
