#!/usr/bin/env bash
# Builds the module binaries for every architecture from this tree (cargo's incremental
# release build: a few seconds when nothing changed), places them in the collection and
# runs `ansible-galaxy collection build`: dist/matrixha-stack-<version>.tar.gz.
# Progress goes to stderr; stdout is one line, the path of the tarball just built, so a
# caller installs exactly that file:  tarball=$(scripts/build-collection.sh)
#   MATRIXHA_TARGETS="x86_64"    builds one architecture only (development, tests).
#   MATRIXHA_DIST_DIR=DIR        writes the tarball to DIR instead of dist/ (tests keep
#                                their one-architecture builds out of dist/).
set -euo pipefail
cd "$(dirname "$0")/.."
exec 3>&1 1>&2 # everything but the final path goes to stderr

modules=(coturn_config patroni_cluster pgbouncer_pool minio_bucket livekit_node)
arches=(${MATRIXHA_TARGETS:-x86_64 aarch64})
version=$(sed -n 's/^version: *//p' galaxy.yml)
dist=${MATRIXHA_DIST_DIR:-dist}

# Honour CARGO_TARGET_DIR: a stale binary from target/ must never be packaged.
target_dir=${CARGO_TARGET_DIR:-target}
stage=$target_dir/collection-stage/ansible_collections/matrixha/stack
rm -rf "$target_dir/collection-stage"
mkdir -p "$stage" "$dist"
# The staging copy holds only the collection (whatever the repository root also contains)
# and only the binaries built below: none from an older build or another architecture.
cp -a collection/. "$stage/"
rm -rf "$stage/bin"
cp galaxy.yml README.md "$stage/"
[[ -f LICENSE ]] && cp LICENSE "$stage/"

pkgs=()
for m in "${modules[@]}"; do pkgs+=(-p "$m"); done
for arch in "${arches[@]}"; do
  target="$arch-unknown-linux-musl"
  echo "build-collection: compiling ${modules[*]} for $target"
  start=$(date +%s)
  cargo build --quiet --release --locked --target "$target" "${pkgs[@]}"
  for m in "${modules[@]}"; do
    built="$target_dir/$target/release/$m"
    install -D -m 0755 "$built" "$stage/bin/${m}_linux_$arch"
    # collection/bin too, for running a binary by hand (stage 25 compares both builds).
    install -D -m 0755 "$built" "collection/bin/${m}_linux_$arch"
  done
  echo "build-collection: $target built in $(( $(date +%s) - start )) s"
done

tarball="$dist/matrixha-stack-$version.tar.gz"
rm -f "$tarball"
.venv/bin/ansible-galaxy collection build --force --output-path "$dist" "$stage" >/dev/null
[[ -f $tarball ]] || { echo "build-collection: ansible-galaxy did not write $tarball"; exit 1; }
echo "build-collection: $tarball ($(du -h "$tarball" | cut -f1); ${arches[*]})"
readlink -f "$tarball" >&3
