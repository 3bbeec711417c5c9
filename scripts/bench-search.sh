#!/usr/bin/env bash
# Reproduces the README's search figures: starts a broker on loopback and
#  1. freshness: produce ack -> searchable at fixed rates of 1 KiB JSON;
#  2. produce throughput at full speed, 1 KiB JSON-free records, to a topic
#     without search and to one with it (a fresh topic per run, runs
#     alternate, medians of 3);
#  3. query latency of a fixed query mix on a topic of RECORDS records.
#   scripts/bench-search.sh [freshness|throughput|query|all] [RECORDS]
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
records=${2:-1000000}
bin=$(mktemp -d)/chronik
data=$(mktemp -d)
go build -o "$bin" ./cmd/chronik
"$bin" serve --data-dir "$data" --kafka-listen 127.0.0.1:29192 --http-listen 127.0.0.1:23100 >"$data.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data" "$data.log"' EXIT
until curl -sf http://127.0.0.1:23100/ready >/dev/null; do sleep 0.1; done
export CHRONIK_BROKERS=127.0.0.1:29192 CHRONIK_ADMIN_URL=http://127.0.0.1:23100

if [ "$what" = all ] || [ "$what" = freshness ]; then
  for rate in 250 500 1000 10000; do
    echo "== freshness at $rate records/s (1 KiB JSON, 20 s)"
    "$bin" bench search freshness --topic "fresh-$rate" --rate "$rate" --duration 20s 2>&1 | grep -v "^[0-9][0-9]:" || echo "freshness at $rate records/s failed"
    # Deleting the topic drops its index and any indexing backlog.
    "$bin" topic delete "fresh-$rate" >/dev/null
  done
fi
if [ "$what" = all ] || [ "$what" = throughput ]; then
  echo "== produce throughput, 1 KiB JSON records, acks=all, 6 partitions: search off vs on (fresh topic per run)"
  for run in 1 2 3; do
    for mode in off on; do
      t="tp-$mode-$run"
      "$bin" topic create "$t" -p 6 -c chronik.search.enabled=$([ $mode = on ] && echo true || echo false) >/dev/null
      printf 'search %-3s run %d: ' "$mode" "$run"
      "$bin" bench produce --topic "$t" --records 300000 --json-records 2>/dev/null | grep -m1 -E '^ *brokers +median' || true
      "$bin" topic delete "$t" >/dev/null
    done
  done
fi
if [ "$what" = all ] || [ "$what" = query ]; then
  echo "== query latency on $records records of 1 KiB JSON"
  "$bin" bench search query --topic bq --records "$records" --rounds 50
fi
