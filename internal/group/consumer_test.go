package group

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeTopics is a TopicLookup tests can change.
type fakeTopics struct {
	mu sync.Mutex
	ts []TopicInfo
}

func (f *fakeTopics) Topics() []TopicInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ts)
}

func (f *fakeTopics) set(name string, partitions int32) TopicID {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := TopicID{byte(len(name)), name[0], name[len(name)-1]}
	for i, t := range f.ts {
		if t.Name == name {
			f.ts[i].Partitions = partitions
			return t.ID
		}
	}
	f.ts = append(f.ts, TopicInfo{Name: name, ID: id, Partitions: partitions})
	return id
}

func tid(b byte) TopicID { return TopicID{b} }

func countAll(a map[string]partitionSet) map[string]int {
	out := map[string]int{}
	for m, ps := range a {
		out[m] = ps.count()
	}
	return out
}

// checkComplete fails unless every partition of every topic is assigned
// exactly once.
func checkComplete(t *testing.T, a map[string]partitionSet, partitions map[TopicID]int32) {
	t.Helper()
	seen := map[tp]string{}
	for m, ps := range a {
		for topic, parts := range ps {
			for _, p := range parts {
				if prev, dup := seen[tp{topic, p}]; dup {
					t.Fatalf("partition %v/%d assigned to %s and %s", topic[0], p, prev, m)
				}
				seen[tp{topic, p}] = m
			}
		}
	}
	n := 0
	for _, c := range partitions {
		n += int(c)
	}
	if len(seen) != n {
		t.Fatalf("%d partitions assigned, want %d: %v", len(seen), n, a)
	}
}

func TestUniformAssignorBalancedAndSticky(t *testing.T) {
	parts := map[TopicID]int32{tid(1): 6}
	spec := assignSpec{members: map[string][]TopicID{"a": {tid(1)}, "b": {tid(1)}, "c": {tid(1)}}, partitions: parts}
	a := assign(AssignorUniform, spec)
	checkComplete(t, a, parts)
	for m, n := range countAll(a) {
		if n != 2 {
			t.Fatalf("member %s has %d partitions, want 2: %v", m, n, a)
		}
	}
	// A fourth member: everyone keeps what it can (quota 1 or 2), and
	// only the surplus moves.
	spec.current = a
	spec.members["d"] = []TopicID{tid(1)}
	b := assign(AssignorUniform, spec)
	checkComplete(t, b, parts)
	moved := 0
	for _, m := range []string{"a", "b", "c"} {
		for _, p := range b[m][tid(1)] {
			if !a[m].has(tid(1), p) {
				t.Fatalf("member %s got new partition %d while it had enough: %v -> %v", m, p, a, b)
			}
		}
		moved += a[m].count() - b[m].count()
	}
	if moved != b["d"].count() || b["d"].count() < 1 {
		t.Fatalf("moved %d, d has %d: %v", moved, b["d"].count(), b)
	}
	// A member leaves: its partitions are spread, the others keep theirs.
	delete(spec.members, "a")
	spec.current = b
	c := assign(AssignorUniform, spec)
	checkComplete(t, c, parts)
	for _, m := range []string{"b", "c", "d"} {
		for _, p := range b[m][tid(1)] {
			if !c[m].has(tid(1), p) {
				t.Fatalf("member %s lost partition %d: %v -> %v", m, p, b, c)
			}
		}
		if n := c[m].count(); n != 2 {
			t.Fatalf("member %s has %d, want 2: %v", m, n, c)
		}
	}
}

func TestUniformAssignorHeterogeneous(t *testing.T) {
	parts := map[TopicID]int32{tid(1): 4, tid(2): 4}
	spec := assignSpec{
		members:    map[string][]TopicID{"a": {tid(1)}, "b": {tid(1), tid(2)}, "c": {tid(2)}},
		partitions: parts,
	}
	a := assign(AssignorUniform, spec)
	checkComplete(t, a, parts)
	for m, ps := range a {
		for topic := range ps {
			if !spec.subscribes(m, topic) {
				t.Fatalf("member %s got unsubscribed topic %d", m, topic[0])
			}
		}
	}
	counts := countAll(a)
	lo, hi := 100, 0
	for _, n := range counts {
		lo, hi = min(lo, n), max(hi, n)
	}
	if hi-lo > 1 {
		t.Fatalf("unbalanced: %v", counts)
	}
}

