"""The collection a test installs holds the binaries built from this tree, never an older build.

Every stage that installs the collection (25, 30, 31; 60, 70, 71 through
scripts/molecule-scenario.sh) takes the path scripts/build-collection.sh prints after
building, and that script runs cargo's incremental release build every time. These tests
show that the tarball's binaries are exactly what cargo builds from the current sources,
that an older tarball, a stale collection/bin or another architecture's binary never gets
in, that a source change reaches the next tarball, and that no stage picks a tarball by
itself. Run by tests/stages/25-collection.sh (after the full build, so cargo is fresh).
"""

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, "scripts", "build-collection.sh")
ARCH = platform.machine()
TARGET = f"{ARCH}-unknown-linux-musl"
MODULES = ["coturn_config", "patroni_cluster", "pgbouncer_pool", "minio_bucket", "livekit_node"]
STALE = b"#!/bin/sh\necho stale build\n"


def build(dist, root=ROOT, **env):
    """Run build-collection.sh for this machine's architecture into dist; return the path it prints."""
    e = dict(os.environ, MATRIXHA_TARGETS=ARCH, MATRIXHA_DIST_DIR=dist, **env)
    p = subprocess.run([os.path.join(root, "scripts", "build-collection.sh")], cwd=root, env=e,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise AssertionError(f"build-collection.sh failed ({p.returncode}):\n{p.stderr}")
    lines = p.stdout.splitlines()
    assert len(lines) == 1, f"build-collection.sh must print one line (the tarball), got: {p.stdout!r}"
    return lines[0]


def cargo_artifacts(root=ROOT, env=None):
    """What cargo builds from the sources now: module -> (fresh, executable path)."""
    cmd = ["cargo", "build", "--release", "--locked", "--target", TARGET, "--message-format=json"]
    for m in MODULES:
        cmd += ["-p", m]
    p = subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True)
    out = {}
    for line in p.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") and msg["target"]["name"] in MODULES:
            out[msg["target"]["name"]] = (msg["fresh"], msg["executable"])
    return out


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def binaries(tarball):
    """bin/NAME -> sha256 of each binary in a collection tarball."""
    with tarfile.open(tarball) as t:
        return {m.name: sha256(t.extractfile(m).read()) for m in t.getmembers()
                if m.isfile() and m.name.startswith("bin/")}


def file_sha(path):
    with open(path, "rb") as f:
        return sha256(f.read())


