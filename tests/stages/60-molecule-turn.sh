#!/usr/bin/env bash
# TURN tier in the lab: Molecule scenario `turn` on coturn1, coturn2 (10.0.5.11-12) and a
# client host (10.0.5.100): converge playbooks/tiers/turn.yml (each node probes itself),
# idempotence, verify (from the client: Allocate + permissions over UDP/TCP/TLS on both
# nodes, client range allowed, server subnets refused; coturn2 stopped -> its probe fails,
# coturn1 still passes). scripts/molecule-scenario.sh builds the collection from this tree first.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/molecule-scenario.sh turn
