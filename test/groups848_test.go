package test

// KIP-848 consumer groups (ConsumerGroupHeartbeat, server-side assignment)
// driven by franz-go's implementation (kgo.ServerSideBalancer) and by raw
// requests. fastGroups gives the broker short consumer group timings (a 4 s
// session, 250 ms heartbeats) so that reassignments take a moment.

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
	"github.com/twmb/franz-go/pkg/kmsg"
)

// consumerSession848 is the broker's group.consumer.session.timeout.ms in
// these tests (fastGroups sets it).
const consumerSession848 = 4 * time.Second

// new848Member is a franz-go consumer using the consumer group protocol.
func new848Member(t *testing.T, addr, groupID, topic string, opts ...kgo.Opt) *groupMember {
	t.Helper()
	opts = append([]kgo.Opt{kgo.ServerSideBalancer(), kgo.FetchMaxWait(200 * time.Millisecond)}, opts...)
	return newGroupMember(t, addr, groupID, topic, opts...)
}

// describe848 describes a consumer group with ConsumerGroupDescribe.
func describe848(adm *kadm.Client, groupID string) (kadm.DescribedConsumerGroup, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dg, err := adm.DescribeConsumerGroups(ctx, groupID)
	if err != nil {
		return kadm.DescribedConsumerGroup{}, err
	}
	g := dg[groupID]
	return g, g.Err
}

// stable848 waits until the group is Stable with n members, each
// reconciled to its target, that together own every partition of topic
// once, and returns partition -> member id.
func stable848(t *testing.T, adm *kadm.Client, groupID, topic string, members, partitions int) map[int32]string {
	t.Helper()
	var owners map[int32]string
	var last string
	deadline := time.Now().Add(60 * time.Second)
	for {
		g, err := describe848(adm, groupID)
		last = fmt.Sprintf("%v %s epoch %d/%d members %d", err, g.State, g.Epoch, g.AssignmentEpoch, len(g.Members))
		if err == nil && g.State == "Stable" && len(g.Members) == members && g.Epoch == g.AssignmentEpoch {
			owners = map[int32]string{}
			ok := true
			for _, m := range g.Members {
				if m.MemberEpoch != g.AssignmentEpoch {
					ok = false
				}
				m.Assignment.Each(func(tp string, p int32) {
					if tp != topic {
						return
					}
					if prev, dup := owners[p]; dup {
						t.Fatalf("partition %d owned by %s and %s", p, prev, m.MemberID)
					}
					owners[p] = m.MemberID
				})
			}
			if ok && len(owners) == partitions {
				return owners
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not stable with %d members owning %d partitions: %s", groupID, members, partitions, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// watchOverlap describes the group continually and records any moment at
// which two members' current assignments share a partition: a partition
// must be revoked by its old owner before its new owner gets it.
func watchOverlap(t *testing.T, adm *kadm.Client, groupID string) (stop func() string) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var overlap string
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			g, err := describe848(adm, groupID)
			if err != nil {
				continue
			}
			seen := map[string]string{}
			for _, m := range g.Members {
				m.Assignment.Each(func(tp string, p int32) {
					k := fmt.Sprintf("%s/%d", tp, p)
					if prev, dup := seen[k]; dup {
						mu.Lock()
						overlap = fmt.Sprintf("%s owned by %s and %s at epoch %d", k, prev, m.MemberID, g.Epoch)
						mu.Unlock()
					}
					seen[k] = m.MemberID
				})
			}
		}
	}()
	return func() string {
		close(done)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return overlap
	}
}

// TestKIP848Lifecycle: three franz-go members on six partitions get two
// each, consume every record once and commit; the group lists as a
// "consumer" group; when one leaves, the others get its partitions (never
// two owners at once); once all leave the group is Empty and deletable.
func TestKIP848Lifecycle(t *testing.T) {
	tb := startBroker(t, "", fastGroups)
	adm := tb.admin()
	createTopic(t, adm, "jobs848", 6, nil)
	produceN(t, tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner())), "jobs848", 6, 50)

	stopWatch := watchOverlap(t, adm, "w848")
	var ms []*groupMember
	for i := 0; i < 3; i++ {
		ms = append(ms, new848Member(t, tb.addr, "w848", "jobs848"))
	}
	defer func() {
		for _, m := range ms {
			m.cl.Close()
		}
	}()
	owners := stable848(t, adm, "w848", "jobs848", 3, 6)
	assertEvenShares(t, owners, 3, 2)
	g, _ := describe848(adm, "w848")
	if g.AssignorName != "uniform" {
		t.Fatalf("assignor %q, want uniform", g.AssignorName)
	}
	for _, m := range g.Members {
		if m.MemberType != 1 || len(m.SubscribedTopics) != 1 || m.SubscribedTopics[0] != "jobs848" {
			t.Fatalf("member %+v", m)
		}
	}

	waitAllConsumed(t, ms, 300, 60*time.Second)
	waitCommitted(t, adm, "w848", "jobs848", evenEnd(6, 50))

	// ListGroups: a "consumer" group, Stable; DescribeGroups (classic) does
	// not describe it; it cannot be deleted while it has members.
	listed, err := adm.ListGroups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if lg, ok := listed["w848"]; !ok || lg.GroupType != "consumer" || lg.ProtocolType != "consumer" || lg.State != "Stable" {
		t.Fatalf("listed %+v", listed["w848"])
	}
	dreq := kmsg.NewPtrDescribeGroupsRequest()
	dreq.Version, dreq.Groups = 6, []string{"w848"}
	if d := roundTrip(t, tb.addr, dreq).(*kmsg.DescribeGroupsResponse); d.Groups[0].ErrorCode != kerr.GroupIDNotFound.Code || d.Groups[0].State != "Dead" {
		t.Fatalf("DescribeGroups v6 of a consumer group: %+v", d.Groups[0])
	}
	if r, err := adm.DeleteGroup(context.Background(), "w848"); err == nil && !errors.Is(r.Err, kerr.NonEmptyGroup) {
		t.Fatalf("delete non-empty group: %v", r.Err)
	}

	// One leaves: the others take its partitions, 3 each.
	ms[2].cl.Close()
	ms = ms[:2]
	owners = stable848(t, adm, "w848", "jobs848", 2, 6)
	assertEvenShares(t, owners, 2, 3)
	if o := stopWatch(); o != "" {
		t.Fatalf("a partition had two owners: %s", o)
	}

	// All leave: Empty, then deletable.
	for _, m := range ms {
		m.cl.Close()
	}
	ms = nil
	waitFor(t, 20*time.Second, "group empty", func() bool {
		g, err := describe848(adm, "w848")
		return err == nil && g.State == "Empty" && len(g.Members) == 0
	})
	if r, err := adm.DeleteGroup(context.Background(), "w848"); err != nil || r.Err != nil {
		t.Fatalf("delete empty consumer group: %v %v", err, r.Err)
	}
	if _, err := describe848(adm, "w848"); !errors.Is(err, kerr.GroupIDNotFound) {
		t.Fatalf("describe deleted group: %v", err)
	}
}

