package test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-streaming/chronik/internal/config"
)

func fastGroups(c *config.Config) {
	c.Consumer.GroupInitialRebalanceDelayMs = 0
	c.Consumer.GroupMinSessionTimeoutMs = 500
	c.Consumer.GroupConsumerSessionTimeoutMs = int32(consumerSession848 / time.Millisecond)
	c.Consumer.GroupConsumerHeartbeatIntervalMs = 250
}

// groupMember is a franz-go group consumer that records what it got.
type groupMember struct {
	cl  *kgo.Client
	mu  sync.Mutex
	got map[int32][]int64 // partition -> offsets received
}

func newGroupMember(t *testing.T, addr, groupID, topic string, opts ...kgo.Opt) *groupMember {
	m := &groupMember{got: map[int32][]int64{}}
	opts = append([]kgo.Opt{
		kgo.SeedBrokers(addr), kgo.ConsumerGroup(groupID), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(3 * time.Second), kgo.HeartbeatInterval(300 * time.Millisecond),
		kgo.AutoCommitInterval(200 * time.Millisecond),
	}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	go func() {
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
			m.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) { m.got[r.Partition] = append(m.got[r.Partition], r.Offset) })
			m.mu.Unlock()
		}
	}()
	return m
}

func (m *groupMember) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, o := range m.got {
		n += len(o)
	}
	return n
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stableAssignment describes the group and returns partition -> member once
// the group is Stable with n members that together own every partition once.
func stableAssignment(t *testing.T, adm *kadm.Client, groupID, topic string, members, partitions int) map[int32]string {
	t.Helper()
	var owners map[int32]string
	waitFor(t, 30*time.Second, fmt.Sprintf("%s stable with %d members", groupID, members), func() bool {
		dg, err := adm.DescribeGroups(context.Background(), groupID)
		if err != nil {
			return false
		}
		g := dg[groupID]
		if g.State != "Stable" || len(g.Members) != members {
			return false
		}
		owners = map[int32]string{}
		for _, m := range g.Members {
			ca, ok := m.Assigned.AsConsumer()
			if !ok {
				return false
			}
			for _, tp := range ca.Topics {
				for _, p := range tp.Partitions {
					if _, dup := owners[p]; dup {
						t.Fatalf("partition %d assigned twice", p)
					}
					owners[p] = m.MemberID
				}
			}
		}
		return len(owners) == partitions
	})
	return owners
}

// waitAllConsumed waits until the members together received n records and
// checks that no record came twice.
func waitAllConsumed(t *testing.T, ms []*groupMember, n int, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("all %d records consumed", n), func() bool {
		got := 0
		for _, m := range ms {
			got += m.count()
		}
		return got >= n
	})
	seen := map[string]bool{}
	for _, m := range ms {
		m.mu.Lock()
		for p, offs := range m.got {
			for _, o := range offs {
				k := fmt.Sprintf("%d/%d", p, o)
				if seen[k] {
					m.mu.Unlock()
					t.Fatalf("record %s consumed twice", k)
				}
				seen[k] = true
			}
		}
		m.mu.Unlock()
	}
	if len(seen) != n {
		t.Fatalf("consumed %d distinct records, want %d", len(seen), n)
	}
}

// assertEvenShares checks that owners (partition -> member) spreads the
// partitions over members members, each partitions each.
func assertEvenShares(t *testing.T, owners map[int32]string, members, each int) {
	t.Helper()
	perMember := map[string]int{}
	for _, m := range owners {
		perMember[m]++
	}
	if len(perMember) != members {
		t.Fatalf("owners %v: want %d members", owners, members)
	}
	for m, n := range perMember {
		if n != each {
			t.Fatalf("member %s owns %d partitions, want %d each: %v", m, n, each, owners)
		}
	}
}

// evenEnd is the same end offset on partitions 0..n-1.
func evenEnd(n int32, at int64) map[int32]int64 {
	end := map[int32]int64{}
	for p := int32(0); p < n; p++ {
		end[p] = at
	}
	return end
}

