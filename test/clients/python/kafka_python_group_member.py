#!/usr/bin/env python3
"""One consumer group member on kafka-python (KafkaConsumer(group_id=...)).

Usage: kafka_python_group_member.py BOOTSTRAP < spec

Same protocol as confluent_group_member.py: the first stdin line is the
JSON spec (group, topic, client_id, session_timeout_ms, heartbeat_ms,
delay_ms, strategy "range" or "roundrobin"); the member reports
assignments, revocations, records and its commits (one synchronous commit
per record) as JSON lines, and closes (LeaveGroup) when stdin closes.
"""

import json
import sys
import threading
import time

from kafka import KafkaConsumer, OffsetAndMetadata
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor


def emit(event, **fields):
    print(json.dumps(dict(event=event, ts=time.time() * 1000, **fields)), flush=True)


class Listener(ConsumerRebalanceListener):
    def on_partitions_revoked(self, revoked):
        emit("revoked", partitions=sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned):
        emit("assigned", partitions=sorted(tp.partition for tp in assigned))


def main():
    addr = sys.argv[1]
    spec = json.loads(sys.stdin.readline())
    stop = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    assignor = {"range": RangePartitionAssignor,
                "roundrobin": RoundRobinPartitionAssignor}[spec.get("strategy") or "range"]
    c = KafkaConsumer(
        bootstrap_servers=addr,
        group_id=spec["group"],
        client_id=spec["client_id"],
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=spec["session_timeout_ms"],
        heartbeat_interval_ms=spec["heartbeat_ms"],
        max_poll_interval_ms=10000,
        metadata_max_age_ms=1000,
        partition_assignment_strategy=[assignor],
    )
    emit("versions", client=__import__("kafka").__version__, api_version=list(c.config["api_version"]))
    c.subscribe([spec["topic"]], listener=Listener())
    delay = spec.get("delay_ms", 0) / 1000.0
    while not stop.is_set():
        batches = c.poll(timeout_ms=100, max_records=1)
        for tp, msgs in batches.items():
            for m in msgs:
                emit("record", partition=tp.partition, offset=m.offset,
                     value=m.value.decode() if m.value is not None else None)
                if delay:
                    time.sleep(delay)
                try:
                    c.commit({tp: OffsetAndMetadata(m.offset + 1, None)})
                    emit("committed", partition=tp.partition, offset=m.offset + 1)
                except Exception as e:  # noqa: BLE001 - report what the client raised
                    emit("commit_failed", partition=tp.partition, offset=m.offset, error=repr(e))
    c.close()
    emit("closed")


if __name__ == "__main__":
    main()
