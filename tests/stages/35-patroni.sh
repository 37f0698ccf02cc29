#!/usr/bin/env bash
# Live tests of matrixha.stack.patroni_cluster against real etcd + PostgreSQL 15 + Patroni,
# once with Debian's Patroni 3.0.2 and once with Patroni 4.x from PyPI (a venv under target/),
# three members each on 127.0.0.1 private ports. The module renders every node's patroni.yml
# itself, then: facts, wait_for, PATCH idempotence, pending restarts, switchover (named, best,
# refused), failover, reinitialize, database/role with SCRAM, and every bad-input case.
# Everything it starts is stopped by pid and its temp dir removed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
stage_start=$(date +%s)

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q -p patroni_cluster
MOD=$CARGO_TARGET_DIR/debug/patroni_cluster
PGBIN=/usr/lib/postgresql/15/bin
PATRONI3=/usr/bin/patroni
VENV=${MATRIXHA_PATRONI4_VENV:-$PWD/target/patroni4-venv}
for need in "$PGBIN/postgres" "$PATRONI3" /usr/bin/etcd /usr/bin/psql /usr/bin/jq; do
  [[ -x $need ]] || { echo "FAIL: $need missing; run scripts/deps.sh (Debian packages postgresql-15 patroni etcd-server jq)"; exit 1; }
done
# Patroni 4.x: PyPI in a venv the postgres user can read (Debian's python3, not a per-user one).
if ! runuser -u postgres -- "$VENV/bin/patroni" --version 2>/dev/null | grep -q '^patroni 4\.'; then
  echo "--- creating $VENV (patroni[etcd3] 4.x from PyPI)"
  rm -rf "$VENV"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'patroni[etcd3]>=4,<5' psycopg2-binary
fi
PATRONI4=$VENV/bin/patroni

