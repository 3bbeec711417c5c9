package test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestStandaloneCommitsAndGroupAdmin: commits with generation -1 (assign
// consumers), OffsetFetch of all topics, OffsetDelete, DeleteGroups, and
// offsets of a deleted topic going away.
func TestStandaloneCommitsAndGroupAdmin(t *testing.T) {
	tb := startBroker(t, "", fastGroups)
	adm := tb.admin()
	ctx := testContext(t)
	createTopic(t, adm, "a", 2, nil)
	createTopic(t, adm, "b", 1, nil)

	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "a", Partition: 0, At: 10, LeaderEpoch: -1, Metadata: "note"})
	os.Add(kadm.Offset{Topic: "a", Partition: 1, At: 20, LeaderEpoch: -1})
	os.Add(kadm.Offset{Topic: "b", Partition: 0, At: 5, LeaderEpoch: -1})
	res, err := adm.CommitOffsets(ctx, "standalone", os)
	if err != nil || res.Error() != nil {
		t.Fatalf("standalone commit: %v %v", err, res.Error())
	}
	fetched, err := adm.FetchOffsets(ctx, "standalone") // null topics: everything
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := fetched.Lookup("a", 0); o.At != 10 || o.Metadata != "note" {
		t.Fatalf("a/0 = %+v", o)
	}
	if o, _ := fetched.Lookup("b", 0); o.At != 5 {
		t.Fatalf("b/0 = %+v", o)
	}
	// An unknown partition commits nothing.
	var bad kadm.Offsets
	bad.Add(kadm.Offset{Topic: "a", Partition: 9, At: 1, LeaderEpoch: -1})
	if res, _ := adm.CommitOffsets(ctx, "standalone", bad); !errors.Is(res.Error(), kerr.UnknownTopicOrPartition) {
		t.Fatalf("commit to a missing partition: %v", res.Error())
	}

	// The group shows up as Empty.
	lg, err := adm.ListGroups(ctx)
	if err != nil || lg["standalone"].State != "Empty" {
		t.Fatalf("list groups: %+v %v", lg, err)
	}

	// OffsetDelete removes one partition's offset.
	dr, err := adm.DeleteOffsets(ctx, "standalone", kadm.TopicsSet{"a": {1: {}}})
	if err != nil || dr.Error() != nil {
		t.Fatalf("delete offsets: %v %v", err, dr.Error())
	}
	fetched, _ = adm.FetchOffsets(ctx, "standalone")
	if _, ok := fetched.Lookup("a", 1); ok {
		t.Fatal("a/1 still committed after OffsetDelete")
	}

	// Deleting topic b removes its offsets from every group.
	if _, err := adm.DeleteTopics(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	fetched, _ = adm.FetchOffsets(ctx, "standalone")
	if _, ok := fetched.Lookup("b", 0); ok {
		t.Fatal("offsets of deleted topic b survive")
	}

	// Offsets survive a restart, and the group is still listed.
	tb = tb.restart()
	adm = tb.admin()
	fetched, _ = adm.FetchOffsets(ctx, "standalone")
	if o, _ := fetched.Lookup("a", 0); o.At != 10 {
		t.Fatalf("after restart a/0 = %+v", o)
	}
	if lg, _ := adm.ListGroups(ctx); lg["standalone"].State != "Empty" {
		t.Fatalf("after restart: %+v", lg)
	}

	// DeleteGroups: an empty group goes, with its offsets; an unknown one errs.
	dg, err := adm.DeleteGroups(ctx, "standalone", "never-was")
	if err != nil || dg["standalone"].Err != nil || !errors.Is(dg["never-was"].Err, kerr.GroupIDNotFound) {
		t.Fatalf("delete groups: %v %+v", err, dg)
	}
	fetched, _ = adm.FetchOffsets(ctx, "standalone")
	if len(fetched) != 0 {
		t.Fatalf("offsets left after DeleteGroups: %+v", fetched)
	}
}