// TestKIP848StaticSessionTimeout: a static member that goes away without
// leaving for good keeps its partitions until its session times out; then
// the remaining member gets them.
func TestKIP848StaticSessionTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the consumer session timeout")
	}
	tb := startBroker(t, "", fastGroups)
	adm := tb.admin()
	createTopic(t, adm, "st848", 4, nil)
	a := new848Member(t, tb.addr, "s848", "st848", kgo.InstanceID("a"))
	b := new848Member(t, tb.addr, "s848", "st848", kgo.InstanceID("b"))
	defer a.cl.Close()
	owners := stable848(t, adm, "s848", "st848", 2, 4)
	if len(owners) != 4 {
		t.Fatalf("owners %v", owners)
	}
	closed := time.Now()
	b.cl.Close()
	// Until the session timeout, b's partitions stay with b. (franz-go's
	// static leave, epoch -2 without the instance id, is refused with
	// INVALID_REQUEST by Kafka and here alike.)
	time.Sleep(consumerSession848 / 20)
	g, err := describe848(adm, "s848")
	if err != nil || len(g.Members) != 2 {
		t.Fatalf("right after close: %v %+v", err, g)
	}
	stable848(t, adm, "s848", "st848", 1, 4)
	if d := time.Since(closed); d < consumerSession848*9/10 {
		t.Fatalf("static member removed after %v, before its session timeout", d)
	}
}

