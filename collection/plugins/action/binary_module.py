# -*- coding: utf-8 -*-
# Copyright: matrixha developers
# Apache License 2.0 (see LICENSE)
"""Run a matrixha.stack module: pick the Rust binary built for the target's architecture."""

from __future__ import annotations

DOCUMENTATION = r"""
name: binary_module
short_description: Dispatch a matrixha.stack module to its binary for the target architecture
description:
  - Every module of this collection is a statically linked binary per architecture,
    shipped as C(plugins/modules/NAME_linux_ARCH). This action plugin reads the target's
    C(ansible_facts.system) and C(ansible_facts.architecture) (or runs C(uname -sm) on the
    target when facts were not gathered; no Python is needed there) and runs the matching
    binary. C(meta/runtime.yml) routes every module here, so tasks use the plain FQCN.
author: matrixha developers
"""

import os

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

# Names hosts report (uname -m, facts) -> the suffix the binaries are built with.
ARCHITECTURES = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "aarch64",
    "arm64": "aarch64",
}
COLLECTION = "matrixha.stack"
# Built binaries live in the collection's bin/ directory, outside plugins/modules, so that
# `ansible-doc -l` lists each module once (its anchor and sidecar docs), not its binaries.
BIN_DIR = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", "..", "bin"))


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # unused since Ansible 2.5
        task_vars = task_vars or {}

        action = self._task.resolved_action or self._task.action
        short = action.rsplit(".", 1)[-1]
        system, machine = self._platform(task_vars)
        arch = ARCHITECTURES.get(machine)
        if system != "linux" or arch is None:
            result.update(
                failed=True,
                msg=(
                    "Could not find a binary module implementation of %s.%s for %s %s: "
                    "matrixha.stack ships binaries for linux x86_64 and linux aarch64 only"
                    % (COLLECTION, short, system, machine)
                ),
            )
            return result

        binary = "%s_%s_%s" % (short, system, arch)
        self._shared_loader_obj.module_loader.add_directory(BIN_DIR)
        try:
            result.update(
                self._execute_module(
                    # ansible.legacy: added directories are searched only for legacy names;
                    # a bare name inside a collection role would search that collection only.
                    module_name="ansible.legacy." + binary,
                    module_args=self._task.args,
                    task_vars=task_vars,
                    wrap_async=self._task.async_val,
                )
            )
        except AnsibleError as e:
            if binary not in str(e):
                raise
            result.update(
                failed=True,
                msg=(
                    "Could not find a binary module implementation of %s.%s for %s %s "
                    "(expected %s/%s); rebuild the collection with 'make collection'"
                    % (COLLECTION, short, system, arch, BIN_DIR, binary)
                ),
            )
        return result

    def _platform(self, task_vars):
        """(system, machine) of the host the module runs on, lower-case."""
        facts = task_vars.get("ansible_facts", {})
        delegate = self._task.delegate_to
        if delegate:
            facts = task_vars.get("hostvars", {}).get(delegate, {}).get("ansible_facts", {})
        system, machine = facts.get("system"), facts.get("architecture")
        if system and machine:
            return str(system).lower(), str(machine).lower()
        # Facts not gathered: one round trip, and it works without Python on the host.
        res = self._low_level_execute_command("uname -s -m")
        words = res.get("stdout", "").split()
        if res.get("rc") != 0 or len(words) != 2:
            raise AnsibleError(
                "matrixha.stack: cannot determine the architecture of the target "
                "(uname -s -m failed: %s); gather facts first" % res.get("stderr", "").strip()
            )
        return words[0].lower(), words[1].lower()
