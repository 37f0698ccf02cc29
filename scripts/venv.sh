#!/usr/bin/env bash
# Creates .venv/ with Ansible, Molecule and ansible-lint when it is missing or stale.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [[ -x .venv/bin/ansible-playbook && -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -r requirements-dev.txt
echo "$want" > "$stamp"
