#!/usr/bin/env bash
# pgbench TPS directly against the primary and through PgBouncer, with persistent connections and
# with a new connection per transaction (-C), and the ratios (targets: >= 0.8x persistent, >= 2x -C).
#
# Local (default): PostgreSQL 15 (SCRAM-only pg_hba) in a temp dir, an HAProxy TCP hop standing in
# for the writer VIP (when haproxy is installed), and PgBouncer configured by the
# pgbouncer_pool module itself: pgbench -> PgBouncer -> HAProxy -> PostgreSQL, against
# pgbench -> PostgreSQL. All on 127.0.0.1 private ports; everything is stopped at the end.
#
# Lab: set BENCH_DIRECT=host:port (the primary or writer VIP), BENCH_POOLED=host:port (a PgBouncer),
# BENCH_USER, BENCH_PASSWORD, BENCH_DB to measure an existing deployment instead.
#
# Knobs: BENCH_SECONDS (5 per run), BENCH_ROUNDS (3; the four runs interleaved per round, medians
# reported, so load that drifts during the bench hits both paths alike), BENCH_CLIENTS (8),
# BENCH_THREADS (= clients: pgbench -C connects synchronously per thread, and Synapse processes
# connect in parallel), BENCH_SCALE (10).
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
threads=${BENCH_THREADS:-${BENCH_CLIENTS:-8}}
clients=${BENCH_CLIENTS:-8}
scale=${BENCH_SCALE:-10}
pg_bin=/usr/lib/postgresql/15/bin

need() { command -v "$1" >/dev/null || { echo "bench: $1 missing; run scripts/deps.sh" >&2; exit 1; }; }
need pgbench
need psql

