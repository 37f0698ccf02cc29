#!/usr/bin/env bash
# Installs what the build and the tests need on a Debian 12 machine, when missing:
# Debian packages (services the tests run for real), the Rust musl targets, .venv/.
set -euo pipefail
cd "$(dirname "$0")/.."

# One package list for everything; each line says who needs it.
packages=(
  musl-tools clang llvm         # musl builds; C code in crates for aarch64 (clang, llvm-ar)
  postgresql postgresql-contrib # live tests: patroni_cluster, pgbouncer_pool
  pgbouncer                     # live tests: pgbouncer_pool
  patroni etcd-server etcd-client # live tests: patroni_cluster (Debian's Patroni 3.0.2)
  python3-venv openssl          # live tests: patroni_cluster (Patroni 4.x venv from PyPI, TLS certs)
  haproxy keepalived            # config checks, lab images
  coturn                        # live tests: coturn_config
  debootstrap docker.io         # the lab
  qemu-user-static              # runs the aarch64 module binaries in tests
  jq curl ca-certificates
  python3-psycopg2              # failover drill writer (scripts/drill.sh)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Services are started by the tests that need them, on private ports.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Rust: rustup's stable toolchain (Debian's rustc is too old for the dependencies).
if ! command -v cargo >/dev/null && [[ -x $HOME/.cargo/bin/cargo ]]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
  echo "deps: installing the Rust toolchain with rustup"
  curl --proto '=https' --tlsv1.2 -sSf -o /tmp/rustup-init \
    "https://static.rust-lang.org/rustup/dist/$(uname -m)-unknown-linux-gnu/rustup-init"
  chmod +x /tmp/rustup-init
  /tmp/rustup-init -y --profile minimal --component clippy,rustfmt >/dev/null
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if command -v rustup >/dev/null; then
  installed=$(rustup target list --installed)
  for t in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
    grep -qx "$t" <<<"$installed" || rustup target add "$t"
  done
fi

scripts/venv.sh
