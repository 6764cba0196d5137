#!/usr/bin/env bash
# Kept for existing habits: the same as `python3 scripts/dev.py demo|test|bench|setup` (which also runs on Windows).
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" scripts/dev.py "$@"
