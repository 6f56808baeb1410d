#!/usr/bin/env bash
# Benchmarks patroni-rs against Patroni 4.1 (PyPI) on this machine: bash bench/run.sh [--quick]
# Installs what it needs (PostgreSQL, etcd, the Patroni venv via ci/setup.sh; wrk, hyperfine),
# builds release binaries, prints the comparison table and writes bench/results/*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
for pkg in wrk hyperfine; do
    dpkg -s "$pkg" >/dev/null 2>&1 || apt-get install -y --no-upgrade "$pkg"
done
cargo build --release -p patroni -p patronictl -p patroni-bench
exec target/release/patroni-bench "$@"
