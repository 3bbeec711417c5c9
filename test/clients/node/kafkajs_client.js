#!/usr/bin/env node
// Drive a Kafka broker with KafkaJS.
//
// Usage: node kafkajs_client.js BOOTSTRAP < spec.json
//
// The spec (JSON on stdin) names a topic prefix, the codecs and the messages
// to produce (key/value/header values base64 or null, timestamps in ms).
// The script uses the admin client (createTopics, listTopics,
// fetchTopicMetadata, fetchTopicOffsets, fetchTopicOffsetsByTimestamp,
// deleteTopics) and an idempotent producer (acks -1) once per codec, and
// prints each result as one JSON line; the Go test reads the records back
// with another client. Any failure exits non-zero with a message on stderr.
'use strict'

const { Kafka, CompressionTypes, logLevel } = require('kafkajs')

const emit = (event, fields) => process.stdout.write(JSON.stringify({ event, ...fields }) + '\n')
const dec = b => (b == null ? null : Buffer.from(b, 'base64'))

// KafkaJS logs go to stderr, shown by the Go test when the script fails.
const logCreator = () => ({ namespace, level, label, log }) => {
  const { message, ...extra } = log
  process.stderr.write(`kafkajs ${label} [${namespace}] ${message} ${JSON.stringify(extra)}\n`)
}

const codecs = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP }

function readStdin () {
  return new Promise((resolve, reject) => {
    const chunks = []
    process.stdin.on('data', c => chunks.push(c))
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    process.stdin.on('error', reject)
  })
}

function toKafkaJS (m) {
  const headers = {}
  for (const h of m.headers || []) {
    headers[h.key] = dec(h.value)
  }
  return { partition: 0, key: dec(m.key), value: dec(m.value), headers, timestamp: String(m.timestamp) }
}

async function main () {
  if (process.argv.length !== 3) throw new Error('usage: kafkajs_client.js BOOTSTRAP < spec.json')
  const bootstrap = process.argv[2]
  const spec = JSON.parse(await readStdin())
  const { prefix, messages } = spec
  emit('versions', { client: require('kafkajs/package.json').version, node: process.version })

  const kafka = new Kafka({
    clientId: 'chronik-kafkajs',
    brokers: [bootstrap],
    logLevel: logLevel.WARN,
    logCreator,
    connectionTimeout: 5000,
    requestTimeout: 15000,
    retry: { retries: 3, initialRetryTime: 100 },
  })
  const admin = kafka.admin()
  await admin.connect()

  const codecTopics = spec.codecs.map(c => `${prefix}-${c}`)
  const adminTopic = `${prefix}-admin`
  const created = await admin.createTopics({
    waitForLeaders: true,
    timeout: 10000,
    topics: [
      ...codecTopics.map(topic => ({ topic, numPartitions: 1, replicationFactor: 1 })),
      { topic: adminTopic, numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '3600000' }] },
    ],
  })
  emit('created', { result: created })
  const again = await admin.createTopics({ topics: [{ topic: adminTopic, numPartitions: 1 }], timeout: 10000 })
  emit('create_again', { result: again })

  const listed = (await admin.listTopics()).filter(t => t.startsWith(prefix)).sort()
  emit('list_topics', { topics: listed })

  const md = await admin.fetchTopicMetadata({ topics: [adminTopic, ...codecTopics] })
  emit('metadata', {
    topics: md.topics.map(t => ({
      name: t.name,
      partitions: t.partitions
        .map(p => ({ id: p.partitionId, leader: p.leader, replicas: p.replicas, isr: p.isr, error: p.partitionErrorCode }))
        .sort((a, b) => a.id - b.id),
    })),
  })
  const cluster = await admin.describeCluster()
  emit('cluster', { clusterId: cluster.clusterId, controller: cluster.controller, brokers: cluster.brokers })

  // Default partitioner note silenced: every message names partition 0.
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 1000 } })
  await producer.connect()
  for (const [i, codec] of spec.codecs.entries()) {
    const topic = codecTopics[i]
    // Two sends: two produce requests, two batches.
    const half = Math.floor(messages.length / 2)
    const results = []
    for (const part of [messages.slice(0, half), messages.slice(half)]) {
      const res = await producer.send({ topic, acks: -1, timeout: 10000, compression: codecs[codec], messages: part.map(toKafkaJS) })
      results.push(...res.map(r => ({ partition: r.partition, errorCode: r.errorCode, baseOffset: Number(r.baseOffset), logStartOffset: r.logStartOffset == null ? null : Number(r.logStartOffset) })))
    }
    emit('produced', { topic, codec, results })

    const offsets = await admin.fetchTopicOffsets(topic)
    emit('offsets', { topic, offsets: offsets.map(o => ({ partition: o.partition, low: Number(o.low), high: Number(o.high), offset: Number(o.offset) })) })
    const mid = messages[Math.floor(messages.length / 2)].timestamp
    const byTime = []
    for (const ts of [0, mid, messages[messages.length - 1].timestamp + 60000]) {
      const r = await admin.fetchTopicOffsetsByTimestamp(topic, ts)
      byTime.push(r.map(o => Number(o.offset)))
    }
    emit('offsets_by_time', { topic, offsets: byTime })
  }
  await producer.disconnect()

  await admin.deleteTopics({ topics: [adminTopic], timeout: 10000 })
  const deadline = Date.now() + 10000
  while ((await admin.listTopics()).includes(adminTopic)) {
    if (Date.now() > deadline) throw new Error(`${adminTopic} still listed after deleteTopics`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  let againErr = 'NO_ERROR'
  try {
    await admin.deleteTopics({ topics: [adminTopic], timeout: 10000 })
  } catch (e) {
    // KafkaJS retries UNKNOWN_TOPIC_OR_PARTITION, then wraps it.
    const cause = e.cause || e
    againErr = cause.type || cause.name
  }
  emit('deleted', { topic: adminTopic, again: againErr })
  await admin.disconnect()
}

main().then(
  () => process.exit(0),
  e => {
    process.stderr.write(`kafkajs_client: ${e && e.stack ? e.stack : e}\n`)
    if (e && e.errors) process.stderr.write(`errors: ${JSON.stringify(e.errors.map(x => ({ name: x.name, type: x.type, message: x.message })))}\n`)
    process.exit(1)
  }
)