// TestGroupProtocolErrors checks the codes clients act on, on the wire.
func TestGroupProtocolErrors(t *testing.T) {
	tb := startBroker(t, "", fastGroups)
	createTopic(t, tb.admin(), "g", 1, nil)
	join := func(version int16, member string, session int32) *kmsg.JoinGroupResponse {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Version = version
		req.Group, req.MemberID, req.ProtocolType = "errs", member, "consumer"
		req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = session, 5000
		req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}}
		return roundTrip(t, tb.addr, req).(*kmsg.JoinGroupResponse)
	}
	if r := join(5, "", 100); r.ErrorCode != kerr.InvalidSessionTimeout.Code {
		t.Fatalf("session timeout below the minimum: %+v", r)
	}
	r := join(5, "", 3000)
	if r.ErrorCode != kerr.MemberIDRequired.Code || r.MemberID == "" {
		t.Fatalf("first join v5: %+v, want MEMBER_ID_REQUIRED with an id", r)
	}
	r = join(5, r.MemberID, 3000)
	if r.ErrorCode != 0 || r.Generation != 1 || r.LeaderID != r.MemberID || len(r.Members) != 1 {
		t.Fatalf("second join: %+v", r)
	}
	member := r.MemberID
	hb := func(gen int32, m string) int16 {
		req := kmsg.NewPtrHeartbeatRequest()
		req.Version = 3
		req.Group, req.Generation, req.MemberID = "errs", gen, m
		return roundTrip(t, tb.addr, req).(*kmsg.HeartbeatResponse).ErrorCode
	}
	if code := hb(1, member); code != 0 {
		t.Fatalf("heartbeat: %d", code)
	}
	if code := hb(99, member); code != kerr.IllegalGeneration.Code {
		t.Fatalf("heartbeat with a wrong generation: %d", code)
	}
	if code := hb(1, "nobody"); code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat from an unknown member: %d", code)
	}
	// A join without the v4 two-step (v1, kafka-python's version) gets in
	// at once; the silent first member is dropped after its session timeout.
	if r := join(1, "", 3000); r.ErrorCode != 0 || r.MemberID == "" || r.Generation != 2 {
		t.Fatalf("join v1: %+v", r)
	}
	if code := hb(2, member); code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat from the expired member: %d", code)
	}
	// Unknown groups in DescribeGroups v6 and v5.
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Version, dg.Groups = 6, []string{"nope"}
	if g := roundTrip(t, tb.addr, dg).(*kmsg.DescribeGroupsResponse).Groups[0]; g.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("describe unknown group v6: %+v", g)
	}
	dg.Version = 5
	if g := roundTrip(t, tb.addr, dg).(*kmsg.DescribeGroupsResponse).Groups[0]; g.ErrorCode != 0 || g.State != "Dead" {
		t.Fatalf("describe unknown group v5: %+v", g)
	}
}

// TestGroupMemberSessionExpiry: a member that stops heartbeating (a static
// member closed without leaving) is dropped after its session timeout and
// the other member gets its partitions.
func TestGroupMemberSessionExpiry(t *testing.T) {
	tb := startBroker(t, "", fastGroups)
	adm := tb.admin()
	createTopic(t, adm, "exp", 4, nil)
	a := newGroupMember(t, tb.addr, "expiry", "exp", kgo.InstanceID("a"), kgo.SessionTimeout(2*time.Second))
	defer a.cl.Close()
	b := newGroupMember(t, tb.addr, "expiry", "exp", kgo.InstanceID("b"), kgo.SessionTimeout(2*time.Second))
	stableAssignment(t, adm, "expiry", "exp", 2, 4)
	// A static member's Close does not send LeaveGroup: like a crash, only
	// the session timeout removes it.
	b.cl.Close()
	start := time.Now()
	owners := stableAssignment(t, adm, "expiry", "exp", 1, 4)
	if time.Since(start) > 20*time.Second {
		t.Fatalf("member removed only after %v", time.Since(start))
	}
	dg, _ := adm.DescribeGroups(context.Background(), "expiry")
	for _, m := range owners {
		if m != dg["expiry"].Members[0].MemberID {
			t.Fatalf("partitions owned by %s, survivor is %s", m, dg["expiry"].Members[0].MemberID)
		}
	}
}
