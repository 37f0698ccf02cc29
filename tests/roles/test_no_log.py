"""Roles and playbooks never print a secret: the static audit (secret_audit.py) over the
real collection and over two fixtures, and one live run of the db_vip role's Keepalived
template in --check --diff -vvv on localhost, with and without its `diff: false`.

Run by tests/stages/12-ansible-lint.sh; needs the project venv (Ansible), not Docker.
"""

import copy
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import secret_audit  # noqa: E402

FIXTURES = os.path.join(HERE, "fixtures")
PLAYBOOK = os.path.join(ROOT, ".venv", "bin", "ansible-playbook")


def findings(collection, playbooks=()):
    found, _ = secret_audit.audit(collection, playbooks, root=collection)
    return found


class StaticAudit(unittest.TestCase):
    def test_collection_roles_and_playbooks_have_no_finding(self):
        found = findings(os.path.join(ROOT, "collection"), [os.path.join(ROOT, "playbooks")])
        self.assertEqual([], [str(f) for f in found], "\n".join(str(f) for f in found))

    def test_the_collections_secrets_are_recognised(self):
        _, secret = secret_audit.audit(os.path.join(ROOT, "collection"), [], root=ROOT)
        for name in ("db_vip_vrrp_auth_pass", "coturn_static_auth_secret", "patroni_superuser_password",
                     "patroni_replication_password", "patroni_restapi_password", "patroni_synapse_db_password",
                     "pgbouncer_admin_password", "pgbouncer_synapse_db_password",
                     "pgbouncer_verifier_source_password"):
            self.assertIn(name, secret)
        self.assertNotIn("etcd_cluster_token", secret)

    def test_every_leak_in_the_leaky_fixture_is_found(self):
        found = findings(os.path.join(FIXTURES, "leaky"))
        got = sorted((os.path.relpath(f.path, "roles/leaky"), f.line) for f in found)
        want = sorted([
            ("meta/argument_specs.yml", 11),  # secret option without no_log
            ("meta/argument_specs.yml", 14),  # list of {name, password} without no_log
            ("tasks/main.yml", 2),  # template using a derived secret, no diff: false
            ("tasks/main.yml", 8),  # template src the audit cannot read
            ("tasks/main.yml", 15),  # set_fact of a vault_* variable, no no_log
            ("tasks/main.yml", 19),  # lineinfile: diff off, but line echoed in the result
            ("tasks/main.yml", 25),  # module option not documented as no_log
            ("tasks/main.yml", 30),  # secret in a task name
            ("tasks/main.yml", 36),  # copy of a private key file without diff: false
            ("tasks/main.yml", 43),  # loop over secret names read with lookup('vars')
            ("tasks/main.yml", 48),  # var rendered from a template that holds a secret
            ("tasks/main.yml", 52),  # secret in a loop (label) of a module task
            ("handlers/main.yml", 2),  # handler passing a password to uri
        ])
        self.assertEqual(want, got, "\n".join(str(f) for f in found))

    def test_the_tidy_fixture_passes(self):
        found = findings(os.path.join(FIXTURES, "tidy"))
        self.assertEqual([], [str(f) for f in found])

    def test_each_finding_names_the_fix(self):
        for f in findings(os.path.join(FIXTURES, "leaky")):
            self.assertIn("Fix: ", f.problem, str(f))

    def test_cli_exits_non_zero_on_findings(self):
        audit = os.path.join(HERE, "secret_audit.py")
        bad = subprocess.run([sys.executable, audit, os.path.join(FIXTURES, "leaky")], capture_output=True, text=True)
        self.assertEqual(bad.returncode, 1, bad.stdout + bad.stderr)
        good = subprocess.run([sys.executable, audit, os.path.join(FIXTURES, "tidy")], capture_output=True, text=True)
        self.assertEqual(good.returncode, 0, good.stdout + good.stderr)


@unittest.skipUnless(os.access(PLAYBOOK, os.X_OK), "needs the project venv: scripts/venv.sh")
class LiveKeepalivedDiff(unittest.TestCase):
    """The role's own Keepalived template task, run by Ansible on localhost in check mode
    with --diff and -vvv: the VRRP password must not appear. The same task without its
    `diff: false` must print it, which proves the check can see a leak."""

    TASK = "Render the Keepalived configuration"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="matrixha-nolog-")
        # At most 8 characters (VRRPv2 PASS); random so no other output contains it by chance.
        cls.secret = "k" + secrets.token_hex(4)[:7]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_role(self, label, edit_task):
        """Copy roles/db_vip, keep only the Keepalived template task (edit_task may change
        it), run the role with its argument_specs in --check --diff -vvv; return the output."""
        base = os.path.join(self.tmp.name, label)
        role = os.path.join(base, "roles", "db_vip")
        shutil.copytree(os.path.join(ROOT, "collection", "roles", "db_vip"), role)
        with open(os.path.join(role, "tasks", "keepalived.yml")) as f:
            task = next(t for t in yaml.safe_load(f) if t.get("name") == self.TASK)
        task = copy.deepcopy(task)
        task["ansible.builtin.template"]["dest"] = os.path.join(base, "keepalived.conf")
        task.pop("notify", None)  # the handler would reload this machine's Keepalived
        edit_task(task)
        with open(os.path.join(role, "tasks", "main.yml"), "w") as f:
            yaml.safe_dump([task], f)
        with open(os.path.join(base, "inventory.yml"), "w") as f:
            yaml.safe_dump({"all": {"children": {"db_vip": {"hosts": {
                "localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                "peer2": {"db_vip_node_address": "192.0.2.12"}}}}}}, f)
        with open(os.path.join(base, "play.yml"), "w") as f:
            f.write("- name: Keepalived template only\n  hosts: localhost\n  gather_facts: false\n"
                    "  roles:\n    - role: db_vip\n")
        extra = {"db_vip_address": "192.0.2.10", "db_vip_node_address": "192.0.2.11", "db_vip_interface": "lo",
                 "db_vip_vrrp_auth_pass": self.secret}
        env = dict(os.environ, ANSIBLE_ROLES_PATH=os.path.join(base, "roles"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
        env.pop("ANSIBLE_CONFIG", None)
        p = subprocess.run([PLAYBOOK, "-i", os.path.join(base, "inventory.yml"), os.path.join(base, "play.yml"),
                            "--check", "--diff", "-vvv", "-e", json.dumps(extra)],
                           capture_output=True, text=True, env=env, cwd=base, timeout=120)
        out = p.stdout + p.stderr
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("changed: [localhost]", out, out)
        self.assertFalse(os.path.exists(os.path.join(base, "keepalived.conf")), "check mode wrote the file")
        return out

    def test_role_task_does_not_print_auth_pass(self):
        out = self.run_role("as-is", lambda task: None)
        self.assertIn("Validating arguments against arg spec", out)
        self.assertNotIn(self.secret, out)

    def test_without_diff_false_the_same_run_prints_it(self):
        out = self.run_role("no-diff-false", lambda task: task.pop("diff", None))
        self.assertIn("auth_pass " + self.secret, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
