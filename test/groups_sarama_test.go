package test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestGroupSarama runs the group scenario (groups_clients_test.go) with
// IBM/sarama's ConsumerGroup at three protocol levels (0.11 sends JoinGroup
// v2, OffsetCommit v3, OffsetFetch v3 and so on; 2.1 the versions of that
// release; MaxVersion clamps to what the broker advertises) and with each
// of sarama's assignors. Members mark every record (MarkMessage) and sarama
// commits the marks on a timer and when a session ends, before it rejoins;
// the assignment each member is given (session Claims) must be the one
// DescribeGroups shows.
func TestGroupSarama(t *testing.T) {
	versions := []struct {
		name    string
		version sarama.KafkaVersion
	}{{"V0_11_0_0", sarama.V0_11_0_0}, {"V2_1_0_0", sarama.V2_1_0_0}, {"MaxVersion", sarama.MaxVersion}}
	strategies := []struct {
		name     string
		strategy func() sarama.BalanceStrategy
	}{
		{"range", sarama.NewBalanceStrategyRange},
		{"roundrobin", sarama.NewBalanceStrategyRoundRobin},
		{"sticky", sarama.NewBalanceStrategySticky},
	}
	for _, v := range versions {
		for _, s := range strategies {
			t.Run(v.name+"/"+s.name, func(t *testing.T) {
				group := "sarama-" + strings.ToLower(v.name) + "-" + s.name
				groupScenario{
					group: group, topic: group + "-topic", partitions: 6, perBatch: 30, members: 3,
					intervals: true,
					start: func(t *testing.T, tb *testBroker, i int, log *groupLog) groupClient {
						return startSaramaMember(t, tb.addr, fmt.Sprintf("sarama-member-%d", i), group, group+"-topic", v.version, s.strategy(), log)
					},
				}.run(t)
			})
		}
	}
}

type saramaMember struct {
	t      *testing.T
	id     string
	cg     sarama.ConsumerGroup
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func startSaramaMember(t *testing.T, addr, id, group, topic string, version sarama.KafkaVersion, strategy sarama.BalanceStrategy, log *groupLog) *saramaMember {
	t.Helper()
	c := saramaConfig(version)
	c.ClientID = id
	c.Consumer.Return.Errors = true
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	// MarkMessage per record, committed every 100ms and, before sarama
	// rejoins, when the session ends (while the group is preparing to
	// rebalance): no record may come twice. A commit per record would stall
	// behind the fetch long-poll on the shared connection.
	c.Consumer.Offsets.AutoCommit.Enable = true
	c.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	c.Consumer.MaxWaitTime = 100 * time.Millisecond
	c.Consumer.Retry.Backoff = 100 * time.Millisecond
	c.Consumer.Group.Session.Timeout = 4 * time.Second
	c.Consumer.Group.Heartbeat.Interval = 300 * time.Millisecond
	c.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	c.Consumer.Group.Rebalance.Retry.Backoff = 100 * time.Millisecond
	c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{strategy}
	cg, err := sarama.NewConsumerGroup([]string{addr}, group, c)
	if err != nil {
		t.Fatalf("sarama.NewConsumerGroup: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &saramaMember{t: t, id: id, cg: cg, cancel: cancel, done: make(chan struct{})}
	go func() {
		for err := range cg.Errors() {
			t.Logf("%s: sarama error: %v", id, err)
		}
	}()
	h := &saramaHandler{id: id, topic: topic, log: log, t: t}
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, h); err != nil {
				if errors.Is(err, sarama.ErrClosedConsumerGroup) {
					return
				}
				t.Logf("%s: Consume: %v", id, err)
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	return m
}

func (m *saramaMember) name() string { return m.id }

func (m *saramaMember) leave() {
	m.once.Do(func() {
		m.cancel()
		select {
		case <-m.done:
		case <-time.After(20 * time.Second):
			m.t.Errorf("%s: Consume did not return within 20s of cancel", m.id)
		}
		if err := m.cg.Close(); err != nil {
			m.t.Errorf("%s: close: %v", m.id, err)
		}
	})
}

func (m *saramaMember) crash(bool) bool { return false }

// saramaHandler reports Setup's claims as the assignment and Cleanup as
// the revocation, and commits each record synchronously.
type saramaHandler struct {
	t     *testing.T
	id    string
	topic string
	log   *groupLog
	mu    sync.Mutex
	parts []int32
}

func (h *saramaHandler) Setup(s sarama.ConsumerGroupSession) error {
	ps := append([]int32(nil), s.Claims()[h.topic]...)
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	h.mu.Lock()
	h.parts = ps
	h.mu.Unlock()
	h.log.add(groupEvent{Member: h.id, Kind: "assigned", Parts: ps})
	return nil
}

func (h *saramaHandler) Cleanup(s sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	ps := h.parts
	h.mu.Unlock()
	h.log.add(groupEvent{Member: h.id, Kind: "revoked", Parts: ps})
	return nil
}

func (h *saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		select {
		case <-s.Context().Done():
			return nil
		case msg, ok := <-c.Messages():
			if !ok {
				return nil
			}
			h.log.add(groupEvent{Member: h.id, Kind: "record", Partition: msg.Partition, Offset: msg.Offset, Value: string(msg.Value)})
			s.MarkMessage(msg, "")
		}
	}
}
