#!/usr/bin/env bash
# Builds the lab image when its recipe changed, and only then:
#   matrixha/lab-debian12-base:<hash>  debootstrap (Debian 12 minbase + systemd) + docker import
#   matrixha/lab-debian12:<hash>       docker build FROM the base: the packages roles use
#   matrixha/lab-debian12:latest       points at the newest roles layer
# The hashes cover the recipe files (lab/image/**) and the CA certificates baked in, so an
# unchanged recipe costs one `docker image inspect`. No registry is involved: the base comes
# from Debian's mirror, the second layer from the base.
#
# Options (environment):
#   MATRIXHA_LAB_MIRROR   Debian mirror for debootstrap (default: the first URIs of this
#                         host's /etc/apt/sources.list.d/debian.sources, else deb.debian.org)
#   MATRIXHA_LAB_CA_DIR   directory of *.crt to trust inside the image (default
#                         /usr/local/share/ca-certificates; empty string = trust none).
#                         Needed when HTTPS leaves through a TLS-inspecting proxy.
#   --force               rebuild both layers even when the tags exist
# Prints the time each step took.
set -euo pipefail
cd "$(dirname "$0")/.."
recipe=lab/image
state=${MATRIXHA_LAB_STATE:-$PWD/.lab}
force=0
[[ ${1:-} == --force ]] && force=1

scripts/docker-up.sh

hash_of() { sha256sum "$@" | sha256sum | cut -c1-12; }

base_hash=$(hash_of "$recipe/base/packages.txt" "$recipe/base/setup.sh")
base_tag="matrixha/lab-debian12-base:$base_hash"

ca_dir=${MATRIXHA_LAB_CA_DIR-/usr/local/share/ca-certificates}
ca_files=()
if [[ -n $ca_dir && -d $ca_dir ]]; then
  mapfile -t ca_files < <(find "$ca_dir" -maxdepth 1 -name '*.crt' -type f | sort)
fi
roles_hash=$( { echo "$base_hash"; sha256sum "$recipe"/roles/Dockerfile "$recipe"/roles/packages.txt \
  "$recipe"/roles/setup.sh; ((${#ca_files[@]})) && cat "${ca_files[@]}"; true; } | sha256sum | cut -c1-12)
roles_tag="matrixha/lab-debian12:$roles_hash"

mirror=${MATRIXHA_LAB_MIRROR:-}
if [[ -z $mirror && -r /etc/apt/sources.list.d/debian.sources ]]; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
mirror=${mirror:-http://deb.debian.org/debian}

total_start=$(date +%s)
if ((force)) || ! docker image inspect "$base_tag" >/dev/null 2>&1; then
  start=$(date +%s)
  echo "lab-image: debootstrap bookworm from $mirror -> $base_tag"
  rootfs=$(mktemp -d "${TMPDIR:-/tmp}/matrixha-rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  include=$(grep -v -e '^#' -e '^$' "$recipe/base/packages.txt" | paste -sd, -)
  debootstrap --variant=minbase --include="$include" bookworm "$rootfs" "$mirror" \
    >"$state/debootstrap.log" 2>&1 || {
    tail -n 30 "$state/debootstrap.log" >&2
    exit 1
  }
  install -m 0755 "$recipe/base/setup.sh" "$rootfs/tmp/setup.sh"
  chroot "$rootfs" /bin/sh /tmp/setup.sh
  rm -f "$rootfs/tmp/setup.sh"
  # container=docker makes systemd skip what a container cannot do. (docker import
  # cannot set STOPSIGNAL; the roles layer's Dockerfile does.)
  tar -C "$rootfs" --numeric-owner -c . | docker import \
    --change 'ENV container=docker' \
    --change "LABEL org.matrixha.lab.recipe=base-$base_hash" \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --message "matrixha lab base, recipe $base_hash" - "$base_tag" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
  echo "lab-image: base built in $(($(date +%s) - start)) s"
else
  echo "lab-image: base $base_tag cached"
fi

if ((force)) || ! docker image inspect "$roles_tag" >/dev/null 2>&1; then
  start=$(date +%s)
  echo "lab-image: roles layer -> $roles_tag"
  ctx=$(mktemp -d "${TMPDIR:-/tmp}/matrixha-ctx.XXXXXX")
  trap 'rm -rf "$ctx"' EXIT
  cp "$recipe"/roles/Dockerfile "$recipe"/roles/packages.txt "$recipe"/roles/setup.sh "$ctx/"
  mkdir "$ctx/ca"
  ((${#ca_files[@]})) && cp "${ca_files[@]}" "$ctx/ca/"
  # Host network: the build needs Debian's mirror, and this does not depend on the
  # default bridge's NAT being set up.
  DOCKER_BUILDKIT=0 docker build --network host --build-arg "BASE_IMAGE=$base_tag" \
    --label "org.matrixha.lab.recipe=$roles_hash" -t "$roles_tag" "$ctx" \
    >"$state/image-build.log" 2>&1 || {
    tail -n 30 "$state/image-build.log" >&2
    exit 1
  }
  rm -rf "$ctx"
  trap - EXIT
  echo "lab-image: roles layer built in $(($(date +%s) - start)) s"
else
  echo "lab-image: roles layer $roles_tag cached"
fi
docker tag "$roles_tag" matrixha/lab-debian12:latest

# Older recipes' images are dropped so the cache holds one base and one roles layer.
docker image ls --format '{{.Repository}}:{{.Tag}}' \
  | grep -E '^matrixha/lab-debian12(-base)?:[0-9a-f]{12}$' \
  | grep -v -x -e "$base_tag" -e "$roles_tag" \
  | xargs -r docker image rm >/dev/null 2>&1 || true
# A forced rebuild leaves the previous images untagged: remove those of the lab only.
docker image prune -f --filter label=org.matrixha.lab.recipe >/dev/null
echo "lab-image: matrixha/lab-debian12:latest = $roles_tag (ready in $(($(date +%s) - total_start)) s)"
