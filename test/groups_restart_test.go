package test

// Group membership persists across a broker restart (as Kafka keeps group
// metadata in __consumer_offsets): members of a Stable group keep their
// member ids, generation (or member epoch) and partitions, so they go on
// consuming without a rebalance and without reading anything twice, even
// what they had consumed but not yet committed when the broker went down.

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type memberState struct {
	id  string
	gen int32
}

func groupMetas(ms []*groupMember) []memberState {
	var out []memberState
	for _, m := range ms {
		id, gen := m.cl.GroupMetadata()
		out = append(out, memberState{id, gen})
	}
	return out
}

func describedIDs(t *testing.T, tb *testBroker, group string) []string {
	t.Helper()
	dg, err := tb.admin().DescribeGroups(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range dg[group].Members {
		ids = append(ids, m.MemberID)
	}
	slices.Sort(ids)
	return ids
}

// TestGroupMembershipSurvivesRestart: classic-protocol franz-go members.
func TestGroupMembershipSurvivesRestart(t *testing.T) {
	tb := startBroker(t, "", fastGroups)
	adm := tb.admin()
	createTopic(t, adm, "keep", 4, nil)
	pcl := func() *kgo.Client { return tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner())) }
	produceN(t, pcl(), "keep", 4, 25)
	// Commits are slow enough that some of what was consumed is uncommitted
	// when the broker stops.
	opts := []kgo.Opt{kgo.AutoCommitInterval(2 * time.Second)}
	a := newGroupMember(t, tb.addr, "keepers", "keep", opts...)
	b := newGroupMember(t, tb.addr, "keepers", "keep", opts...)
	defer a.cl.Close()
	defer b.cl.Close()
	ms := []*groupMember{a, b}
	stableAssignment(t, adm, "keepers", "keep", 2, 4)
	waitAllConsumed(t, ms, 100, 30*time.Second)
	before := groupMetas(ms)
	ids := describedIDs(t, tb, "keepers")
	if len(ids) != 2 || before[0].gen <= 0 || before[0].gen != before[1].gen {
		t.Fatalf("before the restart: members %v, client state %v", ids, before)
	}

	tb = tb.restartSamePort()
	adm = tb.admin()
	if got := describedIDs(t, tb, "keepers"); !slices.Equal(got, ids) {
		t.Fatalf("members after the restart %v, want %v", got, ids)
	}
	produceN(t, pcl(), "keep", 4, 25)
	waitAllConsumed(t, ms, 200, 60*time.Second)
	// Several heartbeats later, nothing rebalanced.
	time.Sleep(time.Second)
	if after := groupMetas(ms); !slices.Equal(after, before) {
		t.Fatalf("client group state after the restart %v, want %v", after, before)
	}
	if got := describedIDs(t, tb, "keepers"); !slices.Equal(got, ids) {
		t.Fatalf("members after consuming %v, want %v", got, ids)
	}
	stableAssignment(t, adm, "keepers", "keep", 2, 4)
	waitCommitted(t, adm, "keepers", "keep", evenEnd(4, 50))
	waitAllConsumed(t, ms, 200, time.Second)
}

// TestKIP848MembershipSurvivesRestart: consumer-protocol franz-go members.
func TestKIP848MembershipSurvivesRestart(t *testing.T) {
	tb := startBroker(t, "", fastGroups)
	adm := tb.admin()
	createTopic(t, adm, "keep848", 4, nil)
	pcl := func() *kgo.Client { return tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner())) }
	produceN(t, pcl(), "keep848", 4, 25)
	opts := []kgo.Opt{kgo.AutoCommitInterval(2 * time.Second)}
	a := new848Member(t, tb.addr, "keepers848", "keep848", opts...)
	b := new848Member(t, tb.addr, "keepers848", "keep848", opts...)
	defer a.cl.Close()
	defer b.cl.Close()
	ms := []*groupMember{a, b}
	owners := stable848(t, adm, "keepers848", "keep848", 2, 4)
	waitAllConsumed(t, ms, 100, 30*time.Second)
	g, err := describe848(adm, "keepers848")
	if err != nil {
		t.Fatal(err)
	}

	tb = tb.restartSamePort()
	adm = tb.admin()
	g2, err := describe848(adm, "keepers848")
	if err != nil {
		t.Fatal(err)
	}
	if g2.Epoch != g.Epoch || len(g2.Members) != len(g.Members) {
		t.Fatalf("after the restart: epoch %d, %d members; before: epoch %d, %d members", g2.Epoch, len(g2.Members), g.Epoch, len(g.Members))
	}
	produceN(t, pcl(), "keep848", 4, 25)
	waitAllConsumed(t, ms, 200, 60*time.Second)
	if after := stable848(t, adm, "keepers848", "keep848", 2, 4); !equalOwners(after, owners) {
		t.Fatalf("partitions moved across the restart: %v, before %v", after, owners)
	}
	g3, err := describe848(adm, "keepers848")
	if err != nil {
		t.Fatal(err)
	}
	if g3.Epoch != g.Epoch {
		t.Fatalf("group epoch %d after the restart, was %d: the group rebalanced", g3.Epoch, g.Epoch)
	}
	waitCommitted(t, adm, "keepers848", "keep848", evenEnd(4, 50))
	waitAllConsumed(t, ms, 200, time.Second)
}

func equalOwners(a, b map[int32]string) bool {
	if len(a) != len(b) {
		return false
	}
	for p, m := range a {
		if b[p] != m {
			return false
		}
	}
	return true
}
