# Apache License 2.0 (see LICENSE)
"""Bench helper: print each loop item's wall time as JSON lines to $MATRIXHA_TIMINGS_FILE."""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: task_timer
type: aggregate
short_description: Record per-task wall time (benchmarks only)
description:
  - Writes one JSON line per task with its name and wall time in seconds.
requirements:
  - the MATRIXHA_TIMINGS_FILE environment variable names the file
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._start = None
        self._name = None

    def _flush(self):
        path = os.environ.get("MATRIXHA_TIMINGS_FILE")
        if self._start is not None and path:
            with open(path, "a") as f:
                f.write(json.dumps({"task": self._name, "seconds": time.monotonic() - self._start}) + "\n")
        self._start = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._flush()
        self._name = task.get_name()
        self._start = time.monotonic()

    def v2_playbook_on_stats(self, stats):
        self._flush()
