#!/usr/bin/env bash
# The pgbouncer role on a systemd lab container (matrixha/lab-debian12, Debian 12 + PgBouncer
# 1.18): a local PostgreSQL 15 (scram-sha-256 pg_hba) stands in for the writer VIP. Converge
# twice (second run: changed=0), then check what an operator would: the unit is active and
# restarted onto the node address (listen_addr is start-only, so the module restarts it through
# systemd), nothing listens on 0.0.0.0:6432 (DN-1), a SCRAM login through PgBouncer reaches
# PostgreSQL (DN-3), the Synapse pool is in session mode (DN-4), and the large-scale default
# against max_connections 100 fails naming the parameter (DN-11).
# Builds the collection from this tree first (scripts/build-collection.sh, incremental).
set -euo pipefail
cd "$(dirname "$0")/../.."

scripts/docker-up.sh >/dev/null
lab/build-image.sh >/dev/null

# The collection built from this tree, every time (cargo's incremental build: seconds when
# nothing changed); only this machine's architecture, kept out of dist/.
tarball=$(MATRIXHA_TARGETS=$(uname -m) MATRIXHA_DIST_DIR=target/dist-$(uname -m) scripts/build-collection.sh)

name=mxpgb-$$
net=mxpgb-net-$$
tmp=$(mktemp -d /tmp/stage-pgbouncer-role.XXXXXX)
cleanup() {
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# An internal network: no route off the machine.
docker network create --internal "$net" >/dev/null
docker run -d --name "$name" --hostname pgb1 --network "$net" \
  --cap-add SYS_ADMIN --cap-add NET_ADMIN --security-opt seccomp=unconfined --cgroupns=host \
  -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
  matrixha/lab-debian12:latest >/dev/null
for _ in $(seq 180); do
  state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
  [[ $state == running || $state == degraded ]] && break
  sleep 0.5
done
[[ $state == running || $state == degraded ]] || { echo "31-pgbouncer-role: systemd did not boot ($state)"; exit 1; }
addr=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$name")

super_pw="rl-super-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
synapse_pw="rl-synapse-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
admin_pw="rl-admin-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"

# The writer: Debian's stock cluster on 127.0.0.1:5432, SCRAM only.
docker exec -i "$name" bash -s <<SH >/dev/null
set -euo pipefail
printf 'local all postgres peer\nhost all all 127.0.0.1/32 scram-sha-256\n' > /etc/postgresql/15/main/pg_hba.conf
pg_ctlcluster 15 main start
runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 \
  -c "ALTER ROLE postgres PASSWORD '$super_pw'" \
  -c "CREATE ROLE synapse LOGIN PASSWORD '$synapse_pw'" -c "CREATE DATABASE synapse OWNER synapse"
SH

collections=$tmp/collections
.venv/bin/ansible-galaxy collection install --force -p "$collections" "$tarball" >"$tmp/galaxy.log" 2>&1 \
  || { cat "$tmp/galaxy.log"; exit 1; }
export ANSIBLE_COLLECTIONS_PATH="$collections:${ANSIBLE_COLLECTIONS_PATH:-$HOME/.ansible/collections}"
export ANSIBLE_NOCOLOR=1 ANSIBLE_INVENTORY_UNPARSED_WARNING=false

cat > "$tmp/inventory.yml" <<YAML
all:
  children:
    patroni:
      hosts:
        $name:
          ansible_connection: community.docker.docker
          ansible_python_interpreter: /usr/bin/python3
          pgbouncer_node_address: $addr
YAML
cat > "$tmp/vars.json" <<JSON
{"pgbouncer_writer_address": "127.0.0.1", "pgbouncer_synapse_db_password": "$synapse_pw",
 "pgbouncer_verifier_source_password": "$super_pw", "pgbouncer_admin_password": "$admin_pw",
 "pgbouncer_postgres_max_connections": 100}
JSON
cat > "$tmp/site.yml" <<'YAML'
- name: PgBouncer | Pool connections to the writer
  hosts: patroni
  gather_facts: true
  roles:
    - role: matrixha.stack.pgbouncer
YAML

converge() { # label, extra options
  local label=$1; shift
  .venv/bin/ansible-playbook -i "$tmp/inventory.yml" "$tmp/site.yml" -e "@$tmp/vars.json" "$@" >"$tmp/$label.log" 2>&1
}

# DN-11: the large-scale default (19 processes x cp_max 10 on one PgBouncer node) cannot fit
# in max_connections 100; the module fails before writing, naming the parameter.
if converge large --check; then echo "31-pgbouncer-role: large scale against max_connections 100 passed"; exit 1; fi
grep -q 'capacity.postgres_max_connections: PostgreSQL max_connections 100 is less than' "$tmp/large.log" \
  || { echo "31-pgbouncer-role: expected the sizing failure:"; tail -30 "$tmp/large.log"; exit 1; }
echo "  large scale vs max_connections 100: fails naming capacity.postgres_max_connections (DN-11)"

small=(-e pgbouncer_synapse_processes=4 -e pgbouncer_synapse_cp_max=5)
converge first "${small[@]}" || { echo "31-pgbouncer-role: first converge failed"; tail -40 "$tmp/first.log"; exit 1; }
echo "  first converge: $(grep -o 'changed=[0-9]*' "$tmp/first.log" | tail -1)"
converge second "${small[@]}" || { echo "31-pgbouncer-role: second converge failed"; tail -40 "$tmp/second.log"; exit 1; }
changed=$(grep -o 'changed=[0-9]*' "$tmp/second.log" | tail -1)
[[ $changed == changed=0 ]] || { echo "31-pgbouncer-role: second converge not idempotent ($changed)"; grep -B3 'changed:' "$tmp/second.log" | head -30; exit 1; }
echo "  second converge: $changed"

docker exec "$name" systemctl is-active --quiet pgbouncer || { echo "31-pgbouncer-role: pgbouncer.service not active"; exit 1; }
listeners=$(docker exec "$name" ss -Hltn 'sport = :6432' | awk '{print $4}' | sort | tr '\n' ' ')
[[ $listeners == "127.0.0.1:6432 $addr:6432 " ]] || { echo "31-pgbouncer-role: PgBouncer listens on: $listeners"; exit 1; }
echo "  listens on: $listeners(DN-1: not 0.0.0.0)"
got=$(docker exec -e PGPASSWORD="$synapse_pw" "$name" psql -X -At \
  "host=$addr port=6432 user=synapse dbname=synapse" -c "SELECT current_user || ' ' || current_setting('port')")
[[ $got == "synapse 5432" ]] || { echo "31-pgbouncer-role: login through PgBouncer returned '$got'"; exit 1; }
echo "  SCRAM login through PgBouncer on $addr:6432 reaches PostgreSQL :5432 (DN-3)"
mode=$(docker exec -e PGPASSWORD="$admin_pw" "$name" psql -X -At \
  "host=127.0.0.1 port=6432 user=pgbouncer_admin dbname=pgbouncer" -c "SHOW DATABASES" | awk -F'|' '$1 == "synapse" {print $9}')
[[ $mode == session ]] || { echo "31-pgbouncer-role: synapse pool mode is '$mode'"; exit 1; }
echo "  synapse pool mode: $mode (DN-4)"
for pw in "$super_pw" "$synapse_pw" "$admin_pw"; do
  if grep -qF -- "$pw" "$tmp"/*.log; then echo "31-pgbouncer-role: a password appears in the playbook output"; exit 1; fi
done
echo "  no password in the playbook output"
