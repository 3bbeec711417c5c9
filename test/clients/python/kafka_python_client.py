#!/usr/bin/env python3
"""Drive a Kafka broker with kafka-python.

Usage: kafka_python_client.py BOOTSTRAP < spec.json

The spec (JSON on stdin) names the topics by codec (created beforehand by
the test) and the messages to produce (key/value/header values base64 or
null, timestamps in ms). kafka-python probes the broker version itself
unless the spec sets api_version (e.g. [0, 10, 1]: Produce v2 and Fetch v3
with message sets of magic 1, as old deployments pin it). For each codec it can use here, the script produces
the messages with KafkaProducer, reads them back with a group-less
KafkaConsumer (assign + seek_to_beginning), and queries end, beginning and
by-time offsets (zstd topics are produced only: kafka-python 2.0.2
fetches with Fetch v4, too old for zstd data). Results are printed as JSON lines; any failure exits
non-zero with a message on stderr.
"""

import base64
import json
import sys
import time

import kafka
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka import codec as kcodec


def emit(event, **fields):
    print(json.dumps(dict(event=event, **fields)), flush=True)


def fail(msg):
    print("kafka_python_client: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def dec(b):
    return None if b is None else base64.b64decode(b)


def enc(b):
    return None if b is None else base64.b64encode(b).decode()


def main():
    if len(sys.argv) != 2:
        fail("usage: kafka_python_client.py BOOTSTRAP < spec.json")
    bootstrap = sys.argv[1]
    spec = json.load(sys.stdin)
    topics, msgs = spec["topics"], spec["messages"]
    # kafka-python 2.0.2 always fetches with Fetch v4, and Kafka answers
    # UNSUPPORTED_COMPRESSION_TYPE for zstd data below v10: the spec names
    # the codecs whose topics the consumer reads.
    consume = set(spec["consume_codecs"])
    pinned = {"api_version": tuple(spec["api_version"])} if spec.get("api_version") else {}

    usable = {"gzip": kcodec.has_gzip(), "snappy": kcodec.has_snappy(),
              "lz4": kcodec.has_lz4(), "zstd": kcodec.has_zstd()}
    emit("versions", client=kafka.__version__, codecs=sorted(c for c, ok in usable.items() if ok))

    produced = {}
    for codec, topic in sorted(topics.items()):
        if codec != "none" and not usable.get(codec):
            continue
        try:
            p = KafkaProducer(bootstrap_servers=bootstrap, client_id="chronik-kafka-python",
                              acks="all", compression_type=None if codec == "none" else codec, linger_ms=10,
                              request_timeout_ms=15000, max_block_ms=15000, **pinned)
        except Exception as e:  # noqa: BLE001 - report whatever the client raised
            fail("KafkaProducer(%s): %r" % (codec, e))
        emit("api_version", role="producer", codec=codec, version=list(p.config["api_version"]))
        futures = []
        for m in msgs:
            headers = [(h["key"], dec(h["value"])) for h in (m.get("headers") or [])]
            futures.append(p.send(topic, key=dec(m["key"]), value=dec(m["value"]), headers=headers or None,
                                  partition=0, timestamp_ms=m["timestamp"]))
        p.flush(timeout=30)
        offsets = []
        for i, f in enumerate(futures):
            try:
                offsets.append(f.get(timeout=30).offset)
            except Exception as e:  # noqa: BLE001
                fail("produce %s (%s) message %d: %r" % (topic, codec, i, e))
        p.close(timeout=10)
        emit("produced", topic=topic, codec=codec, offsets=offsets)
        if codec in consume:
            produced[topic] = len(msgs)

    if not produced:
        fail("no topic to consume")
    c = KafkaConsumer(bootstrap_servers=bootstrap, client_id="chronik-kafka-python-consumer",
                      group_id=None, enable_auto_commit=False, auto_offset_reset="none",
                      fetch_max_wait_ms=100, request_timeout_ms=15000, **pinned)
    emit("api_version", role="consumer", version=list(c.config["api_version"]))
    tps = [TopicPartition(t, 0) for t in sorted(produced)]
    c.assign(tps)
    c.seek_to_beginning()
    got = {t: [] for t in produced}
    deadline = time.time() + 30
    while any(len(got[t]) < n for t, n in produced.items()):
        if time.time() > deadline:
            fail("consume: timed out with %s" % {t: len(r) for t, r in got.items()})
        for tp, recs in c.poll(timeout_ms=500).items():
            for r in recs:
                got[tp.topic].append({
                    "topic": r.topic, "partition": r.partition, "offset": r.offset,
                    "key": enc(r.key), "value": enc(r.value),
                    "headers": [{"key": k, "value": enc(v)} for k, v in (r.headers or [])],
                    "timestamp": r.timestamp, "timestamp_type": r.timestamp_type,
                })
    for t, recs in sorted(got.items()):
        emit("consumed", topic=t, records=recs)

    end = c.end_offsets(tps)
    begin = c.beginning_offsets(tps)
    for tp in tps:
        emit("offsets", topic=tp.topic, beginning=begin[tp], end=end[tp])
    tp0 = tps[0]
    stamps = [0, msgs[len(msgs) // 2]["timestamp"], msgs[-1]["timestamp"] + 60000]
    found = []
    for ts in stamps:
        r = c.offsets_for_times({tp0: ts})[tp0]
        found.append(None if r is None else [r.offset, r.timestamp])
    emit("offsets_for_times", topic=tp0.topic, timestamps=stamps, found=found)
    c.close()


if __name__ == "__main__":
    main()
