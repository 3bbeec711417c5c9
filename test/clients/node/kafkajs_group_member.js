#!/usr/bin/env node
// One consumer group member on KafkaJS (consumer.run with eachMessage).
//
// Usage: node kafkajs_group_member.js BOOTSTRAP < spec
//
// The first stdin line is a JSON spec: group, topic, client_id,
// session_timeout_ms, heartbeat_ms, delay_ms (per record). The member
// reports each assignment it is given (GROUP_JOIN: its whole assignment,
// event "replaced"), each record, and each commit (autoCommitThreshold 1:
// KafkaJS commits every record before it takes the next one) as JSON lines
// with a wall clock "ts" in ms. When stdin closes it disconnects (final
// commit, LeaveGroup) and exits.
'use strict'

const { Kafka } = require('kafkajs')

const emit = (event, fields) => process.stdout.write(JSON.stringify({ event, ts: Date.now(), ...fields }) + '\n')

const logCreator = () => ({ namespace, level, label, log }) => {
  const { message, ...extra } = log
  process.stderr.write(`kafkajs ${label} [${namespace}] ${message} ${JSON.stringify(extra)}\n`)
}

function stdinLines (onFirst, onEnd) {
  let buf = ''
  let first = false
  process.stdin.on('data', c => {
    buf += c.toString('utf8')
    const i = buf.indexOf('\n')
    if (!first && i >= 0) {
      first = true
      onFirst(JSON.parse(buf.slice(0, i)))
    }
  })
  process.stdin.on('end', onEnd)
}

async function main (spec, ended) {
  const kafka = new Kafka({
    clientId: spec.client_id,
    brokers: [process.argv[2]],
    logCreator,
    retry: { initialRetryTime: 100, retries: 20 }
  })
  const consumer = kafka.consumer({
    groupId: spec.group,
    sessionTimeout: spec.session_timeout_ms,
    heartbeatInterval: spec.heartbeat_ms,
    rebalanceTimeout: 10000,
    metadataMaxAge: 1000,
    maxWaitTimeInMs: 200
  })
  const { GROUP_JOIN, COMMIT_OFFSETS, CRASH } = consumer.events
  consumer.on(GROUP_JOIN, e => emit('replaced', {
    partitions: (e.payload.memberAssignment[spec.topic] || []).slice().sort((a, b) => a - b),
    member_id: e.payload.memberId,
    protocol: e.payload.groupProtocol
  }))
  consumer.on(COMMIT_OFFSETS, e => {
    for (const t of e.payload.topics) {
      for (const p of t.partitions) emit('committed', { partition: Number(p.partition), offset: Number(p.offset) })
    }
  })
  consumer.on(CRASH, e => emit('error', { error: String(e.payload.error) }))
  await consumer.connect()
  await consumer.subscribe({ topics: [spec.topic], fromBeginning: true })
  await consumer.run({
    autoCommitThreshold: 1,
    eachMessage: async ({ partition, message }) => {
      emit('record', {
        partition,
        offset: Number(message.offset),
        value: message.value == null ? null : message.value.toString('utf8')
      })
      if (spec.delay_ms) await new Promise(resolve => setTimeout(resolve, spec.delay_ms))
    }
  })
  await ended
  await consumer.disconnect()
  emit('closed', {})
}

let end
const ended = new Promise(resolve => { end = resolve })
stdinLines(spec => {
  main(spec, ended).then(() => process.exit(0), err => {
    process.stderr.write(`kafkajs_group_member: ${err && err.stack ? err.stack : err}\n`)
    process.exit(1)
  })
}, () => end())
