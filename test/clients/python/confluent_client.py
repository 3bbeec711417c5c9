#!/usr/bin/env python3
"""Drive a Kafka broker with confluent-kafka-python (librdkafka).

Usage: confluent_client.py BOOTSTRAP < spec.json

The spec (JSON on stdin) names a topic prefix, the codecs, the messages to
produce (key/value/header values base64 or null, timestamps in ms) and a
large value. The script creates topics with the AdminClient, produces the
messages with an idempotent producer once per codec, reads everything back
with an assign-based consumer (no group membership, no commits), queries
watermarks and offsets by time, deletes a topic, and prints each result as
one JSON line. Any failure exits non-zero with a message on stderr.
"""

import base64
import json
import sys
import time

import confluent_kafka
from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError,
                             KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic


def emit(event, **fields):
    print(json.dumps(dict(event=event, **fields)), flush=True)


def fail(msg):
    print("confluent_client: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def dec(b):
    return None if b is None else base64.b64decode(b)


def enc(b):
    if b is None:
        return None
    if isinstance(b, str):
        b = b.encode()
    return base64.b64encode(b).decode()


def log_cb(level_name):
    def log(*args):
        print("librdkafka %s: %s" % (level_name, args), file=sys.stderr, flush=True)
    return log


def wait_all(futures, what):
    for name, f in futures.items():
        try:
            f.result(timeout=20)
        except KafkaException as e:
            fail("%s %s: %s" % (what, name, e.args[0]))
        except Exception as e:  # noqa: BLE001 - report whatever the client raised
            fail("%s %s: %r" % (what, name, e))


def error_name(f):
    try:
        f.result(timeout=20)
        return "NO_ERROR"
    except KafkaException as e:
        return e.args[0].name()


def record(m):
    ts_type, ts = m.timestamp()
    return {
        "topic": m.topic(),
        "partition": m.partition(),
        "offset": m.offset(),
        "key": enc(m.key()),
        "value": enc(m.value()),
        "headers": [{"key": k, "value": enc(v)} for k, v in (m.headers() or [])],
        "timestamp": ts,
        "timestamp_type": ts_type,
    }


def produce(bootstrap, topic, codec, msgs, extra=None):
    conf = {
        "bootstrap.servers": bootstrap,
        "client.id": "chronik-confluent-test",
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": codec,
        "linger.ms": 20,
        "message.timeout.ms": 30000,
    }
    conf.update(extra or {})
    p = Producer(conf)
    results = [None] * len(msgs)

    def on_delivery(i):
        def cb(err, m):
            results[i] = (err, m.partition(), m.offset())
        return cb

    # Two flushes: the messages go out in at least two produce requests.
    half = max(1, len(msgs) // 2)
    for part in (range(0, half), range(half, len(msgs))):
        for i in part:
            m = msgs[i]
            headers = [(h["key"], dec(h["value"])) for h in (m.get("headers") or [])]
            p.produce(topic, value=dec(m["value"]), key=dec(m["key"]), partition=0,
                      headers=headers or None, timestamp=m["timestamp"],
                      on_delivery=on_delivery(i))
        left = p.flush(30)
        if left:
            fail("produce %s (%s): %d messages not delivered" % (topic, codec, left))
    for i, r in enumerate(results):
        if r is None:
            fail("produce %s (%s): no delivery report for message %d" % (topic, codec, i))
        if r[0] is not None:
            fail("produce %s (%s) message %d: %s" % (topic, codec, i, r[0]))
    return [r[2] for r in results]


def main():
    if len(sys.argv) != 2:
        fail("usage: confluent_client.py BOOTSTRAP < spec.json")
    bootstrap = sys.argv[1]
    spec = json.load(sys.stdin)
    prefix, codecs, msgs = spec["prefix"], spec["codecs"], spec["messages"]
    big = spec["big_value"]
    emit("versions", client=confluent_kafka.version()[0], librdkafka=confluent_kafka.libversion()[0])

    admin = AdminClient({"bootstrap.servers": bootstrap, "client.id": "chronik-confluent-admin"})
    codec_topics = ["%s-%s" % (prefix, c) for c in codecs]
    big_topic, admin_topic = prefix + "-big", prefix + "-admin"
    new = [NewTopic(t, 1, 1) for t in codec_topics]
    new.append(NewTopic(big_topic, 1, 1, config={"max.message.bytes": "3000000"}))
    new.append(NewTopic(admin_topic, 3, 1, config={"retention.ms": "3600000"}))
    fs = admin.create_topics(new, operation_timeout=10, request_timeout=15)
    wait_all(fs, "create_topics")
    emit("created", topics=sorted(fs))
    emit("create_again", error=error_name(
        admin.create_topics([NewTopic(admin_topic, 1, 1)], request_timeout=15)[admin_topic]))

    md = admin.list_topics(timeout=10)
    emit("metadata",
         cluster_id=md.cluster_id,
         controller_id=md.controller_id,
         brokers=[{"id": b.id, "host": b.host, "port": b.port} for b in md.brokers.values()],
         topics={
             name: {
                 "error": t.error.name() if t.error else None,
                 "partitions": sorted(({
                     "id": p.id, "leader": p.leader, "replicas": list(p.replicas),
                     "isrs": list(p.isrs), "error": p.error.name() if p.error else None,
                 } for p in t.partitions.values()), key=lambda p: p["id"]),
             } for name, t in md.topics.items() if name.startswith(prefix)
         })

    for codec, topic in zip(codecs, codec_topics):
        emit("produced", topic=topic, codec=codec, offsets=produce(bootstrap, topic, codec, msgs))
    big_msgs = [{"key": enc(b"big"), "value": big, "headers": [{"key": "size", "value": enc(str(len(dec(big))))}],
                 "timestamp": msgs[0]["timestamp"]},
                msgs[1]]
    emit("produced", topic=big_topic, codec="lz4",
         offsets=produce(bootstrap, big_topic, "lz4", big_msgs, {"message.max.bytes": 2000000}))

    # Assign-based consumer: librdkafka requires a group.id value, but
    # assign() joins no group and nothing is committed.
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "client.id": "chronik-confluent-consumer",
        "group.id": prefix + "-unused",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "error",
        "fetch.wait.max.ms": 100,
    })
    want = {t: len(msgs) for t in codec_topics}
    want[big_topic] = len(big_msgs)
    c.assign([TopicPartition(t, 0, OFFSET_BEGINNING) for t in want])
    got = {t: [] for t in want}
    eof = set()
    deadline = time.time() + 40
    while len(eof) < len(want):
        if time.time() > deadline:
            fail("consume: timed out; have %s, eof %s" % ({t: len(r) for t, r in got.items()}, sorted(eof)))
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                if len(got[m.topic()]) >= want[m.topic()]:
                    eof.add(m.topic())
                continue
            fail("consume %s: %s" % (m.topic(), m.error()))
        got[m.topic()].append(record(m))
    for t, recs in got.items():
        emit("consumed", topic=t, records=recs)

    for t in want:
        emit("watermarks", topic=t, offsets=list(c.get_watermark_offsets(TopicPartition(t, 0), timeout=10, cached=False)))
    t0 = codec_topics[0]
    stamps = [0, msgs[len(msgs) // 2]["timestamp"], msgs[-1]["timestamp"] + 60000]
    res = c.offsets_for_times([TopicPartition(t0, 0, ts) for ts in stamps[:1]], timeout=10)
    res += c.offsets_for_times([TopicPartition(t0, 0, ts) for ts in stamps[1:2]], timeout=10)
    res += c.offsets_for_times([TopicPartition(t0, 0, ts) for ts in stamps[2:]], timeout=10)
    for r in res:
        if r.error:
            fail("offsets_for_times: %s" % r.error)
    emit("offsets_for_times", topic=t0, timestamps=stamps, offsets=[r.offset for r in res])
    c.close()

    wait_all(admin.delete_topics([admin_topic], operation_timeout=10, request_timeout=15), "delete_topics")
    deadline = time.time() + 10
    while admin_topic in admin.list_topics(timeout=10).topics:
        if time.time() > deadline:
            fail("delete_topics: %s still listed" % admin_topic)
        time.sleep(0.1)
    emit("deleted", topic=admin_topic,
         again=error_name(admin.delete_topics([admin_topic], request_timeout=15)[admin_topic]))


if __name__ == "__main__":
    main()