// TestKIP848RestartResume: members commit, the broker restarts, new members
// rejoin the group and resume from the committed offsets.
func TestKIP848RestartResume(t *testing.T) {
	tb := startBroker(t, "", fastGroups)
	adm := tb.admin()
	createTopic(t, adm, "rs848", 3, nil)
	produceN(t, tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner())), "rs848", 3, 10)
	m := new848Member(t, tb.addr, "r848", "rs848")
	waitFor(t, 60*time.Second, "30 records", func() bool { return m.count() >= 30 })
	waitFor(t, 20*time.Second, "offsets committed", func() bool {
		os, err := adm.FetchOffsets(context.Background(), "r848")
		if err != nil {
			return false
		}
		for p := int32(0); p < 3; p++ {
			if o, ok := os.Lookup("rs848", p); !ok || o.At != 10 {
				return false
			}
		}
		return true
	})
	m.cl.Close()

	tb = tb.restart()
	adm = tb.admin()
	produceN(t, tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner())), "rs848", 3, 5)
	m1 := new848Member(t, tb.addr, "r848", "rs848")
	m2 := new848Member(t, tb.addr, "r848", "rs848")
	defer m1.cl.Close()
	defer m2.cl.Close()
	stable848(t, adm, "r848", "rs848", 2, 3)
	waitFor(t, 60*time.Second, "15 new records", func() bool { return m1.count()+m2.count() >= 15 })
	time.Sleep(500 * time.Millisecond)
	for _, gm := range []*groupMember{m1, m2} {
		gm.mu.Lock()
		for p, offs := range gm.got {
			for _, o := range offs {
				if o < 10 {
					t.Errorf("partition %d offset %d consumed again after restart", p, o)
				}
			}
		}
		gm.mu.Unlock()
	}
	if n := m1.count() + m2.count(); n != 15 {
		t.Fatalf("consumed %d records after restart, want 15", n)
	}
}

// TestKIP848Regex: a regex subscription is resolved by the broker and picks
// up a matching topic created later.
func TestKIP848Regex(t *testing.T) {
	tb := startBroker(t, "", fastGroups)
	adm := tb.admin()
	createTopic(t, adm, "re848-a", 2, nil)
	createTopic(t, adm, "other848", 2, nil)
	cl := tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceN(t, cl, "re848-a", 2, 5)
	produceN(t, cl, "other848", 2, 5)
	m := new848Member(t, tb.addr, "x848", "re848-.*", kgo.ConsumeRegex())
	defer m.cl.Close()
	waitFor(t, 60*time.Second, "re848-a consumed", func() bool { return m.count() >= 10 })

	createTopic(t, adm, "re848-b", 3, nil)
	produceN(t, cl, "re848-b", 3, 5)
	waitFor(t, 60*time.Second, "re848-b consumed", func() bool { return m.count() >= 25 })
	time.Sleep(300 * time.Millisecond)
	if n := m.count(); n != 25 {
		t.Fatalf("consumed %d records, want 25 (other848 must not match)", n)
	}
	g, err := describe848(adm, "x848")
	if err != nil || len(g.Members) != 1 || g.Members[0].SubscribedTopicRegex == nil {
		t.Fatalf("describe: %v %+v", err, g)
	}
	topics := g.Members[0].Assignment.Topics()
	sort.Strings(topics)
	if fmt.Sprint(topics) != "[re848-a re848-b]" {
		t.Fatalf("assigned topics %v", topics)
	}
}