T=$(mktemp -d /tmp/matrixha-patroni.XXXXXX)
chmod 755 "$T"
mkdir -p "$T/sock" && chown postgres:postgres "$T/sock"
PIDS=()
DATADIRS=()
cleanup() {
  local rc=$?
  set +e
  stop_members
  [[ -n ${ETCD_PID:-} ]] && kill "$ETCD_PID" 2>/dev/null && wait "$ETCD_PID" 2>/dev/null
  if ((rc != 0)); then
    echo "--- last module result:"; cat "$T/last.json" 2>/dev/null; echo
    for log in "$T"/*/*.log; do [[ -f $log ]] && { echo "--- tail $log"; tail -n 15 "$log"; }; done
  fi
  rm -rf "$T"
  exit $rc
}
trap cleanup EXIT

# Members start under setpriv, which execs Patroni in place: the pid kept is Patroni's own.
# Patroni stops its PostgreSQL on SIGTERM; whatever still runs afterwards is killed by the
# pid in its own postmaster.pid (never by name).
stop_members() {
  local pid d
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for d in "${DATADIRS[@]}"; do
    if [[ -f $d/postmaster.pid ]]; then
      pid=$(head -n1 "$d/postmaster.pid")
      if [[ $pid =~ ^[0-9]+$ ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
  done
  PIDS=()
  DATADIRS=()
}

SUPER_PW=super-$RANDOM-secret-a1-0123456789
REPL_PW=repl-$RANDOM-secret-b2-0123456789
REWIND_PW=rewind-$RANDOM-secret-c3-0123456789
API_PW=api-$RANDOM-secret-d4-0123456789
SYNAPSE_PW=synapse-$RANDOM-secret-e5-0123456789
SYNAPSE_PW2=synapse-$RANDOM-secret-f6-0123456789
SECRETS=("$SUPER_PW" "$REPL_PW" "$REWIND_PW" "$API_PW" "$SYNAPSE_PW" "$SYNAPSE_PW2")
ETCD_CLIENT=23791
ETCD_PEER=23792
PASS=0

fail() { echo "FAIL: $*"; exit 1; }

# mod ARGS [COMMON]: runs the module with COMMON + ARGS (ARGS win), result in $R; never leaks a secret.
# The output scrubber is off (MATRIXHA_TEST_NO_SCRUB, honoured by debug builds), so a
# secret absent from $R is absent because the module never printed it.
mod() {
  local extra=${2:-}
  [[ -n $extra ]] || extra='{}'
  jq -n --argjson a "$1" --argjson b "$extra" '$b + $a' >"$T/args.json"
  local t0=$SECONDS
  MATRIXHA_TEST_NO_SCRUB=1 "$MOD" "$T/args.json" >"$T/last.json" || true
  R=$(cat "$T/last.json")
  if ((SECONDS - t0 >= 3)); then echo "    ($((SECONDS - t0)) s: $(jq -c '{action} + (if .condition then {condition} else {} end)' "$T/args.json"))"; fi
  local s
  for s in "${SECRETS[@]}"; do
    [[ $R != *"$s"* ]] || fail "a secret appears in the module output: $R"
  done
}
# ok 'jq filter' 'what a user would check'
ok() {
  jq -e "$1" >/dev/null <<<"$R" || fail "$2 (jq: $1) in: $R"
  PASS=$((PASS + 1))
}
succeeds() { ok '.failed == false' "$1: module failed"; }
fails_with() {
  ok '.failed == true' "$1: module should fail"
  jq -e --arg s "$2" '.msg | contains($s)' >/dev/null <<<"$R" || fail "$1: message lacks '$2': $(jq -r .msg <<<"$R")"
  jq -e '.msg | contains("Fix: ")' >/dev/null <<<"$R" || fail "$1: message gives no fix: $(jq -r .msg <<<"$R")"
  PASS=$((PASS + 1))
}
psql_as() { # user password port sql
  PGPASSWORD=$2 psql -X -qAt "host=127.0.0.1 port=$3 user=$1 dbname=${5:-postgres} connect_timeout=5" -c "$4"
}

start_etcd() {
  local port
  for port in $ETCD_CLIENT $ETCD_PEER; do
    [[ -z $(ss -ltnH "sport = :$port") ]] || fail "port $port on 127.0.0.1 is in use; stop what listens there (ss -ltnp 'sport = :$port')"
  done
  mkdir -p "$T/etcd"
  /usr/bin/etcd --name mha --data-dir "$T/etcd/data" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
    --initial-cluster "mha=http://127.0.0.1:$ETCD_PEER" >"$T/etcd/etcd.log" 2>&1 &
  ETCD_PID=$!
  for _ in $(seq 1 40); do
    curl -fsS "http://127.0.0.1:$ETCD_CLIENT/health" 2>/dev/null | grep -q true && return 0
    sleep 0.25
  done
  fail "etcd did not become healthy on 127.0.0.1:$ETCD_CLIENT"
}

# suite VERSION PATRONI_BIN REST_BASE PG_BASE
suite() {
  local v=$1 bin=$2 rest=$3 pgp=$4 t0 dir scope=mha$1 i
  t0=$(date +%s)
  dir=$T/v$v
  mkdir -p "$dir" && chown postgres:postgres "$dir"
  echo "--- Patroni $v: $($bin --version)"
  for i in 0 1 2; do
    for port in $((rest + i)) $((pgp + i)); do
      [[ -z $(ss -ltnH "sport = :$port") ]] || fail "port $port on 127.0.0.1 is in use; stop what listens there (ss -ltnp 'sport = :$port')"
    done
  done
  # CONN: the REST options every action takes; API adds the wait for actions that wait
  # (each action refuses parameters it does not use).
  CONN="{\"api_url\":\"http://127.0.0.1:$rest\",\"api_username\":\"patroni\",\"api_password\":\"$API_PW\"}"
  API=$(jq '. + {timeout: 90}' <<<"$CONN")

  # -- config: the module renders each node's patroni.yml; Patroni runs from it.
  for i in 1 2 3; do
    CONF=$(jq -n --arg dir "$dir" --arg scope "$scope" --arg i "$i" --argjson rest "$rest" --argjson pgp "$pgp" \
      --arg su "$SUPER_PW" --arg re "$REPL_PW" --arg rw "$REWIND_PW" --arg api "$API_PW" --arg sock "$T/sock" \
      --argjson etcd "$ETCD_CLIENT" '{
        action: "config", path: "\($dir)/pg\($i).yml", scope: $scope, name: "pg\($i)",
        node_address: "127.0.0.1", restapi_port: ($rest + ($i|tonumber) - 1), postgres_port: ($pgp + ($i|tonumber) - 1),
        etcd3_hosts: ["127.0.0.1:\($etcd)"], data_dir: "\($dir)/pg\($i)", bin_dir: "/usr/lib/postgresql/15/bin",
        pgpass: "\($dir)/pg\($i).pgpass", unix_socket_dir: $sock,
        superuser_password: $su, replication_password: $re, rewind_password: $rw,
        api_username: "patroni", api_password: $api, cluster_networks: ["127.0.0.0/8"],
        api_url: "http://127.0.0.1:\($rest + ($i|tonumber) - 1)", reload: "rest",
        dcs: {ttl: 20, loop_wait: 2, retry_timeout: 5, synchronous_mode: true, maximum_lag_on_failover: 16777216,
              parameters: {max_connections: 100, wal_keep_size: "128MB", hot_standby: true},
              archive_command: "/bin/true %p"},
        local_parameters: {shared_buffers: "32MB"}, tags: {nofailover: false}
      }')
    mod "$CONF" '{"_ansible_check_mode":true,"_ansible_diff":true}'
    succeeds "config check mode"
    ok '.changed == true and (.diff[0].after | contains("etcd3:")) and (.diff[0].after | contains("********"))' "check mode predicts the new file, passwords masked"
    [[ ! -e $dir/pg$i.yml ]] || fail "check mode wrote $dir/pg$i.yml"
    mod "$CONF"
    succeeds "config"
    ok '.changed == true and .reloaded == false and any(.warnings[]; contains("not reachable"))' "first write: changed, Patroni not running yet"
    [[ $(stat -c '%U %a' "$dir/pg$i.yml") == "postgres 600" ]] || fail "pg$i.yml is $(stat -c '%U %a' "$dir/pg$i.yml"), want postgres 600"
    grep -q '^etcd3:' "$dir/pg$i.yml" && ! grep -q '^etcd:' "$dir/pg$i.yml" || fail "pg$i.yml lacks etcd3: (DN-19)"
    mod "$CONF"
    ok '.changed == false' "config is idempotent"
    DATADIRS+=("$dir/pg$i")
  done

  # -- start pg1 first so it bootstraps, then the replicas.
  setpriv --reuid=postgres --regid=postgres --init-groups -- "$bin" "$dir/pg1.yml" >"$dir/pg1.log" 2>&1 &
  PIDS+=($!)
  mod '{"action":"wait_for","condition":"leader"}' "$API"
  succeeds "wait_for leader after bootstrap"
  ok '.cluster.leader == "pg1"' "pg1 bootstrapped and leads"
  for i in 2 3; do
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$bin" "$dir/pg$i.yml" >"$dir/pg$i.log" 2>&1 &
    PIDS+=($!)
  done
  mod '{"action":"wait_for","condition":"streaming","count":2}' "$API"
  succeeds "wait_for 2 streaming replicas"
  echo "    3 members up and streaming after $(( $(date +%s) - t0 )) s"
  mod '{"action":"wait_for","condition":"sync_standby","count":1,"timeout":30}' "$API"
  succeeds "wait_for a synchronous standby"

  # -- facts
  mod '{"action":"facts"}' "$CONN"
  succeeds "facts"
  ok '.ansible_facts.patroni_cluster.leader == "pg1" and (.cluster.members | length) == 3' "facts: leader pg1, 3 members"
  ok "(.cluster.patroni_version | startswith(\"$v.\"))" "facts: Patroni version $v.x"
  ok '(.cluster.streaming | length) == 2 and (.cluster.sync_standbys | length) == 1 and .cluster.timeline == 1' "facts: streaming, sync standby, timeline"
  ok '[.cluster.members[] | select(.name != "pg1") | .lag | numbers] | length == 2' "facts: replica lag in bytes"
  [[ $(psql_as postgres "$SUPER_PW" "$pgp" 'show archive_mode') == on ]] || fail "archive_mode is not on (DN-7)"
  [[ $(psql_as postgres "$SUPER_PW" "$pgp" "select setting from pg_settings where name='listen_addresses'") == 127.0.0.1 ]] || fail "PostgreSQL does not listen on the node address only"

  # -- a running node's file changes: written and Patroni reloads it through REST.
  mod "$(jq '.tags.clonefrom = true' <<<"$CONF")"
  ok '.changed == true and .reloaded == true' "changed config reloads the running Patroni (POST /reload)"

  # -- dynamic configuration: PATCH only the difference; check mode leaves /config alone.
  DCS='{"action":"dynamic_config","dcs":{"loop_wait":2,"synchronous_mode":true,"parameters":{"work_mem":"8MB","max_connections":100}}}'
  mod "$DCS" "$(jq '. + {"_ansible_check_mode":true,"_ansible_diff":true}' <<<"$API")"
  succeeds "dynamic_config check mode"
  ok '.changed == true and .patch == {"postgresql":{"parameters":{"work_mem":"8MB"}}}' "check mode: the patch holds only work_mem"
  ok '.diff[0].after | contains("work_mem: 8MB")' "check mode: diff shows the change"
  curl -fsS "http://127.0.0.1:$rest/config" | jq -e '.postgresql.parameters.work_mem == null' >/dev/null || fail "check mode patched /config"
  mod "$DCS" "$API"
  ok '.changed == true' "dynamic_config patches"
  curl -fsS "http://127.0.0.1:$rest/config" | jq -e '.postgresql.parameters.work_mem == "8MB"' >/dev/null || fail "/config lacks work_mem after PATCH"
  mod "$DCS" "$API"
  ok '.changed == false and .patch == {}' "dynamic_config is idempotent"
  # A parameter that needs a restart: flagged, then restarted on request (replicas first).
  mod '{"action":"dynamic_config","dcs":{"parameters":{"max_connections":110}},"restart_pending":true}' "$API"
  succeeds "dynamic_config with restart_pending"
  ok '.changed == true and (.restarted | length) == 3 and .restarted[2] == "pg1"' "all members restarted, leader last"
  ok '.cluster.pending_restart == []' "no pending restart afterwards"
  [[ $(psql_as postgres "$SUPER_PW" "$pgp" 'show max_connections') == 110 ]] || fail "max_connections not applied on the leader"
  mod '{"action":"restart","restart_pending":true}' "$API"
  ok '.changed == false and .restarted == []' "restart of pending members only: nothing pending"
  mod '{"action":"wait_for","condition":"streaming","count":2}' "$API"
  succeeds "replicas stream again after the restarts"

  # -- database and role on the leader, SCRAM verifier computed by the module.
  DB=$(jq -n --arg pw "$SYNAPSE_PW" --arg su "$SUPER_PW" '{action:"database",db_name:"synapse",db_owner:"synapse",db_owner_password:$pw,login_password:$su}')
  mod "$DB" "$(jq '. + {"_ansible_check_mode":true}' <<<"$CONN")"
  ok '.changed == true and (.executed_queries | length) == 2' "database check mode predicts role + database"
  [[ -z $(psql_as postgres "$SUPER_PW" "$pgp" "select 1 from pg_database where datname='synapse'") ]] || fail "check mode created the database"
  mod "$DB" "$CONN"
  succeeds "database"
  CREATED=$R
  ok '.changed == true and (.executed_queries[1] | contains("LC_COLLATE '"'C'"'")) and (.executed_queries[0] | contains("<scram-sha-256 verifier>"))' "database created, verifier not shown"
  [[ $(psql_as synapse "$SYNAPSE_PW" "$pgp" "select pg_encoding_to_char(encoding)||' '||datcollate||' '||datctype||' '||pg_get_userbyid(datdba) from pg_database where datname=current_database()" synapse) == "UTF8 C C synapse" ]] \
    || fail "synapse cannot log in with its password, or the database is not UTF8/C/C owned by synapse"
  [[ $(psql_as postgres "$SUPER_PW" "$pgp" "select left(rolpassword,14) from pg_authid where rolname='synapse'") == 'SCRAM-SHA-256$' ]] || fail "synapse's password is not a SCRAM verifier"
  mod "$DB" "$CONN"
  ok '.changed == false and .executed_queries == []' "database is idempotent (verifier kept)"
  # Derived secrets too: the verifier the module computed (now in pg_authid) is in no output.
  VERIFIER=$(psql_as postgres "$SUPER_PW" "$pgp" "select rolpassword from pg_authid where rolname='synapse'")
  [[ $CREATED != *"${VERIFIER#SCRAM-SHA-256\$4096:}"* ]] || fail "the SCRAM verifier appears in the database result"
  mod "$(jq --arg pw "$SYNAPSE_PW2" '.db_owner_password = $pw' <<<"$DB")" "$CONN"
  ok '.changed == true and .executed_queries == ["ALTER ROLE synapse PASSWORD '"'<scram-sha-256 verifier>'"'"]' "a new password replaces the verifier"
  VERIFIER2=$(psql_as postgres "$SUPER_PW" "$pgp" "select rolpassword from pg_authid where rolname='synapse'")
  [[ $VERIFIER2 != "$VERIFIER" && $R != *"${VERIFIER2#SCRAM-SHA-256\$4096:}"* ]] || fail "the new verifier appears in the result (or was not replaced)"
  PASS=$((PASS + 1))
  psql_as synapse "$SYNAPSE_PW2" "$pgp" 'select 1' synapse >/dev/null || fail "new password rejected"
  ! psql_as synapse "$SYNAPSE_PW" "$pgp" 'select 1' synapse >/dev/null 2>&1 || fail "old password still accepted"
  # Only verifiers travel: the clear password is nowhere on disk (data dirs, WAL, logs).
  ! grep -rqaF -e "$SYNAPSE_PW" -e "$SYNAPSE_PW2" "$dir" 2>/dev/null || fail "a clear application password reached a file under $dir"
  sleep 1 # the role and database reach the replicas before the switchover below

  # -- switchover: check mode, refused (not a sync standby, unknown, stale leader), named, best, no-op.
  # Restarted members take a loop or two before Patroni names a synchronous standby again.
  mod '{"action":"wait_for","condition":"sync_standby","timeout":30}' "$API"
  succeeds "a synchronous standby before the switchover"
  SYNC=$(jq -r '.cluster.sync_standbys[0]' <<<"$R")
  ASYNC=$(jq -r --arg s "$SYNC" '[.cluster.replicas[] | select(. != $s)][0]' <<<"$R")
  mod "{\"action\":\"switchover\",\"candidate\":\"$ASYNC\"}" "$API"
  fails_with "switchover to an async replica in synchronous mode" "$ASYNC cannot take over: it is not a synchronous standby"
  mod '{"action":"switchover","candidate":"pg9"}' "$API"
  fails_with "switchover to an unknown member" "'pg9' is not a member of cluster $scope"
  mod "{\"action\":\"switchover\",\"leader\":\"$SYNC\"}" "$API"
  fails_with "switchover naming a stale leader" "$SYNC is not the leader; pg1 is"
  mod "{\"action\":\"switchover\",\"candidate\":\"$SYNC\"}" "$(jq '. + {"_ansible_check_mode":true}' <<<"$API")"
  ok ".changed == true and .candidate == \"$SYNC\" and .cluster.leader == \"pg1\"" "switchover check mode: predicts, moves nothing"
  mod "{\"action\":\"switchover\",\"candidate\":\"$SYNC\",\"leader\":\"pg1\"}" "$API"
  succeeds "switchover to $SYNC"
  ok ".changed == true and .cluster.leader == \"$SYNC\" and .previous_leader == \"pg1\" and (.cluster.streaming | index(\"pg1\") != null)" "$SYNC leads, pg1 rejoined streaming"
  echo "    switchover pg1 -> $SYNC: promoted after $(jq .elapsed <<<"$R") s, pg1 streaming again after $(jq .rejoined_after <<<"$R") s"
  mod "{\"action\":\"switchover\",\"candidate\":\"$SYNC\"}" "$API"
  ok '.changed == false' "switchover to the current leader changes nothing"
  [[ $(psql_as synapse "$SYNAPSE_PW2" "$((pgp + ${SYNC#pg} - 1))" 'select 1' synapse) == 1 ]] || fail "database/role missing on the new leader"
  mod '{"action":"wait_for","condition":"sync_standby","timeout":30}' "$API"
  succeeds "a synchronous standby again after the switchover"
  mod '{"action":"switchover"}' "$API"
  succeeds "switchover to the best candidate"
  ok ".changed == true and .previous_leader == \"$SYNC\" and .cluster.leader == .candidate" "best candidate promoted"
  LEADER=$(jq -r .cluster.leader <<<"$R")

  # -- reinitialize a replica; refuse the leader.
  mod "{\"action\":\"reinitialize\",\"member\":\"$LEADER\"}" "$API"
  fails_with "reinitialize the leader" "$LEADER is the leader"
  mod '{"action":"facts"}' "$CONN"
  REPLICA=$(jq -r '.cluster.replicas[0]' <<<"$R")
  mod "{\"action\":\"reinitialize\",\"member\":\"$REPLICA\"}" "$API"
  succeeds "reinitialize $REPLICA"
  ok ".changed == true and (.cluster.streaming | index(\"$REPLICA\") != null)" "$REPLICA rebuilt and streaming"
  echo "    reinitialize $REPLICA: $(jq .elapsed <<<"$R") s"

  # -- failover to a named replica on a healthy cluster.
  mod '{"action":"wait_for","condition":"sync_standby","timeout":30}' "$API"
  TARGET=$(jq -r '.cluster.sync_standbys[0]' <<<"$R")
  mod "{\"action\":\"failover\",\"candidate\":\"$TARGET\"}" "$(jq '. + {"_ansible_check_mode":true}' <<<"$API")"
  ok ".changed == true and .cluster.leader == \"$LEADER\"" "failover check mode moves nothing"
  mod "{\"action\":\"failover\",\"candidate\":\"$TARGET\"}" "$API"
  succeeds "failover to $TARGET"
  ok ".cluster.leader == \"$TARGET\"" "$TARGET leads after failover"
  mod "{\"action\":\"failover\",\"candidate\":\"$TARGET\"}" "$API"
  ok '.changed == false' "failover to the leader changes nothing"

  # -- bad input against the live cluster.
  mod '{"action":"dynamic_config","dcs":{"parameters":{"work_mem":"16MB"}}}' \
    "$(jq '.api_password = "wrong-password-xyz"' <<<"$API")"
  fails_with "wrong REST credentials" "api_password: Patroni at http://127.0.0.1:$rest/config rejected api_username/api_password (401)"
  mod '{"action":"dynamic_config","dcs":{"parameters":{"work_mem":"16MB"}}}' "$(jq 'del(.api_username, .api_password)' <<<"$API")"
  fails_with "missing REST credentials" "requires authentication (401)"
  mod '{"action":"dynamic_config","dcs":{"ttl":20,"loop_wait":11}}' "$API"
  fails_with "ttl arithmetic against the live /config" "loop_wait (11) + 2 × retry_timeout (5) = 21 exceeds ttl (20)"
  curl -fsS "http://127.0.0.1:$rest/config" | jq -e '.loop_wait == 2' >/dev/null || fail "refused change reached /config"
  mod '{"action":"dynamic_config","dcs":{"parameters":{"synchronous_standby_names":"*"}}}' "$API"
  fails_with "synchronous_standby_names by hand (DN-6)" "managed by Patroni"
  mod '{"action":"facts","api_url":"http://127.0.0.1:1"}'
  fails_with "unreachable REST API" "api_url: Patroni REST API unreachable"
  mod '{"action":"wait_for","condition":"streaming","count":5,"timeout":1}' "$API"
  fails_with "wait_for more replicas than exist" "of 5 replicas streaming from $TARGET"
  mod '{"action":"restart","member":"pg9"}' "$API"
  fails_with "restart an unknown member" "'pg9' is not a member"
  mod "$DB" "$(jq --arg h 127.0.0.1 --argjson p "$((pgp + ${REPLICA#pg} - 1))" '. + {login_host: $h, login_port: $p}' <<<"$CONN")"
  if [[ $REPLICA != "$TARGET" ]]; then fails_with "database on a replica" "is a replica"; fi
  mod "$(jq '.login_password = "wrong-superuser-pw"' <<<"$DB")" "$CONN"
  fails_with "database with a wrong superuser password" "login_password: cannot connect"

  stop_members
  echo "--- Patroni $v suite passed in $(( $(date +%s) - t0 )) s"
}

# REST API over HTTPS: one member whose restapi has a certificate from a throw-away CA.
tls_suite() {
  local t0 dir=$T/tls rest=28208 pgp=25632
  t0=$(date +%s)
  echo "--- REST API over TLS (Patroni 4, one member)"
  for port in $rest $pgp; do
    [[ -z $(ss -ltnH "sport = :$port") ]] || fail "port $port on 127.0.0.1 is in use; stop what listens there"
  done
  mkdir -p "$dir" && chown postgres:postgres "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=matrixha-test-ca -keyout "$dir/ca.key" -out "$dir/ca.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$dir/api.key" -out "$dir/api.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$dir/ext"
  openssl x509 -req -in "$dir/api.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 1 \
    -extfile "$dir/ext" -out "$dir/api.pem" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other-ca -keyout "$dir/other.key" -out "$dir/other.pem" 2>/dev/null
  chown postgres:postgres "$dir"/api.* && chmod 600 "$dir/api.key"
  CONF=$(jq -n --arg dir "$dir" --argjson rest $rest --argjson pgp $pgp --arg su "$SUPER_PW" --arg re "$REPL_PW" \
    --arg api "$API_PW" --arg sock "$T/sock" --argjson etcd "$ETCD_CLIENT" '{
      action: "config", path: "\($dir)/pg1.yml", scope: "mhatls", name: "pg1", node_address: "127.0.0.1",
      restapi_port: $rest, postgres_port: $pgp, restapi_certfile: "\($dir)/api.pem", restapi_keyfile: "\($dir)/api.key",
      etcd3_hosts: ["127.0.0.1:\($etcd)"], data_dir: "\($dir)/pg1", bin_dir: "/usr/lib/postgresql/15/bin",
      pgpass: "\($dir)/pg1.pgpass", unix_socket_dir: $sock, superuser_password: $su, replication_password: $re,
      api_username: "patroni", api_password: $api, cluster_networks: ["127.0.0.0/8"], reload: "none",
      dcs: {ttl: 20, loop_wait: 2, retry_timeout: 5}, local_parameters: {shared_buffers: "32MB"}}')
  mod "$CONF"
  succeeds "config with restapi TLS"
  grep -q "certfile: $dir/api.pem" "$dir/pg1.yml" || fail "restapi.certfile not rendered"
  DATADIRS+=("$dir/pg1")
  setpriv --reuid=postgres --regid=postgres --init-groups -- "$PATRONI4" "$dir/pg1.yml" >"$dir/pg1.log" 2>&1 &
  PIDS+=($!)
  TLSAPI=$(jq -n --arg ca "$dir/ca.pem" --arg api "$API_PW" --argjson rest $rest \
    '{api_url: "https://127.0.0.1:\($rest)", ca_file: $ca, api_username: "patroni", api_password: $api}')
  mod '{"action":"wait_for","condition":"leader","timeout":60}' "$TLSAPI"
  succeeds "wait_for leader over HTTPS with ca_file"
  ok '.cluster.leader == "pg1" and (.cluster.members[0].api_url | startswith("https://"))' "HTTPS member API"
  mod '{"action":"dynamic_config","dcs":{"parameters":{"work_mem":"6MB"}}}' "$TLSAPI"
  ok '.changed == true' "PATCH /config over HTTPS with basic auth"
  mod '{"action":"facts"}' "$(jq --arg ca "$dir/other.pem" '.ca_file = $ca' <<<"$TLSAPI")"
  fails_with "HTTPS with the wrong CA" "ca_file"
  mod '{"action":"facts"}' "$(jq 'del(.ca_file)' <<<"$TLSAPI")"
  fails_with "HTTPS with an unknown CA and no ca_file" "give the CA that signed"
  mod '{"action":"facts","ca_file":"/nonexistent/ca.pem"}' "$TLSAPI"
  fails_with "missing ca_file" "ca_file: cannot read /nonexistent/ca.pem"
  mod '{"action":"facts"}' "$(jq 'del(.ca_file) + {validate_certs: false}' <<<"$TLSAPI")"
  succeeds "validate_certs false"
  stop_members
  echo "--- TLS suite passed in $(( $(date +%s) - t0 )) s"
}

# Through Ansible: the collection's action plugin runs this build of the module (placed in a
# throw-away copy of the collection) against a one-member Patroni 4 cluster.
ansible_suite() {
  local t0 dir=$T/ans rest=28308 pgp=25732 coll
  t0=$(date +%s)
  echo "--- through ansible-playbook (action plugin, Patroni 4, one member)"
  [[ -x $PWD/.venv/bin/ansible-playbook ]] || fail ".venv/bin/ansible-playbook missing; run scripts/venv.sh"
  for port in $rest $pgp; do
    [[ -z $(ss -ltnH "sport = :$port") ]] || fail "port $port on 127.0.0.1 is in use; stop what listens there"
  done
  mkdir -p "$dir" && chown postgres:postgres "$dir"
  coll=$T/collections/ansible_collections/matrixha/stack
  mkdir -p "$coll"
  cp -a collection/. "$coll/"
  cp galaxy.yml "$coll/"
  install -D -m 0755 "$MOD" "$coll/bin/patroni_cluster_linux_$(uname -m)"
  cat >"$dir/play.yml" <<'PLAY'
- name: matrixha.stack.patroni_cluster | through the action plugin
  hosts: localhost
  gather_facts: false
  vars:
    t_common: &t_common
      api_url: "http://127.0.0.1:{{ t_rest }}"
      api_username: patroni
      api_password: "{{ t_api_pw }}"
  tasks:
    - name: Render the member configuration
      matrixha.stack.patroni_cluster:
        <<: *t_common
        action: config
        path: "{{ t_dir }}/pg1.yml"
        scope: mhaans
        name: pg1
        node_address: 127.0.0.1
        restapi_port: "{{ t_rest | int }}"
        postgres_port: "{{ t_pgp }}"  # a string (extra var): the module accepts it
        etcd3_hosts: ["127.0.0.1:{{ t_etcd }}"]
        data_dir: "{{ t_dir }}/pg1"
        bin_dir: /usr/lib/postgresql/15/bin
        pgpass: "{{ t_dir }}/pg1.pgpass"
        unix_socket_dir: "{{ t_sock }}"
        superuser_password: "{{ t_su_pw }}"
        replication_password: "{{ t_repl_pw }}"
        cluster_networks: [127.0.0.0/8]
        reload: rest
        dcs: {ttl: 20, loop_wait: 2, retry_timeout: 5, parameters: {max_connections: 100}}
        local_parameters: {shared_buffers: 32MB}
      register: t_config
      tags: [config]
    - name: Start Patroni
      ansible.builtin.shell: >-
        setpriv --reuid=postgres --regid=postgres --init-groups -- {{ t_patroni }} {{ t_dir }}/pg1.yml
        >{{ t_dir }}/pg1.log 2>&1 & echo $! >{{ t_dir }}/patroni.pid
      changed_when: true
      when: t_phase == 'first'
    - name: Wait for the leader
      matrixha.stack.patroni_cluster:
        <<: *t_common
        action: wait_for
        condition: leader
        timeout: 60
    - name: Keep the dynamic configuration
      matrixha.stack.patroni_cluster:
        <<: *t_common
        action: dynamic_config
        dcs: {parameters: {work_mem: 4MB, wal_compression: on}}
      register: t_dcs
    - name: Ensure the database
      matrixha.stack.patroni_cluster:
        <<: *t_common
        action: database
        db_name: synapse
        db_owner: synapse
        db_owner_password: "{{ t_db_pw }}"
        login_password: "{{ t_su_pw }}"
      register: t_db
    - name: Read the cluster
      matrixha.stack.patroni_cluster:
        <<: *t_common
        action: facts
    - name: Check what an operator would check
      ansible.builtin.assert:
        that:
          - patroni_cluster.leader == 'pg1'
          - (t_config is changed) == (t_phase == 'first')
          - (t_dcs is changed) == (t_phase == 'first')
          - (t_db is changed) == (t_phase == 'first')
          - >-
            t_dcs.patch == ({'postgresql': {'parameters': {'work_mem': '4MB', 'wal_compression': 'on'}}}
            if t_phase == 'first' else {})
        fail_msg: "phase {{ t_phase }}: config={{ t_config.changed }} dcs={{ t_dcs.changed }} db={{ t_db.changed }} leader={{ patroni_cluster.leader }}"
PLAY
  local vars
  vars=$(jq -n --arg d "$dir" --arg r "$rest" --arg p "$pgp" --arg e "$ETCD_CLIENT" --arg s "$T/sock" --arg b "$PATRONI4" \
    --arg a "$API_PW" --arg su "$SUPER_PW" --arg re "$REPL_PW" --arg db "$SYNAPSE_PW" \
    '{t_dir:$d, t_rest:$r, t_pgp:$p, t_etcd:$e, t_sock:$s, t_patroni:$b, t_api_pw:$a, t_su_pw:$su, t_repl_pw:$re, t_db_pw:$db}')
  DATADIRS+=("$dir/pg1")
  local phase out
  for phase in check first second; do
    local extra=()
    [[ $phase == check ]] && extra=(--check --diff --tags config)
    out=$(MATRIXHA_TEST_NO_SCRUB=1 ANSIBLE_COLLECTIONS_PATH=$T/collections ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
      "$PWD/.venv/bin/ansible-playbook" -i localhost, -c local -e "$vars" -e "t_phase=$phase" -e "ansible_python_interpreter=$PWD/.venv/bin/python" -v "${extra[@]}" "$dir/play.yml" 2>&1) \
      || { echo "$out" | tail -n 40; fail "ansible-playbook ($phase) failed"; }
    if [[ -f $dir/patroni.pid && ${#PIDS[@]} -eq 0 ]]; then PIDS+=("$(cat "$dir/patroni.pid")"); fi
    if [[ $phase == check ]]; then
      [[ ! -e $dir/pg1.yml ]] || fail "ansible --check wrote $dir/pg1.yml"
      grep -q '^+etcd3:' <<<"$out" || fail "ansible --check --diff shows no diff: $out"
    fi
    for s in "$SUPER_PW" "$REPL_PW" "$API_PW" "$SYNAPSE_PW"; do
      [[ $out != *"$s"* ]] || fail "ansible-playbook ($phase, -v) printed a secret"
    done
    PASS=$((PASS + 1))
  done
  stop_members
  echo "--- ansible suite passed in $(( $(date +%s) - t0 )) s"
}

# Static bad input: fails before touching anything.
mod '{"action":"config","scope":"s","name":"n","node_address":"127.0.0.1","etcd3_hosts":["127.0.0.1:2379"],
      "data_dir":"/tmp/x","bin_dir":"/tmp/y","superuser_password":"aaaaaaaaaaaaaaaaaaaaaaaa","replication_password":"bbbbbbbbbbbbbbbbbbbbbbbb",
      "cluster_networks":["127.0.0.0/8"],"path":"/tmp/never-written.yml","dcs":{"ttl":20,"loop_wait":10,"retry_timeout":10}}'
fails_with "bad ttl arithmetic" "dcs.ttl: loop_wait (10) + 2 × retry_timeout (10) = 30 exceeds ttl (20)"
[[ ! -e /tmp/never-written.yml ]] || fail "an invalid config was written"
mod '{"action":"config","scope":"s","name":"n","node_address":"0.0.0.0","etcd3_hosts":["127.0.0.1:2379"]}'
fails_with "listen on every address" "node_address: 0.0.0.0 listens on every address"
mod '{"action":"failover"}'
fails_with "failover without candidate" "candidate: is required"
mod '{"action":"facts","candidate":"pg2"}'
fails_with "a parameter of another action" "candidate: is not used by action facts (only by switchover, failover)"
mod '{"action":"config","scope":"s","name":"n","node_address":"127.0.0.1","etcd3_hosts":["127.0.0.1:2379"],
      "data_dir":"/tmp/x","bin_dir":"/tmp/y","superuser_password":"short-but-16-chr","replication_password":"bbbbbbbbbbbbbbbbbbbbbbbb",
      "cluster_networks":["127.0.0.0/8"],"path":"/tmp/never-written.yml"}'
fails_with "a password below the shared minimum (pg_auth::MIN_PASSWORD_LEN)" "superuser_password: is shorter than 24 characters"

start_etcd
# MATRIXHA_PATRONI_SUITES picks suites while debugging (default: all three).
for s in ${MATRIXHA_PATRONI_SUITES:-4 tls ansible 3}; do
  case $s in
    4) suite 4 "$PATRONI4" 28108 25532 ;;
    tls) tls_suite ;;
    ansible) ansible_suite ;;
    3) suite 3 "$PATRONI3" 28008 25432 ;;
    *) fail "unknown suite '$s' in MATRIXHA_PATRONI_SUITES (choose from: 4 tls ansible 3)" ;;
  esac
done
echo "=== 35-patroni: $PASS checks passed in $(( $(date +%s) - stage_start )) s"
