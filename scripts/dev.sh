#!/usr/bin/env bash
# One entry point for people and CI:
#   bash scripts/dev.sh demo   -> set up .venv and run the demo session on generated sample data
#   bash scripts/dev.sh test   -> set up .venv (with test extras) and run the whole test suite
#   bash scripts/dev.sh bench  -> set up .venv and run the benchmarks in bench/
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
setup() {
    if [ ! -x .venv/bin/python ]; then
        "$python" -m venv .venv
        .venv/bin/python -m pip install -q --upgrade pip
    fi
    .venv/bin/python -m pip install -q -e ".$1"
}

case "${1:-}" in
    demo)
        setup ""
        shift
        exec .venv/bin/retention-mcp demo "$@"
        ;;
    test)
        setup "[test]"
        shift
        .venv/bin/ruff check src tests bench
        exec .venv/bin/python -m pytest -q "$@"
        ;;
    setup)
        setup "[test]"
        ;;
    bench)
        setup "[test]"
        .venv/bin/python bench/cold_start.py
        .venv/bin/python bench/bench_peers.py      # installs duckdb and polars into .venv to compare against
        .venv/bin/python bench/bench_xlsx.py
        .venv/bin/python bench/bench_turnover.py
        .venv/bin/python bench/bench_privacy.py     # exact vs protected mode on the same file
        .venv/bin/python bench/bench_isolation.py
        .venv/bin/python bench/bench_export.py
        exec .venv/bin/python bench/load_test.py
        ;;
    *)
        echo "usage: bash scripts/dev.sh demo|test|bench|setup" >&2
        exit 2
        ;;
esac
