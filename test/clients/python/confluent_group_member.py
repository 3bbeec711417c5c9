#!/usr/bin/env python3
"""One consumer group member on confluent-kafka-python (librdkafka).

Usage: confluent_group_member.py BOOTSTRAP < spec

The first line of stdin is a JSON spec: group, topic, client_id,
session_timeout_ms, heartbeat_ms, delay_ms (sleep per record), strategy
(partition.assignment.strategy). The member subscribes, reports each
assignment and revocation, each record, and commits each record
synchronously before it takes the next one, reporting the commit. When
stdin closes it closes the consumer (final commit, LeaveGroup) and exits.
Output is one JSON object per line with an "event" and a wall clock "ts"
in milliseconds.
"""

import json
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaException


def emit(event, **fields):
    print(json.dumps(dict(event=event, ts=time.time() * 1000, **fields)), flush=True)


def main():
    addr = sys.argv[1]
    spec = json.loads(sys.stdin.readline())
    stop = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    conf = {
        "bootstrap.servers": addr,
        "group.id": spec["group"],
        "client.id": spec["client_id"],
        "session.timeout.ms": spec["session_timeout_ms"],
        "heartbeat.interval.ms": spec["heartbeat_ms"],
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        "topic.metadata.refresh.interval.ms": 1000,
    }
    if spec.get("strategy"):
        conf["partition.assignment.strategy"] = spec["strategy"]
    c = Consumer(conf)

    def on_assign(consumer, parts):
        emit("assigned", partitions=sorted(p.partition for p in parts))

    def on_revoke(consumer, parts):
        emit("revoked", partitions=sorted(p.partition for p in parts))

    def on_lost(consumer, parts):
        emit("revoked", partitions=sorted(p.partition for p in parts), lost=True)

    c.subscribe([spec["topic"]], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    delay = spec.get("delay_ms", 0) / 1000.0
    while not stop.is_set():
        m = c.poll(0.1)
        if m is None:
            continue
        if m.error():
            emit("error", error=str(m.error()))
            continue
        emit("record", partition=m.partition(), offset=m.offset(),
             value=m.value().decode() if m.value() is not None else None)
        if delay:
            time.sleep(delay)
        try:
            c.commit(message=m, asynchronous=False)
            emit("committed", partition=m.partition(), offset=m.offset() + 1)
        except KafkaException as e:
            emit("commit_failed", partition=m.partition(), offset=m.offset(), error=str(e.args[0]))
    c.close()
    emit("closed")


if __name__ == "__main__":
    main()
