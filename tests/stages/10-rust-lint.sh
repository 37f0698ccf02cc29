#!/usr/bin/env bash
# Formatting and clippy with warnings as errors.
set -euo pipefail
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
