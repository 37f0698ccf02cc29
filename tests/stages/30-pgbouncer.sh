#!/usr/bin/env bash
# matrixha.stack.pgbouncer_pool through Ansible, by FQCN from the built collection, against a real
# PostgreSQL 15 (SCRAM-only pg_hba) and PgBouncer 1.18 on 127.0.0.1 private ports:
# check mode touches nothing, first run writes, PgBouncer starts on the files, a SCRAM login
# through it succeeds (DN-3), the second run is unchanged, a diff-mode run reloads and a held
# session survives the RELOAD, a pool larger than max_connections fails, and -vvv output holds
# no password. (The Rust live tests in modules/pgbouncer_pool/tests/ run in stage 20.)
set -euo pipefail
cd "$(dirname "$0")/../.."

pg_bin=/usr/lib/postgresql/15/bin
[[ -x $pg_bin/initdb && -x /usr/sbin/pgbouncer ]] || {
  echo "30-pgbouncer: PostgreSQL 15 or PgBouncer missing: run scripts/deps.sh" >&2; exit 1; }
# The collection built from this tree, every time (cargo's incremental build: seconds when
# nothing changed); only this machine's architecture, kept out of dist/.
tarball=$(MATRIXHA_TARGETS=$(uname -m) MATRIXHA_DIST_DIR=target/dist-$(uname -m) scripts/build-collection.sh)

as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