// TestKIP848Protocol: the heartbeat's errors and the commit/fetch epoch
// checks, with raw requests.
func TestKIP848Protocol(t *testing.T) {
	tb := startBroker(t, "", fastGroups)
	adm := tb.admin()
	createTopic(t, adm, "p848", 2, nil)
	td, err := adm.ListTopics(context.Background(), "p848")
	if err != nil {
		t.Fatal(err)
	}
	topicID := td["p848"].ID

	hb := func(mut func(r *kmsg.ConsumerGroupHeartbeatRequest)) *kmsg.ConsumerGroupHeartbeatResponse {
		t.Helper()
		r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		r.Version = 1
		r.Group, r.MemberID, r.MemberEpoch = "p848g", "m1", 0
		r.RebalanceTimeoutMillis = 5000
		r.SubscribedTopicNames = []string{"p848"}
		r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		if mut != nil {
			mut(r)
		}
		return roundTrip(t, tb.addr, r).(*kmsg.ConsumerGroupHeartbeatResponse)
	}
	expect := func(what string, r *kmsg.ConsumerGroupHeartbeatResponse, code int16) {
		t.Helper()
		if r.ErrorCode != code {
			t.Fatalf("%s: error %d (%v), want %d", what, r.ErrorCode, r.ErrorMessage, code)
		}
	}

	expect("unknown assignor", hb(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.ServerAssignor = strp("sticky") }), kerr.UnsupportedAssignor.Code)
	expect("no member id (v1)", hb(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID = "" }), kerr.InvalidRequest.Code)
	expect("owned partitions on join", hb(func(r *kmsg.ConsumerGroupHeartbeatRequest) {
		r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{{TopicID: topicID, Partitions: []int32{0}}}
	}), kerr.InvalidRequest.Code)
	expect("bad regex", hb(func(r *kmsg.ConsumerGroupHeartbeatRequest) {
		r.SubscribedTopicNames = nil
		r.SubscribedTopicRegex = strp("(")
	}), kerr.InvalidRegularExpression.Code)
	expect("unknown member", hb(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = 3 }), kerr.UnknownMemberID.Code)

	// Join: epoch 1, both partitions, by topic id, heartbeat interval.
	r := hb(nil)
	expect("join", r, 0)
	if r.MemberID == nil || *r.MemberID != "m1" || r.MemberEpoch != 1 || r.HeartbeatIntervalMillis <= 0 || r.Assignment == nil ||
		len(r.Assignment.Topics) != 1 || r.Assignment.Topics[0].TopicID != topicID || len(r.Assignment.Topics[0].Partitions) != 2 {
		t.Fatalf("join: %+v", r)
	}
	expect("epoch ahead", hb(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = 5 }), kerr.FencedMemberEpoch.Code)

	// A second member: the group epoch moves to 2; m1 must revoke one
	// partition (still epoch 1), m2 waits for it (epoch 2, nothing yet).
	r2 := hb(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID = "m2" })
	expect("join m2", r2, 0)
	if r2.MemberEpoch != 2 || r2.Assignment == nil || len(r2.Assignment.Topics) != 0 {
		t.Fatalf("m2 join: %+v (its partition is not released yet)", r2)
	}
	owned := func(ps ...int32) []kmsg.ConsumerGroupHeartbeatRequestTopic {
		return []kmsg.ConsumerGroupHeartbeatRequestTopic{{TopicID: topicID, Partitions: ps}}
	}
	r = hb(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch, r.Topics = 1, owned(0, 1) })
	expect("m1 heartbeat", r, 0)
	if r.MemberEpoch != 1 || r.Assignment == nil || len(r.Assignment.Topics[0].Partitions) != 1 {
		t.Fatalf("m1 asked to revoke: %+v", r)
	}
	kept := r.Assignment.Topics[0].Partitions[0]
	revoked := 1 - kept

	// Before m1 revokes, m1 committing with epoch 1 is fine; m2 still gets
	// nothing; a commit with a newer epoch than m1's is stale.
	commit := func(member string, epoch int32, p int32) int16 {
		t.Helper()
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version = 9
		req.Group, req.MemberID, req.Generation = "p848g", member, epoch
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "p848"
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = p, 0
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return roundTrip(t, tb.addr, req).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
	}
	if c := commit("m1", 1, revoked); c != 0 {
		t.Fatalf("m1 commit during revocation: %d", c)
	}
	if c := commit("m1", 2, kept); c != kerr.StaleMemberEpoch.Code {
		t.Fatalf("commit with a future epoch: %d", c)
	}
	if c := commit("nobody", 1, kept); c != kerr.UnknownMemberID.Code {
		t.Fatalf("commit from an unknown member: %d", c)
	}
	if c := commit("", -1, kept); c != kerr.UnknownMemberID.Code {
		t.Fatalf("standalone commit to a group with members: %d", c)
	}
	r2 = hb(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID, r.MemberEpoch, r.Topics = "m2", 2, owned() })
	expect("m2 heartbeat", r2, 0)
	if r2.Assignment != nil && len(r2.Assignment.Topics) != 0 {
		t.Fatalf("m2 got a partition m1 still owns: %+v", r2.Assignment)
	}

	// m1 revokes: it moves to epoch 2; m2's next heartbeat gets the partition.
	r = hb(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch, r.Topics = 1, owned(kept) })
	expect("m1 revoked", r, 0)
	if r.MemberEpoch != 2 {
		t.Fatalf("m1 after revoking: %+v", r)
	}
	r2 = hb(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID, r.MemberEpoch, r.Topics = "m2", 2, owned() })
	expect("m2 heartbeat", r2, 0)
	if r2.Assignment == nil || len(r2.Assignment.Topics) != 1 || fmt.Sprint(r2.Assignment.Topics[0].Partitions) != fmt.Sprint([]int32{revoked}) {
		t.Fatalf("m2 after m1 revoked: %+v", r2.Assignment)
	}
	// KIP-1251: m1 may still commit its kept partition with epoch 1 (assigned
	// at epoch 1), not the one it gave up.
	if c := commit("m1", 1, kept); c != 0 {
		t.Fatalf("m1 commit of its kept partition with its previous epoch: %d", c)
	}
	if c := commit("m2", 1, revoked); c != kerr.StaleMemberEpoch.Code {
		t.Fatalf("m2 commit with an epoch before its assignment: %d", c)
	}
	if c := commit("m2", 2, revoked); c != 0 {
		t.Fatalf("m2 commit: %d", c)
	}

	// OffsetFetch v9 member epoch validation.
	fetch := func(member *string, epoch int32) int16 {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = 9
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group, g.MemberID, g.MemberEpoch = "p848g", member, epoch
		req.Groups = append(req.Groups, g)
		return roundTrip(t, tb.addr, req).(*kmsg.OffsetFetchResponse).Groups[0].ErrorCode
	}
	if c := fetch(strp("m2"), 2); c != 0 {
		t.Fatalf("fetch with the current epoch: %d", c)
	}
	if c := fetch(strp("m2"), 1); c != kerr.StaleMemberEpoch.Code {
		t.Fatalf("fetch with a stale epoch: %d", c)
	}
	if c := fetch(strp("nobody"), 1); c != kerr.UnknownMemberID.Code {
		t.Fatalf("fetch from an unknown member: %d", c)
	}
	if c := fetch(nil, -1); c != 0 {
		t.Fatalf("admin fetch: %d", c)
	}

	// Static members: a second instance with the same id is refused while
	// the first holds it; after a temporary leave (-2) it takes over.
	static := func(member string, epoch int32, owned []kmsg.ConsumerGroupHeartbeatRequestTopic) *kmsg.ConsumerGroupHeartbeatResponse {
		return hb(func(r *kmsg.ConsumerGroupHeartbeatRequest) {
			r.Group, r.MemberID, r.MemberEpoch, r.InstanceID = "p848s", member, epoch, strp("i1")
			if epoch != 0 {
				r.Topics = owned
			}
		})
	}
	s := static("s1", 0, nil)
	expect("static join", s, 0)
	expect("second instance", static("s2", 0, nil), kerr.UnreleasedInstanceID.Code)
	expect("static temporary leave", static("s1", -2, nil), 0)
	s = static("s2", 0, nil)
	expect("static rejoin", s, 0)
	if s.Assignment == nil || len(s.Assignment.Topics) != 1 || len(s.Assignment.Topics[0].Partitions) != 2 {
		t.Fatalf("static rejoin keeps the assignment: %+v", s)
	}
	expect("old instance fenced", static("s1", 1, owned()), kerr.FencedInstanceID.Code)
	expect("static leave", static("s2", -1, nil), 0)

	// Leave: the group epoch moves on; m2 leaves too and the group is Empty.
	expect("m1 leave", hb(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = -1 }), 0)
	expect("m1 gone", hb(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch, r.Topics = 2, nil }), kerr.UnknownMemberID.Code)
	expect("m2 leave", hb(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID, r.MemberEpoch = "m2", -1 }), 0)
	listed, err := adm.ListGroups(context.Background())
	if err != nil || listed["p848g"].State != "Empty" || listed["p848g"].GroupType != "consumer" {
		t.Fatalf("listed: %v %+v", err, listed["p848g"])
	}
}
