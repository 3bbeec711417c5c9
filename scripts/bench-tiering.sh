#!/usr/bin/env bash
# Reproduces the README's tiered-storage figures against a real MinIO on
# loopback (built by .ci/run: $(go env GOPATH)/bin/minio, or CHRONIK_TEST_MINIO):
#   1. produce throughput to a local topic and to a tiered one (uploads
#      running), runs alternating, medians of 3;
#   2. consume throughput from the start of a topic held on local disk and
#      of one held only in the bucket, after a restart: run 1 downloads every
#      segment (cold cache), runs 2-3 read the 2 GiB cache.
#   scripts/bench-tiering.sh [RECORDS]   (default 1000000 records of 1 KiB)
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}
minio=${CHRONIK_TEST_MINIO:-$(go env GOPATH)/bin/minio}
[ -x "$minio" ] || { echo "no minio binary at $minio (go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c)" >&2; exit 1; }

work=$(mktemp -d)
bin=$work/chronik
go build -o "$bin" ./cmd/chronik
export AWS_ACCESS_KEY_ID=chronik-bench AWS_SECRET_ACCESS_KEY=chronik-bench-secret AWS_REGION=us-east-1
MINIO_ROOT_USER=$AWS_ACCESS_KEY_ID MINIO_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY \
  "$minio" server "$work/minio" --address 127.0.0.1:29000 --console-address 127.0.0.1:29001 >"$work/minio.log" 2>&1 &
minio_pid=$!
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  kill "$minio_pid" 2>/dev/null; wait "$minio_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
until curl -sf http://127.0.0.1:29000/minio/health/live >/dev/null; do sleep 0.2; done
curl -sf -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" http://127.0.0.1:29000/chronik-bench >/dev/null

serve() { # cache_mb
  "$bin" serve --data-dir "$work/data" --kafka-listen 127.0.0.1:29092 --http-listen 127.0.0.1:23000 --fsync interval \
    --backend s3 --bucket chronik-bench --endpoint http://127.0.0.1:29000 --remote-cache-mb "$1" >>"$work/broker.log" 2>&1 &
  pid=$!
  until curl -sf http://127.0.0.1:23000/ready >/dev/null; do sleep 0.1; done
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
metric() { curl -sf http://127.0.0.1:23000/metrics | awk -v m="$1" '$1 == m {print $2}'; }

serve 1024
c="$bin topic create --brokers 127.0.0.1:29092 -p 6 -c segment.bytes=67108864"
$c local-1 >/dev/null; $c local-2 >/dev/null; $c local-3 >/dev/null
for i in 1 2 3; do $c tiered-$i -c remote.storage.enable=true -c local.retention.bytes=0 >/dev/null; done

b="$bin bench --brokers 127.0.0.1:29092"
echo "== produce $records x 1 KiB, acks=all, 6 partitions: local topic vs tiered topic (uploading)"
for i in 1 2 3; do
  $b produce --topic local-$i --records "$records" 2>/dev/null | sed "s/^/local  run $i: /"
  $b produce --topic tiered-$i --records "$records" 2>/dev/null | sed "s/^/tiered run $i: /"
done
echo "   waiting for uploads to finish (segments roll at 64 MiB or segment.ms)..."
"$bin" config set topic tiered-1 --brokers 127.0.0.1:29092 segment.ms=1000 >/dev/null
until [ "$(metric chronik_tiered_pending_bytes)" = "0" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:23000/ready)" = 200 ]; do sleep 1; done
sleep 12 # a maintenance round deletes the uploaded segments locally
echo "   uploaded: $(metric chronik_tiered_uploaded_bytes_total) bytes in $(metric chronik_tiered_segments_uploaded_total) segments"

stop
serve 2048 # a restart empties the remote cache
echo "== consume $records x 1 KiB from the start: local disk vs object store (run 1 cold, then cached)"
$b consume --topic local-1 --records "$records" --runs 3 2>/dev/null | sed "s/^/local : /"
$b consume --topic tiered-1 --records "$records" --runs 3 2>/dev/null | sed "s/^/remote: /"
echo "   remote reads: $(metric chronik_tiered_remote_reads_total), $(metric chronik_tiered_remote_read_bytes_total) bytes"
