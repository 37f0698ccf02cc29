"""The collection as a user gets it: build, install, run by FQCN on localhost.

Run by tests/stages/25-collection.sh, which passes the tarball scripts/build-collection.sh
just built in MATRIXHA_TARBALL; run alone, it builds the collection from this tree first
(both architectures: test_7b sends the aarch64 binary). It installs that tarball into a
temporary collections path.
"""

import json
import os
import subprocess
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, ".venv", "bin")
PLAYBOOK = os.path.join(ROOT, "tests", "integration", "collection", "coturn.yml")
ROLES_COLLECTION = os.path.join(ROOT, "tests", "integration", "collection", "roles_collection")
MODULES = ["coturn_config", "patroni_cluster", "pgbouncer_pool", "minio_bucket", "livekit_node"]
SECRET = "it-secret-7f3a9c2e5b1d4f6a8c0e2b4d6f8a1c3e"


class CollectionOnLocalhost(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        tarball = os.environ.get("MATRIXHA_TARBALL")
        if not tarball:
            # Never an older dist/ build: the binaries under test are this tree's.
            tarball = subprocess.run([os.path.join(ROOT, "scripts", "build-collection.sh")], check=True,
                                     stdout=subprocess.PIPE, text=True).stdout.strip()
        cls.tmp = tempfile.TemporaryDirectory(prefix="matrixha-it-")
        cls.collections = os.path.join(cls.tmp.name, "collections")
        cls.work = os.path.join(cls.tmp.name, "work")
        os.makedirs(cls.work)
        subprocess.run(
            [os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--force",
             "-p", cls.collections, tarball],
            check=True, capture_output=True, text=True,
        )

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def env(self, **extra):
        env = dict(os.environ)
        env.update(
            ANSIBLE_COLLECTIONS_PATH=self.collections + ":" + ROLES_COLLECTION,
            ANSIBLE_CALLBACK_PLUGINS=os.path.join(ROOT, "tests", "integration", "callback_plugins"),
            ANSIBLE_CALLBACKS_ENABLED="results_file",
            MATRIXHA_RESULTS_FILE=self.results_file,
            ANSIBLE_LOCALHOST_WARNING="false",
            ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
            ANSIBLE_NOCOLOR="1",
        )
        env.update(extra)
        return env

    def setUp(self):
        self.results_file = os.path.join(self.tmp.name, f"{self.id()}.jsonl")

    def play(self, *args, secret=SECRET, expect_rc=0, env=None, playbook=PLAYBOOK, **extra_vars):
        open(self.results_file, "w").close()
        evars = {"it_dir": self.work, "it_secret": secret, **extra_vars}
        cmd = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
               playbook, "-e", json.dumps(evars), *args]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env or self.env())
        if expect_rc is not None:
            self.assertEqual(p.returncode, expect_rc, f"rc {p.returncode}\n{p.stdout}\n{p.stderr}")
        return p

    def task_result(self, p):
        del p  # the results file holds what the last play produced
        with open(self.results_file) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        self.assertTrue(lines, "the play produced no task result")
        result = dict(lines[-1]["result"])
        result["failed"] = lines[-1]["status"] == "failed"
        return result

    def conf(self):
        with open(os.path.join(self.work, "turnserver.conf")) as f:
            return f.read()

    def test_1_run_changes_then_second_run_does_not(self):
        first = self.task_result(self.play())
        self.assertTrue(first["changed"], first)
        self.assertIn("realm=turn.example.org", self.conf())
        self.assertEqual(os.stat(os.path.join(self.work, "turnserver.conf")).st_mode & 0o777, 0o600)
        self.assertEqual(first["turn_uris"][0], "turn:turn.example.org:3478?transport=udp")
        second = self.task_result(self.play())
        self.assertFalse(second["changed"], second)

    def test_2_check_mode_predicts_change_and_touches_nothing(self):
        self.play()
        before = self.conf()
        r = self.task_result(self.play("--check", it_realm="turn2.example.org"))
        self.assertTrue(r["changed"], r)
        self.assertEqual(self.conf(), before)

    def test_3_diff_mode_shows_before_and_after_without_secret(self):
        self.play()
        p = self.play("--check", "--diff", it_realm="turn3.example.org")
        r = self.task_result(p)
        diff = r["diff"][0]
        self.assertIn("realm=turn.example.org", diff["before"])
        self.assertIn("realm=turn3.example.org", diff["after"])
        self.assertNotIn(SECRET, p.stdout + p.stderr)

    def test_4_bad_argument_fails_naming_the_parameter(self):
        p = self.play(expect_rc=2, it_port="http")
        r = self.task_result(p)
        self.assertTrue(r["failed"], r)
        self.assertTrue(r["msg"].startswith("listening_port: expected a whole number"), r["msg"])
        self.assertNotIn('"http"', r["msg"])
        self.assertNotIn("Traceback", p.stdout + p.stderr)
        self.assertNotIn("panicked", p.stdout + p.stderr)

    def test_5_invalid_value_fails_with_a_fix(self):
        r = self.task_result(self.play(expect_rc=2, secret="x7Kq2"))
        self.assertTrue(r["msg"].startswith("static_auth_secret: is shorter than 32"), r["msg"])
        self.assertIn("Fix:", r["msg"])

    def test_6_secret_appears_nowhere_in_vvv_output(self):
        # A fresh secret, so the run changes the file and logs the diff.
        secret = SECRET[::-1]
        p = self.play("-vvv", "--diff", secret=secret)
        self.assertIn("changed: [localhost]", p.stdout)
        self.assertNotIn(secret, p.stdout + p.stderr)
        self.assertIn("VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", p.stdout)

    def test_7_unsupported_architecture_fails_clearly(self):
        r = self.task_result(self.play(expect_rc=2, it_fake_arch="ppc64le"))
        self.assertIn("Could not find a binary module implementation of matrixha.stack.coturn_config "
                      "for linux ppc64le", r["msg"])

    def test_7b_dispatcher_sends_the_binary_built_for_the_host_architecture(self):
        # -vvv logs the file transferred to the host; its name carries the architecture.
        p = self.play("-vvv")
        self.assertRegex(p.stdout, r"PUT .*/bin/coturn_config_linux_x86_64 TO ")
        p = self.play("-vvv", expect_rc=None, it_fake_arch="arm64")
        self.assertRegex(p.stdout, r"PUT .*/bin/coturn_config_linux_aarch64 TO ")

    def test_7c_module_runs_from_a_role_of_another_collection(self):
        role_play = os.path.join(ROOT, "tests", "integration", "collection", "role.yml")
        r = self.task_result(self.play(playbook=role_play, it_realm="role.example.org"))
        self.assertFalse(r["failed"], r)
        self.assertIn("realm=role.example.org", self.conf())

    def test_8_ansible_doc_renders_every_module(self):
        for m in MODULES:
            p = subprocess.run([os.path.join(BIN, "ansible-doc"), f"matrixha.stack.{m}"],
                               capture_output=True, text=True, env=self.env())
            self.assertEqual(p.returncode, 0, f"{m}: {p.stderr}")
            self.assertIn(f"matrixha.stack.{m}", p.stdout)
            self.assertNotIn("UNDOCUMENTED", p.stdout)
        p = subprocess.run([os.path.join(BIN, "ansible-doc"), "matrixha.stack.coturn_config"],
                           capture_output=True, text=True, env=self.env())
        for option in ("realm", "static_auth_secret", "listening_ips", "EXAMPLES", "RETURN"):
            self.assertIn(option, p.stdout)
        listed = subprocess.run([os.path.join(BIN, "ansible-doc"), "-l", "matrixha.stack"],
                                capture_output=True, text=True, env=self.env())
        self.assertNotIn("_linux_", listed.stdout + listed.stderr, "binaries must not show as modules")


if __name__ == "__main__":
    unittest.main(verbosity=2)
