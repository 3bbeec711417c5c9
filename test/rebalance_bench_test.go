package test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-streaming/chronik/internal/config"
)

// BenchmarkRebalance10Members measures how long a group of 10 franz-go
// consumers (cooperative-sticky) takes from the first join until it is
// Stable with 20 partitions spread over all 10, with the initial rebalance
// delay at 0 and at Kafka's default of 3 s.
//
//	go test -run '^$' -bench Rebalance10 -benchtime 3x ./test/
func BenchmarkRebalance10Members(b *testing.B) {
	for _, delay := range []int64{0, 3000} {
		b.Run(fmt.Sprintf("join_delay=%dms", delay), func(b *testing.B) {
			tb := startBroker(b, b.TempDir(), func(c *config.Config) {
				c.Consumer.GroupInitialRebalanceDelayMs = delay
				c.Consumer.GroupMinSessionTimeoutMs = 500
			})
			adm := kadm.NewClient(newBenchClient(b, tb.addr))
			if _, err := adm.CreateTopic(context.Background(), 20, 1, nil, "rb"); err != nil {
				b.Fatal(err)
			}
			var took []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				group := fmt.Sprintf("rb-%d", i)
				start := time.Now()
				var cls []*kgo.Client
				for m := 0; m < 10; m++ {
					cl := newBenchClient(b, tb.addr, kgo.ConsumerGroup(group), kgo.ConsumeTopics("rb"),
						kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(200*time.Millisecond))
					go func() {
						for !cl.PollFetches(context.Background()).IsClientClosed() {
						}
					}()
					cls = append(cls, cl)
				}
				for !stableWith(adm, group, 10, 20) {
					time.Sleep(5 * time.Millisecond)
				}
				took = append(took, time.Since(start))
				b.StopTimer()
				for _, cl := range cls {
					cl.Close()
				}
				b.StartTimer()
			}
			sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
			b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "median-ms-to-stable")
		})
	}
}

func newBenchClient(b *testing.B, addr string, opts ...kgo.Opt) *kgo.Client {
	return newClient(b, addr, opts...)
}

// stableWith reports whether the group is Stable with members members that
// together own partitions partitions, each member at least one.
func stableWith(adm *kadm.Client, group string, members, partitions int) bool {
	dg, err := adm.DescribeGroups(context.Background(), group)
	if err != nil {
		return false
	}
	g := dg[group]
	if g.State != "Stable" || len(g.Members) != members {
		return false
	}
	n := 0
	for _, m := range g.Members {
		ca, ok := m.Assigned.AsConsumer()
		if !ok {
			return false
		}
		owned := 0
		for _, tp := range ca.Topics {
			owned += len(tp.Partitions)
		}
		if owned == 0 {
			return false
		}
		n += owned
	}
	return n == partitions
}
