# Apache License 2.0 (see LICENSE)
"""Test helper: append every task result as one JSON line to $MATRIXHA_RESULTS_FILE."""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: results_file
type: aggregate
short_description: Append task results as JSON lines to a file (tests only)
description:
  - Lets tests read registered-style results while stdout keeps the default callback.
requirements:
  - the MATRIXHA_RESULTS_FILE environment variable names the file
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "results_file"
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, result, status):
        path = os.environ.get("MATRIXHA_RESULTS_FILE")
        if not path:
            return
        # Results as the controller sees them, after its own no_log handling.
        data = self._clean_results(result._result, result._task.action) or result._result
        line = {"task": result._task.get_name(), "host": result._host.get_name(),
                "status": status, "result": data}
        with open(path, "a") as f:
            f.write(json.dumps(line, default=str) + "\n")

    def v2_runner_on_ok(self, result):
        self._write(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, "failed")
