#!/usr/bin/env python3
"""Rebuild reference/mdad-variables.json from a matrix-docker-ansible-deploy checkout.

Usage: scripts/refresh-mdad-manifest.py --from-checkout DIR [--out reference/mdad-variables.json]

DIR is an MDAD clone after `just roles` (or `ansible-galaxy install -r requirements.yml
-p roles/galaxy/`), so the galaxy roles MDAD pins are present. The manifest lists:
  settable         every top-level variable of a role's defaults/main.yml and of
                   group_vars/matrix_servers (name -> role)
  computed         variables a role sets in vars/main.yml (overriding them breaks the
                   derivation) (name -> role)
  renamed          {'old': X, 'new': Y} items of the roles' validate_config.yml tasks
  banned_patterns  the name patterns MDAD's validation fails the play on
                   (selectattr('key', 'match', P) and varnames lookups)
`matrixha check` and `matrixha mdad-vars` read this file (built into the binary), so
rebuild matrixha after refreshing it and review the diff: a name that moved from
settable to renamed is a change to make in mdad.rs.
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys

TOP_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):(\s|$)")
RENAMED = re.compile(r"""\{\s*['"]old['"]\s*:\s*['"]([^'"]+)['"]\s*,\s*['"]new['"]\s*:\s*['"]([^'"]*)['"]\s*\}""")
MATCH = re.compile(r"""selectattr\(\s*['"]key['"]\s*,\s*['"]match['"]\s*,\s*['"]([^'"]+)['"]""")
VARNAMES = re.compile(r"""varnames['"]\s*,\s*\(?\s*['"](\^[^'"]+)['"]""")


def top_keys(path):
    """Top-level keys of a YAML file, read line by line: defaults are full of Jinja
    that a YAML loader accepts but we do not need to evaluate."""
    keys = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = TOP_KEY.match(line)
        if m:
            keys.append(m.group(1))
    return keys


def role_dirs(root):
    for base in ("roles/custom", "roles/galaxy"):
        d = root / base
        if d.is_dir():
            for r in sorted(p for p in d.iterdir() if p.is_dir()):
                yield r


def normalise(pattern):
    # `match` anchors at the start; `.*` after a prefix means "something follows".
    p = pattern if pattern.startswith("^") else "^" + pattern
    return re.sub(r"\.\*$", ".+", p)


def git(root, *args):
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def requirements(root):
    """name -> (src, version) from requirements.yml, without a YAML dependency."""
    out, cur = {}, {}
    req = root / "requirements.yml"
    if not req.is_file():
        return out
    for line in req.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\s*-?\s*(src|version|name):\s*(\S+)", line)
        if not m:
            continue
        if line.lstrip().startswith("-") and cur:
            if "name" in cur:
                out[cur["name"]] = cur
            cur = {}
        cur[m.group(1)] = m.group(2).strip("'\"")
    if "name" in cur:
        out[cur["name"]] = cur
    return out


def build(root):
    settable, computed, renamed, banned = {}, {}, {}, set()
    gv = root / "group_vars" / "matrix_servers"
    if gv.is_file():
        for k in top_keys(gv):
            settable[k] = "group_vars/matrix_servers"
    for r in role_dirs(root):
        name = r.name
        defaults = r / "defaults" / "main.yml"
        if defaults.is_file():
            for k in top_keys(defaults):
                settable.setdefault(k, name)
        vars_main = r / "vars" / "main.yml"
        if vars_main.is_file():
            for k in top_keys(vars_main):
                computed[k] = name
        for task in sorted((r / "tasks").glob("**/validate_config*.yml")) if (r / "tasks").is_dir() else []:
            text = task.read_text(encoding="utf-8", errors="replace")
            for old, new in RENAMED.findall(text):
                renamed[old] = new
            for p in MATCH.findall(text) + VARNAMES.findall(text):
                banned.add(normalise(p))
    migration = ""
    mig = root / "roles/custom/matrix_playbook_migration/defaults/main.yml"
    if mig.is_file():
        m = re.search(r"^matrix_playbook_migration_expected_version:\s*['\"]?([^'\"\s]+)", mig.read_text(encoding="utf-8"), re.M)
        migration = m.group(1) if m else ""
    for k in list(settable):
        if k in computed or k in renamed:
            del settable[k]
    roles = {}
    reqs = requirements(root)
    for name, req in sorted(reqs.items()):
        roles[name] = {
            "source": re.sub(r"^git\+https://(github\.com|gitlab\.com)/|\.git$", "", req.get("src", "")),
            "version": req.get("version", ""),
            "read_at": git(root / "roles/galaxy" / name, "rev-parse", "HEAD"),
        }
    missing = [n for n in reqs if not (root / "roles/galaxy" / n).is_dir()]
    return {
        "playbook": {
            "source": "spantaleev/matrix-docker-ansible-deploy",
            "commit": git(root, "rev-parse", "HEAD"),
            "migration_expected_version": migration,
        },
        "roles": roles,
        "roles_not_read": missing,
        "settable": dict(sorted(settable.items())),
        "computed": dict(sorted(computed.items())),
        "renamed": dict(sorted(renamed.items())),
        "banned_patterns": sorted(banned),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--from-checkout", required=True, type=pathlib.Path)
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("reference/mdad-variables.json"))
    a = ap.parse_args()
    root = a.from_checkout
    if not (root / "roles" / "custom").is_dir():
        sys.exit(f"{root} is not an MDAD checkout (no roles/custom). Fix: git clone "
                 "https://github.com/spantaleev/matrix-docker-ansible-deploy and run `just roles` in it")
    m = build(root)
    if not m["playbook"]["migration_expected_version"]:
        sys.exit("matrix_playbook_migration_expected_version not found. Fix: update this script for the new layout")
    if m["roles_not_read"]:
        print(f"warning: galaxy roles not installed, their variables are missing: {', '.join(m['roles_not_read'])}. "
              "Fix: run `just roles` in the checkout", file=sys.stderr)
    a.out.write_text(json.dumps(m, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{a.out}: {len(m['settable'])} settable, {len(m['computed'])} computed, {len(m['renamed'])} renamed, "
          f"{len(m['banned_patterns'])} banned patterns, MDAD {m['playbook']['commit'][:12]} "
          f"({m['playbook']['migration_expected_version']})")


if __name__ == "__main__":
    main()
