#!/usr/bin/env bash
# Reproduces the README's benchmark figures: starts a broker on loopback with
# the given fsync policy, runs the standard scenarios against it and against
# franz-go's in-memory kfake (runs alternate; medians of 3), then stops it.
#   scripts/bench.sh [interval|always|never]
set -euo pipefail
cd "$(dirname "$0")/.."
fsync=${1:-interval}
bin=$(mktemp -d)/chronik
data=$(mktemp -d)
go build -o "$bin" ./cmd/chronik
"$bin" serve --data-dir "$data" --kafka-listen 127.0.0.1:29092 --http-listen 127.0.0.1:23000 --fsync "$fsync" >"$data.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data" "$data.log"' EXIT
until curl -sf http://127.0.0.1:23000/ready >/dev/null; do sleep 0.1; done

b="$bin bench --brokers 127.0.0.1:29092 --runs 3"
[ "$fsync" = interval ] && b="$b --kfake"
echo "== fsync=$fsync: produce 1 KiB records, acks=all, 6 partitions, 1 producer"
$b produce --topic std --records 1000000 2>/dev/null
if [ "$fsync" = interval ]; then
  echo "== produce 100-byte records, lz4"
  $b produce --topic small-lz4 --record-size 100 --compression lz4 --records 3000000 2>/dev/null
  echo "== consume 1 KiB records"
  $b consume --topic std --records 1000000 2>/dev/null
  echo "== produce latency at a fixed 20000 records/s (1 KiB)"
  $b produce --topic rate --rate 20000 --records 200000 2>/dev/null
fi