tmp=$(mktemp -d /tmp/stage-pgbouncer.XXXXXX)
chmod 755 "$tmp"
holder=
cleanup() {
  [[ -n $holder ]] && kill "$holder" 2>/dev/null || true
  [[ -f $tmp/pgbouncer.pid ]] && kill -INT "$(cat "$tmp/pgbouncer.pid")" 2>/dev/null || true
  as_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

super_pw="st-super-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
synapse_pw="st-synapse-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
admin_pw="st-admin-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
pg_port=$(free_port) pool_port=$(free_port)
printf '%s' "$super_pw" > "$tmp/pw"
[[ $(id -u) == 0 ]] && chown -R postgres:postgres "$tmp"
as_pg "$pg_bin/initdb" -D "$tmp/pg" -U postgres --auth=scram-sha-256 --pwfile="$tmp/pw" --no-sync -E UTF8 >/dev/null
rm -f "$tmp/pw"
printf 'local all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n' > "$tmp/pg/pg_hba.conf"
as_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" -w -t 30 \
  -o "-p $pg_port -k $tmp -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
PGPASSWORD=$super_pw psql -X -q "host=127.0.0.1 port=$pg_port user=postgres dbname=postgres" \
  -c "CREATE ROLE synapse LOGIN PASSWORD '$synapse_pw'" -c "CREATE DATABASE synapse OWNER synapse"

mkdir -p "$tmp/collections" "$tmp/play"
.venv/bin/ansible-galaxy collection install --force -p "$tmp/collections" "$tarball" >"$tmp/galaxy.log" 2>&1 \
  || { cat "$tmp/galaxy.log"; exit 1; }
owner=null
[[ $(id -u) == 0 ]] && owner=postgres
cat > "$tmp/play/vars.json" <<JSON
{"ansible_python_interpreter": "$PWD/.venv/bin/python", "t_dir": "$tmp", "t_pg_port": $pg_port, "t_pool_port": $pool_port, "t_owner": "$owner",
 "t_super_pw": "$super_pw", "t_synapse_pw": "$synapse_pw", "t_admin_pw": "$admin_pw"}
JSON

cat > "$tmp/play/pool.yml" <<'YAML'
- name: pgbouncer_pool | one run
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Run matrixha.stack.pgbouncer_pool
      matrixha.stack.pgbouncer_pool:
        path: "{{ t_dir }}/pgbouncer.ini"
        auth_file: "{{ t_dir }}/userlist.txt"
        listen_addr: [127.0.0.1]
        listen_port: "{{ t_pool_port }}"
        unix_socket_dir: "{{ t_dir }}"
        pidfile: "{{ t_dir }}/pgbouncer.pid"
        logfile: "{{ t_dir }}/pgbouncer.log"
        owner: "{{ (t_owner == 'null') | ternary(omit, t_owner) }}"
        group: "{{ (t_owner == 'null') | ternary(omit, t_owner) }}"
        admin_users: [pgb_admin]
        users:
          - {name: synapse, password: "{{ t_synapse_pw }}"}
          - {name: pgb_admin, password: "{{ t_admin_pw }}"}
        databases:
          - {name: synapse, host: 127.0.0.1, port: "{{ t_pg_port | int }}"}
        capacity:
          synapse_database: synapse
          synapse_processes: "{{ t_processes | default(4) | int }}"
          cp_max: 5
          postgres_max_connections: "{{ t_max_connections | default(100) | int }}"
        verifier_source: {host: 127.0.0.1, port: "{{ t_pg_port | int }}", password: "{{ t_super_pw }}"}
        admin: "{{ (t_admin | default(true) | bool) | ternary({'user': 'pgb_admin', 'password': t_admin_pw}, omit) }}"
        service_action: "{{ t_action | default('reload') }}"
      register: t_result
      failed_when: false

    - name: Show the outcome for the stage script
      ansible.builtin.copy:
        content: "{{ t_result | to_json }}"
        dest: "{{ t_dir }}/play/result.json"
        mode: "0600"
      check_mode: false
YAML

export ANSIBLE_COLLECTIONS_PATH=$tmp/collections ANSIBLE_LOCALHOST_WARNING=false \
  ANSIBLE_INVENTORY_UNPARSED_WARNING=false ANSIBLE_NOCOLOR=1
log=$tmp/play/all-output.log
: > "$log"
step=0
play() { # description, then ansible-playbook options
  local what=$1; shift
  step=$((step + 1))
  .venv/bin/ansible-playbook -vvv -i localhost, -c local "$tmp/play/pool.yml" -e "@$tmp/play/vars.json" "$@" >>"$log" 2>&1 \
    || { echo "30-pgbouncer: playbook failed at: $what"; tail -40 "$log"; exit 1; }
  result=$(cat "$tmp/play/result.json")
  echo "  $step. $what: changed=$(jq -r .changed <<<"$result") error_param=$(jq -r '.param // "-"' <<<"$result")"
}
expect() { # jq expression that must be true, message
  jq -e "$1" <<<"$result" >/dev/null || { echo "30-pgbouncer: expected $2, got: $result"; exit 1; }
}

play "check mode before anything exists" --check -e t_admin=false -e t_action=none
expect '.changed == true and (.failed | not)' "a predicted change"
[[ ! -e $tmp/pgbouncer.ini ]] || { echo "30-pgbouncer: check mode wrote pgbouncer.ini"; exit 1; }

play "first run writes the files" -e t_admin=false -e t_action=none
expect '.changed == true and .reload_required == true' "a change with reload_required"
grep -q "\"synapse\" \"$(PGPASSWORD=$super_pw psql -X -At "host=127.0.0.1 port=$pg_port user=postgres dbname=postgres" \
  -c "SELECT rolpassword FROM pg_authid WHERE rolname = 'synapse'")\"" "$tmp/userlist.txt" \
  || { echo "30-pgbouncer: auth file does not hold the server's verifier"; exit 1; }

as_pg /usr/sbin/pgbouncer -d "$tmp/pgbouncer.ini"
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$pool_port") 2>/dev/null && break; sleep 0.1; done

got=$(PGPASSWORD=$synapse_pw psql -X -At "host=127.0.0.1 port=$pool_port user=synapse dbname=synapse" -c "SELECT current_user")
[[ $got == synapse ]] || { echo "30-pgbouncer: SCRAM login through PgBouncer failed ($got)"; exit 1; }
echo "  SCRAM login through PgBouncer to the SCRAM-only server: ok (DN-3)"

play "second run with the admin console" -e t_action=reload
expect '.changed == false and .pgbouncer.config.pool_mode == "session" and .pgbouncer.config.default_pool_size == "10"' \
  "no change and SHOW CONFIG facts"

# A session held open through the pool while the next run reloads PgBouncer.
mkfifo "$tmp/in"
(PGPASSWORD=$synapse_pw psql -X -At "host=127.0.0.1 port=$pool_port user=synapse dbname=synapse" <"$tmp/in" >"$tmp/held.out" 2>&1) &
holder=$!
exec 7>"$tmp/in"
echo "SELECT 'before', pg_backend_pid();" >&7
play "diff mode: 6 processes need larger pools" --diff -e t_processes=6 -e t_action=reload
expect '.changed == true and ([.changes[].action] == ["write_config","reload"]) and .pgbouncer.config.default_pool_size == "15"' \
  "a RELOAD to default_pool_size 15"
grep -q '^-default_pool_size = 10' "$log" && grep -q '^+default_pool_size = 15' "$log" \
  || { echo "30-pgbouncer: diff output misses the pool change"; exit 1; }
echo "SELECT 'after', pg_backend_pid();" >&7
exec 7>&-
wait "$holder"; holder=
before=$(sed -n 's/^before|//p' "$tmp/held.out") after=$(sed -n 's/^after|//p' "$tmp/held.out")
[[ -n $before && $before == "$after" ]] || { echo "30-pgbouncer: held session did not survive RELOAD: $(cat "$tmp/held.out")"; exit 1; }
echo "  session held through the RELOAD: ok (same backend $before)"

play "rerun is idempotent" -e t_processes=6 -e t_action=reload
expect '.changed == false' "no change"

play "pools larger than max_connections fail" -e t_processes=40 -e t_max_connections=60
expect '.param == "capacity.postgres_max_connections" and (.msg | startswith("capacity.postgres_max_connections: PostgreSQL max_connections 60 is less than"))' \
  "a sizing failure naming the parameter"

for pw in "$super_pw" "$synapse_pw" "$admin_pw"; do
  if grep -qF -- "$pw" "$log"; then echo "30-pgbouncer: a password appears in the -vvv output"; exit 1; fi
done
echo "  no password in $(wc -l <"$log") lines of -vvv output: ok"
