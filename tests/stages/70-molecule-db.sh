#!/usr/bin/env bash
# Database tier in the lab: Molecule scenario `db` on three containers (patroni1-3,
# 10.0.23.0/24): converge playbooks/db.yml, idempotence, verify (one leader, two
# streaming replicas, one sync standby, VIP write on the primary, replica refuses
# writes, switchover through the module moves the VIP's target) and one round of the
# failover drill (hard kill, VIP holder kill, switchover; 0 acknowledged rows lost).
# scripts/molecule-scenario.sh builds the collection from this tree first.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/molecule-scenario.sh db
