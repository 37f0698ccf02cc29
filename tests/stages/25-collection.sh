#!/usr/bin/env bash
# The collection as users get it: both architectures built from this tree, the aarch64
# binary run under qemu, that tarball installed and its modules run by FQCN on localhost
# (tests/integration/test_collection.py); then tests/integration/test_build_fresh.py: the
# tarball holds exactly what cargo builds from the sources, a source change reaches the next
# tarball, and no stage installs a tarball it did not just build (~30 s once built).
set -euo pipefail
cd "$(dirname "$0")/../.."
tarball=$(scripts/build-collection.sh)

# The aarch64 build must behave exactly like the x86_64 one on the same arguments.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/args" <<JSON
{"path": "$tmp/turnserver.conf", "realm": "turn.example.org",
 "static_auth_secret": "0123456789abcdef0123456789abcdef", "listening_ips": ["127.0.0.1"],
 "_ansible_check_mode": true, "_ansible_diff": true}
JSON
native=$(collection/bin/coturn_config_linux_x86_64 "$tmp/args")
emulated=$(qemu-aarch64-static collection/bin/coturn_config_linux_aarch64 "$tmp/args")
if [[ "$native" != "$emulated" ]]; then
  echo "aarch64 and x86_64 binaries disagree:"; echo "$native"; echo "$emulated"; exit 1
fi
[[ $(jq -r .changed <<<"$native") == true ]] || { echo "unexpected result: $native"; exit 1; }
echo "aarch64 binary (under qemu) matches x86_64: ok"

MATRIXHA_TARBALL=$tarball .venv/bin/python tests/integration/test_collection.py
# The packaged binaries are the ones cargo builds from this tree, every time.
.venv/bin/python tests/integration/test_build_fresh.py