class TarballIsThisTree(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="matrixha-fresh-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_1_tarball_binaries_are_what_cargo_builds_from_this_tree(self):
        # Other work may edit the sources between the two commands; then cargo is not fresh
        # and the pair is simply repeated (a static tree passes the first time).
        for attempt in range(3):
            started = time.monotonic()
            tarball = build(os.path.join(self.tmp, "dist"))
            took = time.monotonic() - started
            self.assertTrue(tarball.startswith(os.path.join(self.tmp, "dist") + "/"), tarball)
            # Right after the build cargo has nothing to do: target/ is what the sources give.
            artifacts = cargo_artifacts()
            self.assertEqual(sorted(artifacts), sorted(MODULES))
            if all(fresh for fresh, _ in artifacts.values()):
                break
        else:
            self.fail("cargo rebuilt modules right after build-collection.sh, three times: "
                      + ", ".join(m for m, (fresh, _) in artifacts.items() if not fresh))
        packed = binaries(tarball)
        self.assertEqual(sorted(packed), sorted(f"bin/{m}_linux_{ARCH}" for m in MODULES))
        for m, (_, exe) in artifacts.items():
            self.assertEqual(packed[f"bin/{m}_linux_{ARCH}"], file_sha(exe), f"{m}: the tarball holds another build")
        print(f"\n  build-collection.sh ({ARCH}) took {took:.1f} s", end=" ", flush=True)

    def test_2_an_older_tarball_or_a_stale_bin_never_gets_in(self):
        dist = os.path.join(self.tmp, "dist")
        os.makedirs(dist)
        # A newer-looking older build: `ls -t dist/*.tar.gz | head -1` would pick it.
        decoy = os.path.join(dist, "matrixha-stack-0.0.1.tar.gz")
        with open(decoy, "wb") as f:
            f.write(b"not this one")
        future = time.time() + 3600
        os.utime(decoy, (future, future))
        # Stale binaries in collection/bin, for this and for another architecture.
        other = "aarch64" if ARCH == "x86_64" else "x86_64"
        bin_dir = os.path.join(ROOT, "collection", "bin")
        os.makedirs(bin_dir, exist_ok=True)
        saved = {}
        for arch in (ARCH, other):
            path = os.path.join(bin_dir, f"coturn_config_linux_{arch}")
            if os.path.exists(path):
                saved[path] = os.path.join(self.tmp, os.path.basename(path))
                shutil.copy2(path, saved[path])
            with open(path, "wb") as f:
                f.write(STALE)
        try:
            tarball = build(dist)
            packed = binaries(tarball)
        finally:
            for arch in (ARCH, other):
                path = os.path.join(bin_dir, f"coturn_config_linux_{arch}")
                if path in saved:
                    shutil.copy2(saved[path], path)
                elif arch == other:
                    os.remove(path)
        self.assertNotEqual(os.path.realpath(tarball), os.path.realpath(decoy))
        self.assertNotIn(f"bin/coturn_config_linux_{other}", packed, "another architecture's stale binary got in")
        self.assertNotEqual(packed[f"bin/coturn_config_linux_{ARCH}"], sha256(STALE), "collection/bin's stale binary got in")
        _, exe = cargo_artifacts()["coturn_config"]
        self.assertEqual(packed[f"bin/coturn_config_linux_{ARCH}"], file_sha(exe))

    def test_3_a_source_change_reaches_the_next_tarball(self):
        # A copy of the workspace with its own target dir, seeded from this tree's (so only
        # the workspace crates compile, ~40 s): this tree's target/ is never touched.
        repo = os.path.join(self.tmp, "repo")
        os.makedirs(os.path.join(repo, "target"))
        for name in ("Cargo.toml", "Cargo.lock", "galaxy.yml", "README.md", ".cargo", "modules", "collection"):
            src = os.path.join(ROOT, name)
            if os.path.isdir(src):
                shutil.copytree(src, os.path.join(repo, name), symlinks=True,
                                ignore=shutil.ignore_patterns("target", "bin"))
            else:
                shutil.copy2(src, os.path.join(repo, name))
        os.makedirs(os.path.join(repo, "scripts"))
        shutil.copy2(BUILD, os.path.join(repo, "scripts"))
        os.symlink(os.path.join(ROOT, ".venv"), os.path.join(repo, ".venv"))
        for sub in ("release", TARGET):
            if os.path.isdir(os.path.join(ROOT, "target", sub)):
                subprocess.run(["cp", "-a", os.path.join(ROOT, "target", sub), os.path.join(repo, "target")], check=True)
        main_rs = os.path.join(repo, "modules", "livekit_node", "src", "main.rs")
        env = {"CARGO_TARGET_DIR": os.path.join(repo, "target")}
        args = os.path.join(self.tmp, "args.json")
        with open(args, "w") as f:
            f.write("{}")
        for step in ("first", "second"):
            marker = f"fresh-{step}-{os.getpid()}-{time.time_ns()}"
            with open(main_rs, "w") as f:
                f.write('//! Test copy: prints a marker, so the tarball shows which source it was built from.\n'
                        f'fn main() {{ println!("{{{{\\"failed\\": true, \\"msg\\": \\"{marker}\\"}}}}"); }}\n')
            tarball = build(os.path.join(self.tmp, f"dist-{step}"), root=repo, **env)
            with tarfile.open(tarball) as t:
                t.extract(f"bin/livekit_node_linux_{ARCH}", os.path.join(self.tmp, step), filter="data")
            exe = os.path.join(self.tmp, step, "bin", f"livekit_node_linux_{ARCH}")
            os.chmod(exe, 0o755)
            out = subprocess.run([exe, args], capture_output=True, text=True).stdout
            self.assertEqual(json.loads(out)["msg"], marker, f"{step} build: the tarball holds an older livekit_node")

    def test_4_every_test_that_installs_the_collection_takes_the_tarball_just_built(self):
        callers = [os.path.join(ROOT, "scripts", "molecule-scenario.sh")]
        stages = os.path.join(ROOT, "tests", "stages")
        callers += sorted(os.path.join(stages, f) for f in os.listdir(stages) if f.endswith(".sh"))
        installs = 0
        for path in callers:
            with open(path) as f:
                text = f.read()
            rel = os.path.relpath(path, ROOT)
            self.assertIsNone(re.search(r"ls[^\n]*dist/|dist/matrixha-stack-\*", text),
                              f"{rel} picks a tarball from dist/ instead of the one it builds")
            if "collection install" in text:
                installs += 1
                self.assertRegex(text, r'(?m)^tarball=\$\([^\n]*\bscripts/build-collection\.sh\)$',
                                 f"{rel} installs a collection it did not just build")
                for line in text.splitlines():
                    if "collection install" in line:
                        self.assertIn('"$tarball"', line, f"{rel}: {line.strip()}")
        self.assertGreaterEqual(installs, 3, "stages 30, 31 and scripts/molecule-scenario.sh install the collection")
        for name in ("60-molecule-turn.sh", "70-molecule-db.sh", "71-molecule-db-pgbouncer.sh"):
            with open(os.path.join(stages, name)) as f:
                self.assertIn("scripts/molecule-scenario.sh", f.read(), name)
        with open(os.path.join(ROOT, "tests", "integration", "test_collection.py")) as f:
            text = f.read()
        self.assertIn("MATRIXHA_TARBALL", text)
        self.assertNotRegex(text, r"glob\([^\n]*dist")


if __name__ == "__main__":
    unittest.main(verbosity=2)
