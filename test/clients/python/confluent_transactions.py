#!/usr/bin/env python3
"""Transactions with confluent-kafka-python (librdkafka, transactions V1).

Usage: confluent_transactions.py BOOTSTRAP < spec.json

The spec names an input and an output topic (both created by the caller)
and how many records the input holds. The script:
  1. commits one transaction and aborts another on the output topic;
  2. runs consume-transform-produce exactly once: a read_committed group
     consumer reads the input, and each poll's records are written to the
     output as "t-<value>" in a transaction that also commits the group's
     offsets (send_offsets_to_transaction);
  3. reads the output back under read_committed and read_uncommitted.
Each result is one JSON line on stdout; any failure exits non-zero.
"""

import json
import sys
import time

from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaException,
                             Producer, TopicPartition)


def emit(event, **fields):
    print(json.dumps(dict(event=event, **fields)), flush=True)


def fail(msg):
    print("confluent_transactions: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def read_all(bootstrap, topic, partitions, isolation, want):
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "unused-" + isolation,
        "isolation.level": isolation,
        "enable.auto.commit": False,
    })
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    values, deadline = [], time.time() + 30
    while len(values) < want and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            fail("consume %s: %s" % (isolation, m.error()))
        values.append(m.value().decode())
    # Anything more than wanted would be a bug: give it a moment to show.
    end = time.time() + 1
    while time.time() < end:
        m = c.poll(0.2)
        if m is not None and not m.error():
            values.append(m.value().decode())
    c.close()
    return values


def main():
    bootstrap = sys.argv[1]
    spec = json.load(sys.stdin)
    src, dst, n, parts = spec["input"], spec["output"], spec["records"], spec["partitions"]

    p = Producer({
        "bootstrap.servers": bootstrap,
        "transactional.id": "py-tx",
        "transaction.timeout.ms": 30000,
    })
    p.init_transactions(20)
    p.begin_transaction()
    for v in ("c1", "c2"):
        p.produce(dst, value=v.encode(), partition=0)
    p.commit_transaction(20)
    p.begin_transaction()
    for v in ("a1", "a2"):
        p.produce(dst, value=v.encode(), partition=1)
    # Flushed first: an abort purges what was not sent, and the aborted
    # records must reach the log for the readers to prove they skip them.
    p.flush(20)
    p.abort_transaction(20)
    emit("simple_done")

    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "py-eos",
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    c.subscribe([src])
    done, deadline = 0, time.time() + 60
    while done < n:
        if time.time() > deadline:
            fail("processed %d of %d input records" % (done, n))
        msgs = c.consume(num_messages=7, timeout=0.5)
        msgs = [m for m in msgs if not m.error()]
        if not msgs:
            continue
        p.begin_transaction()
        for m in msgs:
            p.produce(dst, value=b"t-" + m.value(), partition=m.partition())
        p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 20)
        p.commit_transaction(20)
        done += len(msgs)
    committed = c.committed([TopicPartition(src, i) for i in range(parts)], timeout=10)
    emit("eos_done", processed=done, committed={str(tp.partition): tp.offset for tp in committed})
    c.close()

    emit("read_committed", values=read_all(bootstrap, dst, parts, "read_committed", n + 2))
    emit("read_uncommitted", values=read_all(bootstrap, dst, parts, "read_uncommitted", n + 4))


if __name__ == "__main__":
    try:
        main()
    except KafkaException as e:
        fail("%s" % (e.args[0],))