func TestRangeAssignor(t *testing.T) {
	parts := map[TopicID]int32{tid(1): 5, tid(2): 5}
	spec := assignSpec{
		members:    map[string][]TopicID{"a": {tid(1), tid(2)}, "b": {tid(1), tid(2)}},
		partitions: parts,
	}
	a := assign(AssignorRange, spec)
	checkComplete(t, a, parts)
	// Ranges, the first member one more, co-partitioned topics aligned.
	if fmt.Sprint(a["a"][tid(1)]) != "[0 1 2]" || fmt.Sprint(a["b"][tid(1)]) != "[3 4]" {
		t.Fatalf("ranges: %v", a)
	}
	for _, m := range []string{"a", "b"} {
		if !slices.Equal(a[m][tid(1)], a[m][tid(2)]) {
			t.Fatalf("co-partitioned topics differ for %s: %v", m, a)
		}
	}
	// Sticky: a third member takes from the ends, a and b keep a prefix.
	spec.current = a
	spec.members["c"] = []TopicID{tid(1), tid(2)}
	b := assign(AssignorRange, spec)
	checkComplete(t, b, parts)
	for _, m := range []string{"a", "b"} {
		for _, p := range b[m][tid(1)] {
			if !a[m].has(tid(1), p) {
				t.Fatalf("%s got a new partition: %v -> %v", m, a, b)
			}
		}
	}
	if n := b["c"].count(); n != 2 {
		t.Fatalf("c has %d: %v", n, b)
	}
}

// consumerHarness drives a coordinator with heartbeats.
type consumerHarness struct {
	t      *testing.T
	c      *Coordinator
	topics *fakeTopics
}

func newConsumerHarness(t *testing.T, cfg Config) *consumerHarness {
	c := newCoord(t, cfg)
	f := &fakeTopics{}
	c.SetTopicLookup(f)
	return &consumerHarness{t: t, c: c, topics: f}
}

func owned(id TopicID, ps ...int32) []TopicPartitions {
	return []TopicPartitions{{TopicID: id, Partitions: ps}}
}

func (h *consumerHarness) join(groupID, member string, topics ...string) ConsumerHeartbeatResult {
	h.t.Helper()
	return h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{
		GroupID: groupID, MemberID: member, MemberEpoch: 0, RebalanceTimeoutMs: 60000,
		SubscribedTopicNames: topics, Topics: []TopicPartitions{}, RequireMemberID: true,
	})
}

func (h *consumerHarness) beat(groupID, member string, epoch int32, own []TopicPartitions) ConsumerHeartbeatResult {
	h.t.Helper()
	if own == nil {
		own = []TopicPartitions{}
	}
	return h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{
		GroupID: groupID, MemberID: member, MemberEpoch: epoch, RebalanceTimeoutMs: -1,
		Topics: own, RequireMemberID: true,
	})
}

func mustOK(t *testing.T, what string, r ConsumerHeartbeatResult) ConsumerHeartbeatResult {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("%s: %v", what, r.Err)
	}
	return r
}

func assigned(r ConsumerHeartbeatResult, id TopicID) []int32 {
	for _, t := range r.Assignment {
		if t.TopicID == id {
			return t.Partitions
		}
	}
	return nil
}

