#!/usr/bin/env bash
# A local three-node demo cluster: etcd on 127.0.0.1:2379, PostgreSQL on 5432-5434, REST
# APIs on 8008-8010 and HAProxy on 5000 (primary) / 5001 (replicas), all under ./demo/.
#   bash ci/demo.sh         start it (installing what it needs) and print `patronictl list`
#   bash ci/demo.sh stop    stop everything it started
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEMO=$ROOT/demo

stop() {
    pkill -TERM -f "target/release/patroni $DEMO" 2>/dev/null || true
    for f in "$DEMO"/*.pid; do
        [ -e "$f" ] || continue
        kill "$(cat "$f")" 2>/dev/null || true
        rm -f "$f"
    done
    # The daemons stop their PostgreSQL on SIGTERM; wait for them.
    for _ in $(seq 1 60); do
        pgrep -f "target/release/patroni $DEMO" >/dev/null || break
        sleep 1
    done
}

if [ "${1:-}" = stop ]; then
    stop
    echo "demo stopped (data kept in $DEMO; remove it for a fresh cluster)"
    exit 0
fi

bash ci/setup.sh
cargo build --release --bins --quiet
mkdir -p "$DEMO"
chown postgres: "$DEMO"

if ! etcdctl --endpoints=127.0.0.1:2379 endpoint health >/dev/null 2>&1; then
    etcd --data-dir "$DEMO/etcd" --listen-client-urls http://127.0.0.1:2379 \
        --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 \
        >"$DEMO/etcd.log" 2>&1 &
    echo $! >"$DEMO/etcd.pid"
fi
for i in 0 1 2; do
    cp "postgres$i.yml" "$DEMO/"
    chown postgres: "$DEMO/postgres$i.yml"
    runuser -u postgres -- bash -c "cd '$DEMO' && exec '$ROOT/target/release/patroni' '$DEMO/postgres$i.yml'" \
        >"$DEMO/postgres$i.log" 2>&1 &
    echo $! >"$DEMO/postgres$i.pid"
done
haproxy -f haproxy.cfg -D -p "$DEMO/haproxy.pid" || echo "haproxy did not start (ports 5000/5001/7000 busy?)"

echo "waiting for the cluster to bootstrap..."
for _ in $(seq 1 120); do
    out=$(./target/release/patronictl -c "$DEMO/postgres0.yml" list -f json 2>/dev/null || true)
    if [ "$(grep -o '"Role": "Leader"' <<<"$out" | wc -l)" = 1 ] && [ "$(grep -o streaming <<<"$out" | wc -l)" -ge 2 ]; then
        break
    fi
    sleep 1
done
./target/release/patronictl -c "$DEMO/postgres0.yml" list
echo
echo "primary via HAProxy: psql -h 127.0.0.1 -p 5000 -U postgres   (password: zalando)"
echo "logs: $DEMO/postgres*.log    stop: bash ci/demo.sh stop"
