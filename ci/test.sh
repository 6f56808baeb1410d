#!/usr/bin/env bash
# The whole test suite: installs what the tests need, builds, then runs every test.
# Unit and decision-table tests, the etcd lock tests, configuration tests, cluster tests on
# real PostgreSQL + etcd, and interop with upstream patronictl. Cluster tests run one at a
# time so their timing bounds do not depend on each other's load.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
cargo build --workspace --bins --quiet
cargo test --workspace -- --test-threads=1
