"""Static audit: no role task, handler or template prints a secret.

A secret variable is one whose name says so (password, secret, auth_pass, token, psk,
private_key), any vault_* variable, any argument_specs option marked no_log, and any
role default/var whose value is computed from one of those. A variable named *_key_src
holds the path of a file whose *content* is secret (a TLS private key).

Rules (each finding names the file, line, task and the fix):
- A task that carries a secret (in its module arguments, loop, label, environment, ...)
  has `no_log: true`, because Ansible prints a task's result (module arguments included)
  at -v. Conditionals (when/changed_when/failed_when/until) do not count: Ansible prints
  them unrendered.
- A task that writes a file (template, copy, lineinfile, ...) whose content holds a
  secret has `diff: false`, else `--diff` prints the content. template and copy keep the
  secret out of their result (the content is not a module argument, or copy's `content`
  is no_log in its own spec), so `diff: false` is enough for them.
- A matrixha.stack module masks its secret options by type, so its task may go without
  no_log (and keep showing the module's own error messages) only if every secret goes to
  an option the module documents as no_log (plugins/modules/NAME.yml).
- A task name never references a secret: names are printed even with no_log.
- Every argument_specs option that is a secret has `no_log: true`, and so has a list or
  dict option whose description says it carries passwords or secrets (unless its
  suboptions mark them).

Usage: python tests/roles/secret_audit.py [COLLECTION_DIR [PLAYBOOK_DIR ...]]
(defaults: collection/ and playbooks/ of this repository); exit status 1 on findings.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field

import jinja2
import jinja2.nodes
import yaml

SECRET_NAME = re.compile(r"password|passwd|secret|auth_pass|token|psk|private_key", re.I)
# Names the pattern catches that grant nothing. Each entry says why.
NOT_SECRET = {
    "etcd_cluster_token": "etcd's initial-cluster-token only keeps two clusters apart; it authenticates nothing",
}
# A path whose file content is a secret: a task copying it must not print a diff.
SECRET_FILE = re.compile(r"_key_src$")
CARRIES_SECRET_TEXT = re.compile(r"\b(passwords?|secrets?)\b", re.I)

CONDITIONALS = {"when", "changed_when", "failed_when", "until"}
# Task keywords (not the module or its arguments). Conditionals are listed above.
KEYWORDS = CONDITIONALS | {
    "name", "action", "local_action", "args", "register", "notify", "listen", "loop", "loop_control",
    "vars", "no_log", "diff", "check_mode", "tags", "become", "become_user", "become_method",
    "become_flags", "delegate_to", "delegate_facts", "run_once", "throttle", "retries", "delay",
    "ignore_errors", "ignore_unreachable", "environment", "timeout", "async", "poll", "any_errors_fatal",
    "connection", "module_defaults", "collections", "debugger", "port", "remote_user", "serial",
    "block", "rescue", "always",
}
# Modules that write a file and show its content in --diff.
FILE_WRITERS = {"template", "copy", "lineinfile", "blockinfile", "replace", "assemble", "ini_file", "xml"}
INCLUDES = {"import_tasks", "include_tasks", "import_role", "include_role", "import_playbook"}
MATRIXHA = "matrixha.stack."


class LineDict(dict):
    """A YAML mapping that remembers the line it starts on."""

    line = 0


class _Loader(yaml.SafeLoader):
    pass


def _map(loader, node):
    d = LineDict()
    d.line = node.start_mark.line + 1
    yield d
    d.update(loader.construct_mapping(node))


_Loader.add_constructor("tag:yaml.org,2002:map", _map)
for _tag in ("!vault", "!unsafe"):
    _Loader.add_constructor(_tag, lambda loader, node: loader.construct_scalar(node))


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)


_JINJA = jinja2.Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def names_in_jinja(text):
    """Variables a Jinja text references: free names, attribute names and string constants
    that look like names (lookup('vars', 'x'), hostvars[h]['x'], map('extract', ..., 'x'))."""
    try:
        ast = _JINJA.parse(text)
    except jinja2.TemplateSyntaxError:
        # Unparseable: fall back to every identifier-like word, which errs on the safe side.
        return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    # Every loaded name (loop variables too: harmless, they are never secret names), without
    # compiling, which would need Ansible's filters.
    names = {n.name for n in ast.find_all(jinja2.nodes.Name) if n.ctx == "load"}
    names |= {n.attr for n in ast.find_all(jinja2.nodes.Getattr)}
    names |= {n.value for n in ast.find_all(jinja2.nodes.Const) if isinstance(n.value, str) and _IDENT.match(n.value)}
    return names


def refs(value, bare=False):
    """Names referenced anywhere in a YAML value. bare: strings are Jinja expressions
    without braces (conditionals). A plain string that is exactly a name counts too (loop
    items later read with lookup('vars', item))."""
    out = set()
    if isinstance(value, dict):
        for k, v in value.items():
            out |= refs(v, bare)
    elif isinstance(value, list):
        for v in value:
            out |= refs(v, bare)
    elif isinstance(value, str):
        if bare:
            out |= names_in_jinja("{{ " + value + " }}")
        elif "{{" in value or "{%" in value:
            out |= names_in_jinja(value)
        elif _IDENT.match(value.strip()):
            out.add(value.strip())
    return out


def template_lookups(text):
    """Template files a Jinja text renders through lookup('template', 'NAME')."""
    return re.findall(r"""lookup\(\s*['"](?:ansible\.builtin\.)?template['"]\s*,\s*['"]([^'"]+)['"]""", text)


@dataclass
class Source:
    """A role, or a directory of playbooks: its task files, templates and variables."""

    name: str
    root: str
    task_files: list = field(default_factory=list)
    variables: dict = field(default_factory=dict)  # name -> value (defaults, then vars)
    specs: dict = field(default_factory=dict)  # option path -> (spec dict, file)
    template_dirs: list = field(default_factory=list)


def load_role(path):
    src = Source(os.path.basename(path), path)
    for sub in ("defaults", "vars"):
        f = os.path.join(path, sub, "main.yml")
        if os.path.isfile(f):
            src.variables.update(load_yaml(f) or {})
    spec_file = os.path.join(path, "meta", "argument_specs.yml")
    if os.path.isfile(spec_file):
        for entry in ((load_yaml(spec_file) or {}).get("argument_specs") or {}).values():
            _walk_specs(entry.get("options") or {}, "", spec_file, src.specs)
    for sub in ("tasks", "handlers"):
        d = os.path.join(path, sub)
        if os.path.isdir(d):
            src.task_files += sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith((".yml", ".yaml")))
    src.template_dirs = [os.path.join(path, "templates")]
    return src


def _walk_specs(options, prefix, path, out):
    for name, spec in options.items():
        spec = spec or {}
        out[prefix + name] = (spec, path)
        _walk_specs(spec.get("options") or {}, prefix + name + ".", path, out)


def load_playbooks(path):
    src = Source(os.path.basename(path), path)
    for dirpath, _, files in sorted(os.walk(path)):
        src.task_files += sorted(os.path.join(dirpath, f) for f in files if f.endswith((".yml", ".yaml")))
        if os.path.basename(dirpath) == "templates":
            src.template_dirs.append(dirpath)
    return src


def module_docs(collection):
    """Option -> is it a secret, per matrixha.stack module (plugins/modules/NAME.yml)."""
    docs = {}
    d = os.path.join(collection, "plugins", "modules")
    if not os.path.isdir(d):
        return docs
    for f in sorted(os.listdir(d)):
        if not f.endswith(".yml"):
            continue
        data = load_yaml(os.path.join(d, f)) or {}
        doc = data.get("DOCUMENTATION", data)
        if isinstance(doc, str):
            doc = yaml.load(doc, Loader=_Loader) or {}
        docs[f[:-4]] = {name: _doc_secret(spec or {}) for name, spec in (doc.get("options") or {}).items()}
    return docs


def _doc_secret(spec):
    desc = spec.get("description") or ""
    desc = " ".join(desc) if isinstance(desc, list) else str(desc)
    if spec.get("no_log") is True or "C(no_log)" in desc:
        return True
    return any(_doc_secret(s or {}) for s in (spec.get("suboptions") or {}).values())


def name_is_secret(name):
    return name not in NOT_SECRET and (name.startswith("vault_") or bool(SECRET_NAME.search(name)))


def secret_variables(sources):
    """name -> why it is secret, over every role and playbook directory."""
    secret = {}
    values = {}
    for src in sources:
        for name, (spec, _) in src.specs.items():
            if "." not in name and spec.get("no_log") is True:
                secret[name] = "argument_specs marks it no_log"
        for name, value in src.variables.items():
            values.setdefault(name, []).append((src, value))
    for name in set(values) | {n for src in sources for n in src.specs if "." not in n}:
        if name_is_secret(name):
            secret.setdefault(name, "its name says it is a secret")
    # A variable computed from a secret (or rendered from a template that uses one) is one.
    changed = True
    while changed:
        changed = False
        for name, defs in values.items():
            if name in secret or name in NOT_SECRET:
                continue
            for src, value in defs:
                used = refs(value)
                text = repr(value)
                for t in template_lookups(text):
                    used |= template_refs(src, t)[0]
                hit = sorted(u for u in used if u in secret or name_is_secret(u))
                if hit:
                    secret[name] = f"computed from {hit[0]}"
                    changed = True
                    break
    return secret


def template_refs(src, name):
    for d in src.template_dirs:
        path = os.path.join(d, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                return names_in_jinja(f.read()), path
    return set(), None


def action_of(task):
    for k in task:
        if k not in KEYWORDS and k not in ("__line__",):
            return k
    if "action" in task or "local_action" in task:
        a = task.get("action") or task.get("local_action")
        return (a.get("module") if isinstance(a, dict) else str(a).split()[0]) if a else None
    return None


def short(action):
    for prefix in ("ansible.builtin.", "ansible.legacy.", "community.general.", "ansible.posix."):
        if action.startswith(prefix):
            return action[len(prefix):]
    return action


@dataclass
class Finding:
    path: str
    line: int
    what: str  # "task 'NAME'" or "option NAME"
    problem: str

    def __str__(self):
        return f"{self.path}:{self.line}: {self.what}: {self.problem}"


def audit_tasks(src, path, tasks, secret, docs, root, inherited, findings):
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        if "hosts" in task or "import_playbook" in task or "ansible.builtin.import_playbook" in task:
            # A play: audit its task lists; its vars may define play-level secrets.
            play_inherited = dict(inherited)
            for k in ("no_log", "diff"):
                if k in task:
                    play_inherited[k] = task[k]
            for section in ("pre_tasks", "tasks", "post_tasks", "handlers"):
                audit_tasks(src, path, task.get(section), secret, docs, root, play_inherited, findings)
            continue
        here = dict(inherited)
        for k in ("no_log", "diff"):
            if k in task:
                here[k] = task[k]
        name = f"task '{task.get('name', '(unnamed)')}'"
        rel = os.path.relpath(path, root)
        if any(k in task for k in ("block", "rescue", "always")):
            local = dict(secret)
            _task_vars(task, local)
            for k in ("block", "rescue", "always"):
                audit_tasks(src, path, task.get(k), local, docs, root, here, findings)
            continue
        action = action_of(task)
        if action is None:
            continue
        local = dict(secret)
        _task_vars(task, local)

        def is_secret(n):
            return n in local or name_is_secret(n)

        in_name = sorted(n for n in refs(task.get("name", "")) if is_secret(n))
        if in_name:
            findings.append(Finding(rel, task.line, name, f"its name references {in_name[0]}; task names are "
                                    "printed even with no_log. Fix: name the task without the secret"))
        if short(action).split(".")[-1] in INCLUDES:
            continue
        carried = {}  # where -> secret names
        for k, v in task.items():
            if k in CONDITIONALS or k in ("name", "vars", "no_log", "diff", "register", "notify", "listen"):
                continue
            hit = sorted(n for n in refs(v) if is_secret(n))
            if hit:
                carried[k] = hit
        files = sorted(n for n in refs({k: v for k, v in task.items() if k not in CONDITIONALS | {"name"}})
                       if SECRET_FILE.search(n))
        args = task.get(action) if isinstance(task.get(action), dict) else {}
        mod = short(action)
        template_hit = []
        if mod == "template":
            tsrc = args.get("src", "")
            if "{{" in str(tsrc):
                findings.append(Finding(rel, task.line, name, "its template src is computed, so the audit cannot "
                                        "read the template. Fix: give src as a file name in templates/"))
            else:
                trefs, tpath = template_refs(src, str(tsrc))
                if tpath is None:
                    findings.append(Finding(rel, task.line, name, f"template {tsrc} not found in "
                                            f"{', '.join(os.path.relpath(d, root) for d in src.template_dirs)}"))
                template_hit = sorted(n for n in trefs if is_secret(n))
        if not carried and not template_hit and not files:
            continue
        no_log = here.get("no_log") is True
        diff_off = here.get("diff") is False
        all_hit = sorted({n for hit in carried.values() for n in hit} | set(template_hit))
        what = all_hit[0] if all_hit else files[0]
        if mod in FILE_WRITERS:
            if not diff_off:
                why = local.get(template_hit[0], "") if template_hit else ""
                how = (f"its template uses {template_hit[0]}{f' ({why})' if why.startswith('computed') else ''}"
                       if template_hit else f"it writes {what}" if all_hit
                       else f"it copies the file {what} names, whose content is secret")
                findings.append(Finding(rel, task.line, name, f"{how}, and --diff prints the file's content. "
                                        "Fix: add diff: false"))
            if not no_log:
                leaky = dict(carried)
                if mod == "copy":
                    # copy's own spec marks content no_log, and src is a path: neither is echoed.
                    leaky.pop(action, None)
                    leaky.update({f"option {a}": h for a, v in args.items() if a not in ("content", "src")
                                  for h in [sorted(n for n in refs(v) if is_secret(n))] if h})
                for where in sorted(leaky):
                    findings.append(Finding(rel, task.line, name, f"{where} carries {leaky[where][0]} and the "
                                            "result (printed at -v) echoes it. Fix: add no_log: true"))
            continue
        if not all_hit or no_log:
            continue
        if action.startswith(MATRIXHA) or mod in docs:
            options = docs.get(mod.split(".")[-1], {})
            leaky = {}
            for k, hit in carried.items():
                if k != action:
                    leaky[f"task keyword {k}"] = hit
            for a, v in args.items():
                hit = sorted(n for n in refs(v) if is_secret(n))
                if hit and not options.get(a, False):
                    leaky[f"option {a}"] = hit
            for where in sorted(leaky):
                findings.append(Finding(rel, task.line, name, f"{where} carries {leaky[where][0]}, which "
                                        f"{mod} does not document as no_log, so it may print it. Fix: pass the "
                                        "secret only through no_log options, or add no_log: true"))
            continue
        k = sorted(carried)[0]
        findings.append(Finding(rel, task.line, name, f"{k} carries {carried[k][0]} ({local.get(carried[k][0], 'secret name')}) "
                                "and Ansible prints the task's result at -v. Fix: add no_log: true"))


def _task_vars(task, local):
    for vname, vvalue in (task.get("vars") or {}).items():
        hit = sorted(n for n in refs(vvalue) if n in local or name_is_secret(n))
        if hit:
            local[vname] = f"task var computed from {hit[0]}"


def audit_specs(src, root, findings):
    for name, (spec, path) in sorted(src.specs.items()):
        rel = os.path.relpath(path, root)
        line = getattr(spec, "line", 0)
        leaf = name.split(".")[-1]
        if spec.get("no_log") is True:
            continue
        if name_is_secret(leaf):
            findings.append(Finding(rel, line, f"option {name}", "a secret option without no_log: true. "
                                    "Fix: add no_log: true"))
            continue
        desc = spec.get("description") or ""
        desc = " ".join(desc) if isinstance(desc, list) else str(desc)
        subs = spec.get("options") or {}
        if spec.get("type") in ("list", "dict", "raw") and CARRIES_SECRET_TEXT.search(desc) and not any(
                (s or {}).get("no_log") is True for s in subs.values()):
            findings.append(Finding(rel, line, f"option {name}", "its description says it carries "
                                    "passwords or secrets, but neither it nor a suboption is no_log. Fix: add "
                                    "no_log: true (or declare the secret suboption with no_log: true)"))


def audit(collection, playbook_dirs=(), root=None):
    """Findings for the roles of a collection directory and the given playbook directories."""
    root = root or os.path.dirname(os.path.abspath(collection))
    sources = []
    roles_dir = os.path.join(collection, "roles")
    if os.path.isdir(roles_dir):
        sources += [load_role(os.path.join(roles_dir, r)) for r in sorted(os.listdir(roles_dir))
                    if os.path.isdir(os.path.join(roles_dir, r))]
    sources += [load_playbooks(p) for p in playbook_dirs if os.path.isdir(p)]
    secret = secret_variables(sources)
    docs = module_docs(collection)
    findings = []
    for src in sources:
        audit_specs(src, root, findings)
        for path in src.task_files:
            data = load_yaml(path)
            if isinstance(data, list):
                audit_tasks(src, path, data, secret, docs, root, {}, findings)
    return findings, secret


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    collection = argv[1] if len(argv) > 1 else os.path.join(repo, "collection")
    playbooks = argv[2:] if len(argv) > 2 else [os.path.join(repo, "playbooks")]
    findings, secret = audit(collection, playbooks, root=repo)
    for f in sorted(findings, key=lambda f: (f.path, f.line)):
        print(f)
    print(f"secret-audit: {len(secret)} secret variables, {len(findings)} findings", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
