#!/usr/bin/env bash
# Installs what patroni-rs needs to build, run the demo and run its tests on Debian 12:
# PostgreSQL 15, etcd, ZooKeeper (and Java), protoc (for etcd-client), HAProxy, Prometheus (promtool
# and a real scrape of /metrics), and the two reference Patroni implementations used by the
# interop tests (3.0.2 from Debian, 4.1.x from PyPI in a venv).
# Never upgrades what is installed: a PostgreSQL upgraded under running servers breaks them.
set -euo pipefail

need=()
for pkg in postgresql-15 etcd-server etcd-client protobuf-compiler haproxy patroni util-linux python3-venv zookeeper default-jre-headless prometheus; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
    echo "ci/setup.sh: installing ${need[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-upgrade "${need[@]}" >/dev/null
fi
# Debian's packages start services of their own; the demo and the tests start their own.
for svc in etcd patroni postgresql haproxy zookeeper prometheus prometheus-node-exporter; do
    systemctl stop "$svc" >/dev/null 2>&1 || true
done

# Debian's python, not a per-user one: the tests run upstream's daemon as `postgres`, which
# must be able to read the interpreter the venv points at.
VENV=${PATRONI_VENV:-/opt/patroni-rs-venv}
if [ ! -x "$VENV/bin/patronictl" ] || [ "$(readlink -f "$VENV/bin/python3")" != "$(readlink -f /usr/bin/python3)" ]; then
    echo "ci/setup.sh: installing Patroni 4.1 from PyPI into $VENV"
    rm -rf "$VENV"
    /usr/bin/python3 -m venv "$VENV"
fi
# The DCS clients of every backend the interop tests use (python-etcd, etcd3 via urllib3, kazoo).
if ! "$VENV/bin/python3" -c 'import patroni, kazoo, etcd' >/dev/null 2>&1; then
    "$VENV/bin/pip" install -q 'patroni[etcd,etcd3,zookeeper,psycopg3]>=4.1,<4.2' psycopg-binary
fi
