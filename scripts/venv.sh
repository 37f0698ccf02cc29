#!/usr/bin/env bash
# Creates .venv/ with Ansible, Molecule and ansible-lint when it is missing or stale,
# plus the Ansible collections the lab needs (community.docker).
set -euo pipefail
cd "$(dirname "$0")/.."
# See the collections step below for why the `ansible` wheel is the source.
collections_from=ansible==12.3.0
stamp=.venv/.requirements.sha256
want=$( { sha256sum requirements-dev.txt; echo "$collections_from community.docker ansible.posix"; } | sha256sum | cut -d' ' -f1)
if [[ -x .venv/bin/ansible-playbook && -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -r requirements-dev.txt

# community.docker (the docker connection plugin the lab uses, and the modules Molecule's
# docker driver calls) plus its one dependency, and ansible.posix (Molecule's docker
# driver lists it as required). Ansible Galaxy is not reachable from these
# machines, so they are taken from the `ansible` community package on PyPI, whose wheel
# ships them under ansible_collections/; only these two are unpacked, into the venv's
# site-packages, where ansible-core finds collections without any configuration. Pinned:
# ansible 12.x is the release built for ansible-core 2.19 (community.docker 4.8.5).
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
wheel_dir=$(mktemp -d)
trap 'rm -rf "$wheel_dir"' EXIT
.venv/bin/pip download --quiet --no-deps -d "$wheel_dir" "$collections_from"
rm -rf "$site/ansible_collections/community/docker" \
  "$site/ansible_collections/community/library_inventory_filtering_v1" \
  "$site/ansible_collections/ansible/posix"
.venv/bin/python - "$wheel_dir"/ansible-*.whl "$site" <<'EOF'
import sys, zipfile
wheel, site = sys.argv[1], sys.argv[2]
wanted = ("ansible_collections/community/docker/",
          "ansible_collections/community/library_inventory_filtering_v1/",
          "ansible_collections/ansible/posix/")
with zipfile.ZipFile(wheel) as z:
    z.extractall(site, [n for n in z.namelist() if n.startswith(wanted)])
EOF
echo "$want" > "$stamp"