func produceN(t *testing.T, cl *kgo.Client, topic string, partitions, perPartition int) {
	t.Helper()
	var rs []*kgo.Record
	for p := 0; p < partitions; p++ {
		for i := 0; i < perPartition; i++ {
			rs = append(rs, &kgo.Record{Topic: topic, Partition: int32(p), Value: []byte(fmt.Sprintf("%d-%d", p, i))})
		}
	}
	if err := cl.ProduceSync(testContext(t), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestConsumerGroupLifecycle: three franz-go members share six partitions
// with no overlap, commit, survive one leaving, and after a broker restart a
// new member resumes from the committed offsets.
func TestConsumerGroupLifecycle(t *testing.T) {
	tb := startBroker(t, "", fastGroups)
	adm := tb.admin()
	createTopic(t, adm, "jobs", 6, nil)
	produceN(t, tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner())), "jobs", 6, 50)

	var ms []*groupMember
	for i := 0; i < 3; i++ {
		ms = append(ms, newGroupMember(t, tb.addr, "workers", "jobs"))
	}
	defer func() {
		for _, m := range ms {
			m.cl.Close()
		}
	}()
	owners := stableAssignment(t, adm, "workers", "jobs", 3, 6)
	assertEvenShares(t, owners, 3, 2)
	waitAllConsumed(t, ms, 300, 30*time.Second)
	waitCommitted(t, adm, "workers", "jobs", evenEnd(6, 50))

	// One leaves: the other two take its partitions.
	ms[2].cl.Close()
	ms = ms[:2]
	stableAssignment(t, adm, "workers", "jobs", 2, 6)

	// A non-empty group cannot be deleted.
	if r, err := adm.DeleteGroup(context.Background(), "workers"); err == nil && !errors.Is(r.Err, kerr.NonEmptyGroup) {
		t.Fatalf("delete non-empty group: %v", r.Err)
	}
	for _, m := range ms {
		m.cl.Close()
	}
	ms = nil

	// Restart: committed offsets survive; a new member starts after them.
	tb = tb.restart()
	adm = tb.admin()
	os, err := adm.FetchOffsets(testContext(t), "workers")
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 6; p++ {
		if o, _ := os.Lookup("jobs", p); o.At != 50 {
			t.Fatalf("after restart partition %d committed at %d, want 50", p, o.At)
		}
	}
	produceN(t, tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner())), "jobs", 6, 1)
	m := newGroupMember(t, tb.addr, "workers", "jobs")
	ms = append(ms, m)
	waitFor(t, 30*time.Second, "the 6 new records", func() bool { return m.count() >= 6 })
	time.Sleep(300 * time.Millisecond)
	m.mu.Lock()
	for p, offs := range m.got {
		sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
		if len(offs) != 1 || offs[0] != 50 {
			t.Fatalf("partition %d after restart: offsets %v, want only 50", p, offs)
		}
	}
	m.mu.Unlock()

	// Listing and describing.
	lg, err := adm.ListGroups(testContext(t))
	if err != nil || len(lg) != 1 || lg.Groups()[0] != "workers" {
		t.Fatalf("list groups: %v %v", lg, err)
	}
}

// TestGroupSurvivesBrokerRestart: members of a group ride through a broker
// restart: they rejoin, the group stabilises, and consumption resumes from
// the committed offsets without re-reading what was committed.
func TestGroupSurvivesBrokerRestart(t *testing.T) {
	tb := startBroker(t, "", fastGroups)
	adm := tb.admin()
	createTopic(t, adm, "ride", 4, nil)
	pcl := func() *kgo.Client { return tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner())) }
	produceN(t, pcl(), "ride", 4, 25)
	a := newGroupMember(t, tb.addr, "riders", "ride")
	b := newGroupMember(t, tb.addr, "riders", "ride")
	defer a.cl.Close()
	defer b.cl.Close()
	waitFor(t, 30*time.Second, "first 100 records", func() bool { return a.count()+b.count() >= 100 })
	waitCommitted(t, adm, "riders", "ride", evenEnd(4, 25))

	tb = tb.restartSamePort()
	adm = tb.admin()
	produceN(t, pcl(), "ride", 4, 25)
	waitFor(t, 60*time.Second, "the next 100 records after the restart", func() bool { return a.count()+b.count() >= 200 })
	stableAssignment(t, adm, "riders", "ride", 2, 4)
	// Group membership is persisted, so the members keep their
	// partitions across the restart: nothing is read twice.
	seen := map[string]int{}
	for _, m := range []*groupMember{a, b} {
		m.mu.Lock()
		for p, offs := range m.got {
			for _, o := range offs {
				k := fmt.Sprintf("%d/%d", p, o)
				if seen[k]++; seen[k] > 1 {
					t.Errorf("record %s read again after the restart", k)
				}
			}
		}
		m.mu.Unlock()
	}
	if len(seen) != 200 {
		t.Fatalf("consumed %d distinct records, want 200", len(seen))
	}
}
