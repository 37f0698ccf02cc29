#!/usr/bin/env bash
# Redis tier in the lab: Molecule scenario `redis` on redis1-3 (10.0.28.11-13, each a Redis
# server, a Sentinel and a Redis VIP holder; VIP 10.0.28.10) and a client host (.100):
# converge playbooks/tiers/redis.yml, idempotence, verify (one master, two replicas, three
# Sentinels with quorum; through the VIP: NOAUTH without a user, NOPERM for CONFIG as
# synapse, SET/GET, publish/subscribe; the master hard-killed -> a replica promoted, the
# seconds until writes through the VIP succeed again printed and bounded, a resubscribing
# subscriber receives after the failover, the old master returns as a replica; the master
# partitioned from the other nodes (iptables DROP in its netns) -> it refuses writes
# (NOREPLICAS), writes through the VIP land on the new master only, HAProxy shows only
# the new master up, healed it rejoins as a replica). scripts/molecule-scenario.sh builds
# the collection from this tree first.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/molecule-scenario.sh redis