// TestReconcileRevokeBeforeAssign: a partition moves to a new member only
// once its old owner's heartbeat shows it no longer owns it.
func TestReconcileRevokeBeforeAssign(t *testing.T) {
	h := newConsumerHarness(t, Config{})
	id := h.topics.set("t", 4)
	r1 := mustOK(t, "join a", h.join("g", "a", "t"))
	if r1.MemberEpoch != 1 || len(assigned(r1, id)) != 4 {
		t.Fatalf("a: %+v", r1)
	}
	if d := h.c.DescribeConsumerGroup("g"); d.State != StateStable || d.Epoch != 1 {
		t.Fatalf("describe: %+v", d)
	}
	r2 := mustOK(t, "join b", h.join("g", "b", "t"))
	if r2.MemberEpoch != 2 || len(assigned(r2, id)) != 0 {
		t.Fatalf("b must wait for a to revoke: %+v", r2)
	}
	if d := h.c.DescribeConsumerGroup("g"); d.State != StateReconciling {
		t.Fatalf("state %s, want Reconciling", d.State)
	}
	// a is asked to revoke two, keeping its epoch.
	r1 = mustOK(t, "a heartbeat", h.beat("g", "a", 1, owned(id, 0, 1, 2, 3)))
	keep := assigned(r1, id)
	if r1.MemberEpoch != 1 || len(keep) != 2 {
		t.Fatalf("a revoking: %+v", r1)
	}
	// Until a confirms, b gets nothing and a stays at epoch 1.
	for range 2 {
		if r := mustOK(t, "b heartbeat", h.beat("g", "b", 2, nil)); r.Assignment != nil && len(assigned(r, id)) != 0 {
			t.Fatalf("b got partitions a still owns: %+v", r)
		}
		if r := mustOK(t, "a heartbeat", h.beat("g", "a", 1, owned(id, 0, 1, 2, 3))); r.MemberEpoch != 1 {
			t.Fatalf("a moved on without revoking: %+v", r)
		}
	}
	// A heartbeat without the owned list (unchanged) cannot confirm either.
	if r := mustOK(t, "a keepalive", h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "g", MemberID: "a", MemberEpoch: 1, RebalanceTimeoutMs: -1, RequireMemberID: true})); r.MemberEpoch != 1 {
		t.Fatalf("keepalive confirmed a revocation: %+v", r)
	}
	r1 = mustOK(t, "a revoked", h.beat("g", "a", 1, owned(id, keep...)))
	if r1.MemberEpoch != 2 {
		t.Fatalf("a after revoking: %+v", r1)
	}
	r2 = mustOK(t, "b heartbeat", h.beat("g", "b", 2, nil))
	got := assigned(r2, id)
	if len(got) != 2 || slices.ContainsFunc(got, func(p int32) bool { return slices.Contains(keep, p) }) {
		t.Fatalf("b got %v, a keeps %v", got, keep)
	}
	if d := h.c.DescribeConsumerGroup("g"); d.State != StateStable || d.AssignmentEpoch != 2 {
		t.Fatalf("describe: %+v", d)
	}
	// The previous epoch with a subset of the assignment is tolerated (a
	// lost response); anything else is fenced.
	mustOK(t, "a previous epoch", h.beat("g", "a", 1, owned(id, keep...)))
	if r := h.beat("g", "a", 1, owned(id, 0, 1, 2, 3)); !errors.Is(r.Err, ErrFencedMemberEpoch) {
		t.Fatalf("old epoch owning too much: %v", r.Err)
	}
	if r := h.beat("g", "b", 3, nil); !errors.Is(r.Err, ErrFencedMemberEpoch) {
		t.Fatalf("epoch ahead: %v", r.Err)
	}
}

// TestConsumerMetadataChange: partitions added to a subscribed topic, or a
// topic created that a regex matches, give a new target assignment.
func TestConsumerMetadataChange(t *testing.T) {
	h := newConsumerHarness(t, Config{})
	id := h.topics.set("t", 2)
	r := mustOK(t, "join", h.join("g", "a", "t"))
	if len(assigned(r, id)) != 2 {
		t.Fatalf("%+v", r)
	}
	h.topics.set("t", 3)
	r = mustOK(t, "heartbeat", h.beat("g", "a", 1, owned(id, 0, 1)))
	if r.MemberEpoch != 2 || len(assigned(r, id)) != 3 {
		t.Fatalf("after adding a partition: %+v", r)
	}

	re := "x-.*"
	rx := mustOK(t, "regex join", h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{
		GroupID: "rg", MemberID: "m", RebalanceTimeoutMs: 1000, SubscribedTopicRegex: &re,
		Topics: []TopicPartitions{}, RequireMemberID: true,
	}))
	if len(rx.Assignment) != 0 {
		t.Fatalf("nothing matches yet: %+v", rx)
	}
	xid := h.topics.set("x-1", 2)
	h.topics.set("y-1", 2)
	rx = mustOK(t, "regex heartbeat", h.beat("rg", "m", rx.MemberEpoch, nil))
	if len(rx.Assignment) != 1 || len(assigned(rx, xid)) != 2 {
		t.Fatalf("regex after x-1 created: %+v", rx)
	}
	if r := h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "rg", MemberID: "n", RebalanceTimeoutMs: 1000,
		SubscribedTopicRegex: strPtr("("), Topics: []TopicPartitions{}, RequireMemberID: true}); !errors.Is(r.Err, ErrInvalidRegularExpression) {
		t.Fatalf("bad regex: %v", r.Err)
	}
}