as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [[ -n ${BENCH_DIRECT:-} && -n ${BENCH_POOLED:-} ]]; then
  direct_host=${BENCH_DIRECT%:*} direct_port=${BENCH_DIRECT##*:}
  pool_host=${BENCH_POOLED%:*} pool_port=${BENCH_POOLED##*:}
  user=${BENCH_USER:?set BENCH_USER} db=${BENCH_DB:-synapse}
  export PGPASSWORD=${BENCH_PASSWORD:?set BENCH_PASSWORD}
  path_label="PgBouncer $BENCH_POOLED -> writer VIP -> primary"
  direct_label="primary $BENCH_DIRECT"
else
  [[ -x $pg_bin/initdb && -x /usr/sbin/pgbouncer ]] || { echo "bench: PostgreSQL 15 or PgBouncer missing; run scripts/deps.sh" >&2; exit 1; }
  tmp=$(mktemp -d /tmp/pgbouncer-bench.XXXXXX)
  chmod 755 "$tmp"
  cleanup() {
    [[ -f $tmp/pgbouncer.pid ]] && kill -INT "$(cat "$tmp/pgbouncer.pid")" 2>/dev/null || true
    [[ -f $tmp/haproxy.pid ]] && kill "$(cat "$tmp/haproxy.pid")" 2>/dev/null || true
    as_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$tmp"
  }
  trap cleanup EXIT
  super_pw="bench-super-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
  user=synapse db=synapse
  user_pw="bench-synapse-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
  admin_pw="bench-admin-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
  pg_port=$(free_port) vip_port=$(free_port) pool_port=$(free_port)
  printf '%s' "$super_pw" > "$tmp/pw"
  [[ $(id -u) == 0 ]] && chown -R postgres:postgres "$tmp"
  as_pg "$pg_bin/initdb" -D "$tmp/pg" -U postgres --auth=scram-sha-256 --pwfile="$tmp/pw" --no-sync -E UTF8 >/dev/null
  printf 'local all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n' > "$tmp/pg/pg_hba.conf"
  as_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" -w -t 30 \
    -o "-p $pg_port -k $tmp -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB" start >/dev/null
  PGPASSWORD=$super_pw psql -X -q "host=127.0.0.1 port=$pg_port user=postgres dbname=postgres" \
    -c "CREATE ROLE synapse LOGIN PASSWORD '$user_pw'" -c "CREATE DATABASE synapse OWNER synapse"

  # The writer VIP's HAProxy hop (TCP, as the db_vip role runs it), when HAProxy is here.
  upstream_port=$pg_port
  path_label="PgBouncer -> PostgreSQL"
  if command -v haproxy >/dev/null; then
    cat > "$tmp/haproxy.cfg" <<CFG
global
  maxconn 2000
  pidfile $tmp/haproxy.pid
defaults
  mode tcp
  timeout connect 2s
  timeout client 1h
  timeout server 1h
listen writer_vip
  bind 127.0.0.1:$vip_port
  server primary 127.0.0.1:$pg_port
CFG
    haproxy -D -f "$tmp/haproxy.cfg"
    upstream_port=$vip_port
    path_label="PgBouncer -> HAProxy (writer VIP stand-in) -> PostgreSQL"
  fi

  module=collection/bin/pgbouncer_pool_linux_x86_64
  if [[ ! -x $module ]]; then
    CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target} cargo build -q -p pgbouncer_pool
    module=${CARGO_TARGET_DIR:-target}/debug/pgbouncer_pool
  fi
  owner=null
  [[ $(id -u) == 0 ]] && owner='"postgres"'
  cat > "$tmp/args.json" <<JSON
{"path": "$tmp/pgbouncer.ini", "auth_file": "$tmp/userlist.txt",
 "listen_addr": ["127.0.0.1"], "listen_port": $pool_port, "unix_socket_dir": "$tmp",
 "pidfile": "$tmp/pgbouncer.pid", "logfile": "$tmp/pgbouncer.log", "owner": $owner, "group": $owner,
 "admin_users": ["pgb_admin"],
 "users": [{"name": "synapse", "password": "$user_pw"}, {"name": "pgb_admin", "password": "$admin_pw"}],
 "databases": [{"name": "synapse", "host": "127.0.0.1", "port": $upstream_port}],
 "default_pool_size": $((clients + 4)), "max_client_conn": 500,
 "verifier_source": {"host": "127.0.0.1", "port": $pg_port, "password": "$super_pw"},
 "service_action": "none"}
JSON
  result=$("$module" "$tmp/args.json")
  [[ $(jq -r .failed <<<"$result") == false ]] || { echo "pgbouncer_pool failed: $result" >&2; exit 1; }
  rm -f "$tmp/args.json"
  as_pg /usr/sbin/pgbouncer -d "$tmp/pgbouncer.ini"
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$pool_port") 2>/dev/null && break; sleep 0.1; done
  direct_host=127.0.0.1 direct_port=$pg_port pool_host=127.0.0.1
  export PGPASSWORD=$user_pw
  direct_label="PostgreSQL 15 on 127.0.0.1"
fi

pgbench -i -q -s "$scale" -h "$direct_host" -p "$direct_port" -U "$user" "$db" >/dev/null 2>&1

tps() { # host port extra-args...
  local host=$1 port=$2; shift 2
  pgbench -n -c "$clients" -j "$threads" -T "$seconds" -h "$host" -p "$port" -U "$user" "$@" "$db" 2>&1 |
    sed -n 's/^tps = \([0-9.]*\).*/\1/p' | tail -1
}

echo "pgbench: $clients clients, $rounds rounds x $seconds s per run, scale $scale, TPC-B-like; SCRAM-SHA-256 everywhere"
echo "direct: $direct_label"
echo "pooled: $path_label"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
results=()
for r in $(seq "$rounds"); do
  d_p=$(tps "$direct_host" "$direct_port")
  p_p=$(tps "$pool_host" "$pool_port")
  d_c=$(tps "$direct_host" "$direct_port" -C)
  p_c=$(tps "$pool_host" "$pool_port" -C)
  for v in "$d_p" "$p_p" "$d_c" "$p_c"; do
    [[ -n $v ]] || { echo "bench: a pgbench run printed no tps" >&2; exit 1; }
  done
  echo "round $r: direct $d_p / pooled $p_p tps persistent; direct $d_c / pooled $p_c tps with -C"
  results+=("$d_p $p_p $d_c $p_c")
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "${results[@]}" <<'PY'
import statistics, sys
rows = [list(map(float, a.split())) for a in sys.argv[1:]]
dp, pp, dc, pc = (statistics.median(c) for c in zip(*rows))
print(f"{'median of rounds':28}{'direct':>12}{'pooled':>12}{'ratio':>8}  target")
print(f"{'persistent connections':28}{dp:12.1f}{pp:12.1f}{pp/dp:8.2f}  >= 0.80 {'ok' if pp/dp >= 0.8 else 'MISSED'}")
print(f"{'new connection per tx (-C)':28}{dc:12.1f}{pc:12.1f}{pc/dc:8.2f}  >= 2.00 {'ok' if pc/dc >= 2 else 'MISSED'}")
PY
