#!/usr/bin/env bash
# Unit tests and the modules' live tests (each starts the real service it needs).
set -euo pipefail
cargo test --workspace