func strPtr(s string) *string { return &s }

// TestConsumerSessionAndRebalanceTimeouts: a silent member is removed
// after the session timeout; a member that does not revoke within its
// rebalance timeout is fenced.
func TestConsumerSessionAndRebalanceTimeouts(t *testing.T) {
	h := newConsumerHarness(t, Config{ConsumerSessionTimeout: 150 * time.Millisecond, ConsumerHeartbeatInterval: 20 * time.Millisecond})
	h.topics.set("t", 2)
	r := mustOK(t, "join", h.join("g", "a", "t"))
	if r.HeartbeatInterval != 20*time.Millisecond {
		t.Fatalf("interval %v", r.HeartbeatInterval)
	}
	time.Sleep(300 * time.Millisecond)
	if d := h.c.DescribeConsumerGroup("g"); len(d.Members) != 0 || d.State != StateEmpty || d.Epoch != 2 {
		t.Fatalf("after the session timeout: %+v", d)
	}
	if r := h.beat("g", "a", 1, nil); !errors.Is(r.Err, ErrUnknownMemberID) {
		t.Fatalf("expired member: %v", r.Err)
	}

	// Rebalance timeout: a keeps heartbeating but never revokes.
	h2 := newConsumerHarness(t, Config{ConsumerSessionTimeout: 5 * time.Second})
	id := h2.topics.set("t", 2)
	mustOK(t, "join a", h2.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "g", MemberID: "a", RebalanceTimeoutMs: 100,
		SubscribedTopicNames: []string{"t"}, Topics: []TopicPartitions{}, RequireMemberID: true}))
	mustOK(t, "join b", h2.join("g", "b", "t"))
	mustOK(t, "a asked to revoke", h2.beat("g", "a", 1, owned(id, 0, 1)))
	time.Sleep(250 * time.Millisecond)
	if r := h2.beat("g", "a", 1, owned(id, 0, 1)); !errors.Is(r.Err, ErrUnknownMemberID) {
		t.Fatalf("member past its rebalance timeout: %v", r.Err)
	}
	if r := mustOK(t, "b", h2.beat("g", "b", 2, nil)); len(assigned(r, id)) != 2 {
		t.Fatalf("b after a was fenced: %+v", r)
	}
}

// TestConsumerStaticMembers: UNRELEASED_INSTANCE_ID while the instance is
// held; a temporary leave (-2) keeps the partitions for the next
// incarnation, which takes them over.
func TestConsumerStaticMembers(t *testing.T) {
	h := newConsumerHarness(t, Config{})
	id := h.topics.set("t", 2)
	inst := strPtr("i")
	sj := func(member string) ConsumerHeartbeatResult {
		return h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "g", MemberID: member, InstanceID: inst,
			RebalanceTimeoutMs: 1000, SubscribedTopicNames: []string{"t"}, Topics: []TopicPartitions{}, RequireMemberID: true})
	}
	mustOK(t, "s1", sj("s1"))
	mustOK(t, "dyn", h.join("g", "d", "t"))
	if r := sj("s2"); !errors.Is(r.Err, ErrUnreleasedInstanceID) {
		t.Fatalf("second incarnation: %v", r.Err)
	}
	mustOK(t, "s1 sees revocation", h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "g", MemberID: "s1", InstanceID: inst, MemberEpoch: 1, RebalanceTimeoutMs: -1, Topics: owned(id, 0, 1), RequireMemberID: true}))
	r := mustOK(t, "s1 revokes", h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "g", MemberID: "s1", InstanceID: inst, MemberEpoch: 1, RebalanceTimeoutMs: -1, Topics: owned(id, 0), RequireMemberID: true}))
	if r.MemberEpoch != 2 {
		t.Fatalf("s1: %+v", r)
	}
	mustOK(t, "s1 leaves for now", h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "g", MemberID: "s1", InstanceID: inst, MemberEpoch: -2, RequireMemberID: true}))
	// Its partition stays with it: d cannot get it.
	if r := mustOK(t, "d", h.beat("g", "d", 2, nil)); len(assigned(r, id)) > 1 {
		t.Fatalf("d took the static member's partition: %+v", r)
	}
	r = mustOK(t, "s2 takes over", sj("s2"))
	if got := assigned(r, id); fmt.Sprint(got) != "[0]" {
		t.Fatalf("s2 got %v, want s1's [0]", got)
	}
	if r := h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "g", MemberID: "s1", InstanceID: inst, MemberEpoch: 2, RebalanceTimeoutMs: -1, Topics: owned(id, 0), RequireMemberID: true}); !errors.Is(r.Err, ErrFencedInstanceID) {
		t.Fatalf("old incarnation: %v", r.Err)
	}
}

