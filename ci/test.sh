#!/usr/bin/env bash
# The whole test suite: installs what the tests need, builds, then runs every test.
# Unit and decision-table tests, the DCS conformance suite on every backend (in-memory, etcd
# v3, etcd v2, ZooKeeper), configuration tests, cluster tests on real PostgreSQL + etcd or
# ZooKeeper, and interop with upstream patronictl. Cluster tests run one at a time so their
# timing bounds do not depend on each other's load.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
cargo build --workspace --bins --quiet
# A build with one backend must not need the others' code (checked, not built: a build
# would replace the test binaries with a ZooKeeper-only daemon).
cargo check -p patroni -p patronictl --no-default-features --features zookeeper --quiet
cargo test --workspace -- --test-threads=1
