#!/usr/bin/env bash
# matrixha CLI through Ansible itself: for each scale, init -> secrets (ansible-vault)
# -> check (must pass once the CHANGE_ values are filled) -> ansible-inventory parses it
# -> every role's argument_specs accept the variables it gives their hosts. Then the
# seeds' own plan must fail `check`, and the manifest refresh script must read an MDAD
# layout. (Golden files, one-invalid-plan-per-rule and secrets tests run in cargo test.)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q -p matrixha
B=$CARGO_TARGET_DIR/debug/matrixha
V=.venv/bin
[[ -x $V/ansible-playbook ]] || { echo "FAIL: $V/ansible-playbook missing: run scripts/venv.sh"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'stage-15-%s\n' "$$" >"$tmp/pw"

for scale in small medium large; do
  inv=$tmp/$scale
  "$B" init --scale "$scale" --ip-plan inventories/examples/seed-ip-plan.yml --out "$inv" >/dev/null
  out=$("$B" secrets --out "$inv/group_vars/all/vault.yml" --vault-password-file "$tmp/pw" --ansible-vault $V/ansible-vault)
  head -c 14 "$inv/group_vars/all/vault.yml" | grep -q '^\$ANSIBLE_VAULT' || { echo "FAIL: $scale vault not encrypted"; exit 1; }
  # Unfilled placeholders must fail the check.
  if "$B" check -i "$inv" --vault-password-file "$tmp/pw" --ansible-vault $V/ansible-vault >"$tmp/check.txt"; then
    echo "FAIL: $scale passed check with CHANGE_ placeholders"; exit 1
  fi
  grep -q 'CHANGE_TO_YOUR_CLIENT_SUBNETS' "$tmp/check.txt"
  sed -i 's|- CHANGE_TO_YOUR_CLIENT_SUBNETS|- 10.20.0.0/16|' "$inv/group_vars/all/main.yml"
  sed -i 's|CHANGE_TO_PATH_OF_[A-Z_]*|/etc/ssl/matrixha/cert.pem|' "$inv/group_vars/coturn.yml" "$inv/group_vars/front_lb.yml"
  "$B" check -i "$inv" --vault-password-file "$tmp/pw" --ansible-vault $V/ansible-vault >"$tmp/check.txt" \
    || { cat "$tmp/check.txt"; echo "FAIL: $scale filled-in plan does not pass check"; exit 1; }
  # Ansible reads the inventory and the vault the CLI wrote.
  $V/ansible-inventory -i "$inv" --vault-password-file "$tmp/pw" --host patroni1 >"$tmp/hostvars.json"
  python3 - "$tmp/hostvars.json" "$scale" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))
assert h["matrixha_node_address"] == "10.0.3.11", h
assert h["pgbouncer_pool_mode"] == "session"
assert len(h["vault_patroni_superuser_password"]) == 40
print(f"{sys.argv[2]}: patroni1 pool {h['pgbouncer_default_pool_size']}, max_connections {h['patroni_max_connections']}")
PY
  $V/ansible-playbook -i "$inv" tests/cli/validate-role-args.yml --vault-password-file "$tmp/pw" >"$tmp/play.txt" \
    || { tail -30 "$tmp/play.txt"; echo "FAIL: $scale inventory rejected by a role's argument_specs"; exit 1; }
  "$B" mdad-vars -i "$inv" --out "$inv/mdad-vars.yml" 2>/dev/null
  "$B" hosts -i "$inv" --only zone | grep -q "coturn1.chat.z3r0d3v.com." || { echo "FAIL: $scale zone"; exit 1; }
  echo "$scale: init, vault, check, ansible-inventory, argument specs, mdad-vars, hosts ok"
done

# The seeds' configuration, as written, must fail with their known defects.
if "$B" check -i inventories/examples/seed-as-written >"$tmp/seed.txt"; then
  echo "FAIL: the seeds' plan passed check"; exit 1
fi
for want in 'error\[port-clash\] patroni1: pgbouncer_listen_addresses' 'error\[pg-hba\]' 'less than the 95 needed' \
            'matrix_coturn_turn_static_auth_secret' 'matrix_synapse_caches_per_cache_factors' 'error\[mdad-migration\]'; do
  grep -q "$want" "$tmp/seed.txt" || { cat "$tmp/seed.txt"; echo "FAIL: seed check lacks $want"; exit 1; }
done
echo "seed-as-written: $(tail -1 "$tmp/seed.txt")"

# Manifest refresh on a minimal MDAD layout.
m=$tmp/mdad
mkdir -p "$m/roles/custom/matrix_playbook_migration/defaults" "$m/roles/custom/matrix_playbook_migration/tasks" \
         "$m/roles/custom/matrix-synapse/defaults" "$m/roles/custom/matrix-synapse/vars" "$m/group_vars"
printf -- "---\nmatrix_playbook_migration_expected_version: \"v2099.01.01.0\"\n" >"$m/roles/custom/matrix_playbook_migration/defaults/main.yml"
printf -- "---\nmatrix_synapse_database_host: ''\nmatrix_synapse_workers_preset: one-of-each\n  nested: 1\n" >"$m/roles/custom/matrix-synapse/defaults/main.yml"
printf -- "---\nmatrix_synapse_known_worker_types: []\n" >"$m/roles/custom/matrix-synapse/vars/main.yml"
printf -- "---\nmatrix_domain: ~\n" >"$m/group_vars/matrix_servers"
cat >"$m/roles/custom/matrix_playbook_migration/tasks/validate_config.yml" <<'YML'
- ansible.builtin.fail:
  with_items:
    - {'old': 'matrix_old_name', 'new': 'matrix_new_name'}
- ansible.builtin.fail:
  when: "vars | dict2items | selectattr('key', 'match', 'matrix_postgres_.*') | list | items2dict"
YML
python3 scripts/refresh-mdad-manifest.py --from-checkout "$m" --out "$tmp/manifest.json"
python3 - "$tmp/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
assert m["playbook"]["migration_expected_version"] == "v2099.01.01.0", m
assert set(m["settable"]) >= {"matrix_synapse_database_host", "matrix_synapse_workers_preset", "matrix_domain"}, m
assert "nested" not in m["settable"]
assert m["computed"] == {"matrix_synapse_known_worker_types": "matrix-synapse"}, m
assert m["renamed"] == {"matrix_old_name": "matrix_new_name"}, m
assert m["banned_patterns"] == ["^matrix_postgres_.+"], m
PY
echo "refresh-mdad-manifest: ok"