// TestConsumerGroupNamespace: classic and consumer groups share ids.
func TestConsumerGroupNamespace(t *testing.T) {
	h := newConsumerHarness(t, testConfig())
	h.topics.set("t", 1)
	mustOK(t, "join", h.join("cg", "a", "t"))

	// Classic requests do not see it; a classic member cannot join it.
	if r := h.c.Join(ctxT(t), req("cg", "")); !errors.Is(r.Err, ErrInconsistentGroupProtocol) {
		t.Fatalf("classic join of a consumer group: %v", r.Err)
	}
	if err := h.c.Heartbeat("cg", "a", nil, 1); !errors.Is(err, ErrUnknownMemberID) {
		t.Fatalf("classic heartbeat: %v", err)
	}
	if d := h.c.Describe("cg"); d.Type != TypeConsumer || !d.Exists || d.State != StateDead || !slices.Equal(d.SubscribedTopics, []string{"t"}) {
		t.Fatalf("describe: %+v", d)
	}
	ls := h.c.List(nil, []string{"Consumer"})
	if len(ls) != 1 || ls[0].Type != TypeConsumer || ls[0].State != StateStable || ls[0].ProtocolType != "consumer" {
		t.Fatalf("list: %+v", ls)
	}
	if ls := h.c.List(nil, []string{"classic"}); len(ls) != 0 {
		t.Fatalf("list classic: %+v", ls)
	}
	if err := h.c.Delete("cg"); !errors.Is(err, ErrNonEmptyGroup) {
		t.Fatalf("delete: %v", err)
	}
	if h.c.IsEmpty("cg") {
		t.Fatal("IsEmpty")
	}
	// Commits: the member's epoch is checked.
	if err := h.c.ValidateCommit("cg", "a", nil, 1); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if _, err := h.c.ValidateOffsetCommit(CommitRequest{GroupID: "cg", MemberID: "a", Epoch: 2, Version: 9}); !errors.Is(err, ErrStaleMemberEpoch) {
		t.Fatalf("commit ahead: %v", err)
	}
	if _, err := h.c.ValidateOffsetCommit(CommitRequest{GroupID: "cg", MemberID: "a", Epoch: 1, Version: 8}); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("commit v8: %v", err)
	}
	if _, err := h.c.ValidateOffsetCommit(CommitRequest{GroupID: "nope", MemberID: "a", Epoch: 1, Version: 9}); !errors.Is(err, ErrGroupIDNotFound) {
		t.Fatalf("commit to an unknown group v9: %v", err)
	}
	if err := h.c.ValidateTxnCommit("cg", "a", nil, 7); !errors.Is(err, ErrIllegalGeneration) {
		t.Fatalf("txn commit: %v", err)
	}

	// Leave: Empty, listed and deletable; a classic group may take the id.
	r := h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "cg", MemberID: "a", MemberEpoch: -1, RequireMemberID: true})
	if r.Err != nil || r.MemberEpoch != -1 {
		t.Fatalf("leave: %+v", r)
	}
	if !h.c.IsEmpty("cg") {
		t.Fatal("not empty after leave")
	}
	if _, ok := h.c.EmptySince("cg"); !ok {
		t.Fatal("EmptySince")
	}
	if ls := h.c.List([]string{"empty"}, nil); len(ls) != 1 || ls[0].GroupID != "cg" {
		t.Fatalf("list empty: %+v", ls)
	}
	if err := h.c.Delete("cg"); err != nil {
		t.Fatalf("delete empty: %v", err)
	}
	if d := h.c.DescribeConsumerGroup("cg"); !errors.Is(d.Err, ErrGroupIDNotFound) {
		t.Fatalf("describe deleted: %+v", d)
	}

	// A non-empty classic group is not a consumer group; an empty one is
	// converted on the first consumer-protocol join.
	cr := h.c.Join(ctxT(t), req("classic", ""))
	if cr.Err != nil {
		t.Fatalf("classic join: %v", cr.Err)
	}
	if r := h.join("classic", "x", "t"); !errors.Is(r.Err, ErrGroupIDNotFound) {
		t.Fatalf("consumer join of a classic group: %v", r.Err)
	}
	if d := h.c.DescribeConsumerGroup("classic"); !errors.Is(d.Err, ErrGroupIDNotFound) {
		t.Fatalf("describe classic as consumer: %+v", d)
	}
	h.c.Touch("offsets-only")
	mustOK(t, "join over an empty classic group", h.join("offsets-only", "x", "t"))
	if d := h.c.Describe("offsets-only"); d.Type != TypeConsumer {
		t.Fatalf("not converted: %+v", d)
	}
}

