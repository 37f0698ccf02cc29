#!/usr/bin/env bash
# Builds the module binaries for every architecture, places them in the collection and
# runs `ansible-galaxy collection build`: dist/matrixha-stack-<version>.tar.gz.
#   MATRIXHA_TARGETS="x86_64"  builds one architecture only (development).
set -euo pipefail
cd "$(dirname "$0")/.."

modules=(coturn_config patroni_cluster pgbouncer_pool minio_bucket livekit_node)
arches=(${MATRIXHA_TARGETS:-x86_64 aarch64})
version=$(sed -n 's/^version: *//p' galaxy.yml)

# Honour CARGO_TARGET_DIR: a stale binary from target/ must never be packaged.
target_dir=${CARGO_TARGET_DIR:-target}
pkgs=()
for m in "${modules[@]}"; do pkgs+=(-p "$m"); done
for arch in "${arches[@]}"; do
  target="$arch-unknown-linux-musl"
  echo "build-collection: compiling ${modules[*]} for $target"
  cargo build --quiet --release --locked --target "$target" "${pkgs[@]}"
  for m in "${modules[@]}"; do
    install -D -m 0755 "$target_dir/$target/release/$m" "collection/bin/${m}_linux_$arch"
  done
done

# Package from a staging copy so the tarball holds only the collection, whatever the
# repository root also contains.
stage=target/collection-stage/ansible_collections/matrixha/stack
rm -rf target/collection-stage
mkdir -p "$stage" dist
cp -a collection/. "$stage/"
cp galaxy.yml README.md "$stage/"
[[ -f LICENSE ]] && cp LICENSE "$stage/"
# Binaries of an architecture not built this time must not leak in from an older build.
for f in "$stage"/bin/*_linux_*; do
  keep=0
  for arch in "${arches[@]}"; do [[ $f == *_linux_$arch ]] && keep=1; done
  ((keep)) || rm -f "$f"
done
.venv/bin/ansible-galaxy collection build --force --output-path dist "$stage" >/dev/null
echo "build-collection: dist/matrixha-stack-$version.tar.gz ($(du -h "dist/matrixha-stack-$version.tar.gz" | cut -f1))"
