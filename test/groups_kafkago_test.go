package test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestGroupKafkaGo runs the group scenario (groups_clients_test.go) with
// segmentio/kafka-go Readers sharing a GroupID, each committing every
// record (CommitMessages, synchronous with CommitInterval 0) before it
// fetches the next, with kafka-go's range and round-robin balancers. A
// record read right before a rebalance may come again: the Reader sends its
// commit only in the next generation, after that generation fetched its
// offsets (a kafka-go race, see groupLog.check).
func TestGroupKafkaGo(t *testing.T) {
	for _, b := range []struct {
		name     string
		balancer kafka.GroupBalancer
	}{{"range", kafka.RangeGroupBalancer{}}, {"roundrobin", kafka.RoundRobinGroupBalancer{}}} {
		t.Run(b.name, func(t *testing.T) {
			group := "kafkago-" + b.name
			groupScenario{
				group: group, topic: group + "-topic", partitions: 6, perBatch: 30, members: 3,
				lateCommits: true,
				start: func(t *testing.T, tb *testBroker, i int, log *groupLog) groupClient {
					return startKafkaGoMember(t, tb.addr, fmt.Sprintf("kafkago-member-%d", i), group, group+"-topic", b.balancer, log)
				},
			}.run(t)
		})
	}
}

type kafkaGoMember struct {
	t      *testing.T
	id     string
	r      *kafka.Reader
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func startKafkaGoMember(t *testing.T, addr, id, group, topic string, balancer kafka.GroupBalancer, log *groupLog) *kafkaGoMember {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           []string{addr},
		GroupID:           group,
		Topic:             topic,
		Dialer:            &kafka.Dialer{ClientID: id, Timeout: 5 * time.Second},
		GroupBalancers:    []kafka.GroupBalancer{balancer},
		SessionTimeout:    4 * time.Second,
		HeartbeatInterval: 300 * time.Millisecond,
		RebalanceTimeout:  5 * time.Second,
		JoinGroupBackoff:  200 * time.Millisecond,
		StartOffset:       kafka.FirstOffset,
		MaxWait:           200 * time.Millisecond,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    200 * time.Millisecond,
		ErrorLogger:       kafka.LoggerFunc(func(f string, a ...any) { t.Logf("%s: kafka-go: "+f, append([]any{id}, a...)...) }),
	})
	ctx, cancel := context.WithCancel(context.Background())
	m := &kafkaGoMember{t: t, id: id, r: r, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for {
			msg, err := r.FetchMessage(ctx)
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, io.EOF) {
					t.Logf("%s: FetchMessage: %v", id, err)
				}
				return
			}
			log.add(groupEvent{Member: id, Kind: "record", Partition: int32(msg.Partition), Offset: msg.Offset, Value: string(msg.Value)})
			if err := r.CommitMessages(ctx, msg); err != nil {
				log.add(groupEvent{Member: id, Kind: "commit_failed", Partition: int32(msg.Partition), Offset: msg.Offset})
				t.Logf("%s: commit %d/%d: %v", id, msg.Partition, msg.Offset, err)
				continue
			}
			log.add(groupEvent{Member: id, Kind: "committed", Partition: int32(msg.Partition), Offset: msg.Offset + 1})
		}
	}()
	return m
}

func (m *kafkaGoMember) name() string { return m.id }

func (m *kafkaGoMember) leave() {
	m.once.Do(func() {
		m.cancel()
		<-m.done
		if err := m.r.Close(); err != nil {
			m.t.Errorf("%s: close: %v", m.id, err)
		}
	})
}

func (m *kafkaGoMember) crash(bool) bool { return false }