// TestConsumerHeartbeatValidation: Kafka's request checks.
func TestConsumerHeartbeatValidation(t *testing.T) {
	h := newConsumerHarness(t, Config{})
	base := func() ConsumerHeartbeatRequest {
		return ConsumerHeartbeatRequest{GroupID: "g", MemberID: "m", RebalanceTimeoutMs: 1000,
			SubscribedTopicNames: []string{"t"}, Topics: []TopicPartitions{}, RequireMemberID: true}
	}
	for _, tc := range []struct {
		name string
		mut  func(*ConsumerHeartbeatRequest)
		want error
	}{
		{"no member id", func(r *ConsumerHeartbeatRequest) { r.MemberID = "" }, ErrInvalidRequest},
		{"no group", func(r *ConsumerHeartbeatRequest) { r.GroupID = "" }, ErrInvalidRequest},
		{"no rebalance timeout", func(r *ConsumerHeartbeatRequest) { r.RebalanceTimeoutMs = -1 }, ErrInvalidRequest},
		{"null owned on join", func(r *ConsumerHeartbeatRequest) { r.Topics = nil }, ErrInvalidRequest},
		{"no subscription", func(r *ConsumerHeartbeatRequest) { r.SubscribedTopicNames = nil }, ErrInvalidRequest},
		{"static leave without instance", func(r *ConsumerHeartbeatRequest) { r.MemberEpoch = -2 }, ErrInvalidRequest},
		{"epoch below -2", func(r *ConsumerHeartbeatRequest) { r.MemberEpoch = -3 }, ErrInvalidRequest},
		{"blank instance", func(r *ConsumerHeartbeatRequest) { r.InstanceID = strPtr(" ") }, ErrInvalidRequest},
		{"unknown assignor", func(r *ConsumerHeartbeatRequest) { r.ServerAssignor = strPtr("sticky") }, ErrUnsupportedAssignor},
		{"leave unknown group", func(r *ConsumerHeartbeatRequest) { r.MemberEpoch = -1 }, ErrGroupIDNotFound},
	} {
		r := base()
		tc.mut(&r)
		if got := h.c.ConsumerHeartbeat(r); !errors.Is(got.Err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got.Err, tc.want)
		}
	}
	// v0: the coordinator picks the member id.
	r := base()
	r.MemberID, r.RequireMemberID = "", false
	if got := mustOK(t, "v0 join", h.c.ConsumerHeartbeat(r)); got.MemberID == "" {
		t.Fatal("no member id assigned")
	}
	// A fenced member rejoins with epoch 0 and its id (KAFKA-19233).
	mustOK(t, "join", h.c.ConsumerHeartbeat(base()))
	mustOK(t, "rejoin", h.c.ConsumerHeartbeat(base()))
}
