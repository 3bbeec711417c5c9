package group

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"
)

var memberIDPattern = regexp.MustCompile(`^client-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestTwoMembersJoinAndSync(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = 100 * time.Millisecond
	c := newCoord(t, cfg)
	ctx := ctxT(t)

	start := time.Now()
	ch1 := async(ctx, c, req("g", ""))
	waitState(t, c, "g", StatePreparingRebalance)
	ch2 := async(ctx, c, req("g", ""))
	j1, j2 := mustJoin(t, recv(t, ch1)), mustJoin(t, recv(t, ch2))
	if time.Since(start) < 100*time.Millisecond {
		t.Fatalf("join completed before the initial rebalance delay")
	}
	if !memberIDPattern.MatchString(j1.MemberID) || !memberIDPattern.MatchString(j2.MemberID) || j1.MemberID == j2.MemberID {
		t.Fatalf("member ids %q %q", j1.MemberID, j2.MemberID)
	}
	for _, j := range []JoinResult{j1, j2} {
		if j.GenerationID != 1 || j.LeaderID != j1.MemberID || j.ProtocolName != "range" || j.ProtocolType != consumer {
			t.Fatalf("join result %+v", j)
		}
	}
	if len(j1.Members) != 2 || len(j2.Members) != 0 {
		t.Fatalf("leader got %d members, follower %d", len(j1.Members), len(j2.Members))
	}
	if string(j1.Members[0].Metadata) != "meta-range" {
		t.Fatalf("metadata %q", j1.Members[0].Metadata)
	}
	wantErr(t, c.Heartbeat("g", j2.MemberID, nil, 1), nil) // CompletingRebalance: NONE

	// The follower's sync waits for the leader's.
	fch := asyncSync(ctx, c, SyncRequest{GroupID: "g", MemberID: j2.MemberID, GenerationID: 1})
	notYet(t, fch, 30*time.Millisecond)
	lr := c.Sync(ctx, SyncRequest{GroupID: "g", MemberID: j1.MemberID, GenerationID: 1,
		ProtocolType: strp(consumer), ProtocolName: strp("range"),
		Assignments: map[string][]byte{j1.MemberID: []byte("a1"), j2.MemberID: []byte("a2"), "stranger": []byte("x")}})
	fr := recv(t, fch)
	if lr.Err != nil || fr.Err != nil || string(lr.Assignment) != "a1" || string(fr.Assignment) != "a2" ||
		fr.ProtocolName != "range" || fr.ProtocolType != consumer {
		t.Fatalf("sync results %+v %+v", lr, fr)
	}
	if s := state(c, "g"); s != StateStable {
		t.Fatalf("state %s", s)
	}
	wantErr(t, c.Heartbeat("g", j1.MemberID, nil, 1), nil)
	wantErr(t, c.Heartbeat("g", j2.MemberID, nil, 1), nil)

	// A late sync in Stable returns the current assignment.
	r := c.Sync(ctx, SyncRequest{GroupID: "g", MemberID: j2.MemberID, GenerationID: 1})
	if r.Err != nil || string(r.Assignment) != "a2" {
		t.Fatalf("stable sync %+v", r)
	}
	d := c.Describe("g")
	if d.State != StateStable || d.Protocol != "range" || len(d.Members) != 2 || string(d.Members[1].Assignment) != "a2" ||
		string(d.Members[0].Metadata) != "meta-range" || d.Members[0].ClientHost != "/127.0.0.1" || !d.Exists {
		t.Fatalf("describe %+v", d)
	}
}

func TestMissingAssignmentIsEmpty(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx := ctxT(t)
	js := stableGroup(t, c, "g", 2)
	// Leader rejoins: rebalance; follower must rejoin too.
	lch := async(ctx, c, req("g", js[0].MemberID))
	waitState(t, c, "g", StatePreparingRebalance)
	fch := async(ctx, c, req("g", js[1].MemberID))
	l, f := mustJoin(t, recv(t, lch)), mustJoin(t, recv(t, fch))
	sch := asyncSync(ctx, c, SyncRequest{GroupID: "g", MemberID: f.MemberID, GenerationID: f.GenerationID})
	c.Sync(ctx, SyncRequest{GroupID: "g", MemberID: l.MemberID, GenerationID: l.GenerationID,
		Assignments: map[string][]byte{l.MemberID: []byte("x")}})
	if r := recv(t, sch); r.Err != nil || r.Assignment == nil || len(r.Assignment) != 0 {
		t.Fatalf("follower sync %+v", r)
	}
}

func TestThirdMemberTriggersRebalance(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx := ctxT(t)
	js := stableGroup(t, c, "g", 2)
	gen := js[0].GenerationID

	ch3 := async(ctx, c, req("g", ""))
	waitState(t, c, "g", StatePreparingRebalance)
	notYet(t, ch3, 20*time.Millisecond)
	for _, j := range js {
		wantErr(t, c.Heartbeat("g", j.MemberID, nil, gen), ErrRebalanceInProgress)
	}
	// Sync in PreparingRebalance: REBALANCE_IN_PROGRESS.
	wantErr(t, c.Sync(ctx, SyncRequest{GroupID: "g", MemberID: js[1].MemberID, GenerationID: gen}).Err, ErrRebalanceInProgress)
	// Commits are still accepted from the previous generation.
	wantErr(t, c.ValidateCommit("g", js[1].MemberID, nil, gen), nil)

	ch1 := async(ctx, c, req("g", js[0].MemberID))
	notYet(t, ch1, 20*time.Millisecond)
	ch2 := async(ctx, c, req("g", js[1].MemberID))
	r1, r2, r3 := mustJoin(t, recv(t, ch1)), mustJoin(t, recv(t, ch2)), mustJoin(t, recv(t, ch3))
	if r1.GenerationID != gen+1 || r2.GenerationID != gen+1 || r3.GenerationID != gen+1 {
		t.Fatalf("generations %d %d %d", r1.GenerationID, r2.GenerationID, r3.GenerationID)
	}
	if r1.LeaderID != js[0].MemberID || len(r1.Members) != 3 {
		t.Fatalf("leader %s members %d", r1.LeaderID, len(r1.Members))
	}
	got := syncAll(t, c, "g", r1, r2, r3)
	for id, a := range got {
		if a != "assigned-"+id {
			t.Fatalf("member %s assignment %q", id, a)
		}
	}
	// Old generation is now illegal.
	wantErr(t, c.Heartbeat("g", r2.MemberID, nil, gen), ErrIllegalGeneration)
}

func TestRejoinStable(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx := ctxT(t)
	js := stableGroup(t, c, "g", 2)
	gen := js[0].GenerationID

	// A follower rejoining with the same metadata gets the current generation
	// back without a rebalance.
	r := mustJoin(t, c.Join(ctx, req("g", js[1].MemberID)))
	if r.GenerationID != gen || r.LeaderID != js[0].MemberID || len(r.Members) != 0 || state(c, "g") != StateStable {
		t.Fatalf("follower rejoin %+v state %s", r, state(c, "g"))
	}
	// With new metadata it triggers a rebalance.
	ch := async(ctx, c, req("g", js[1].MemberID, "range", "roundrobin"))
	waitState(t, c, "g", StatePreparingRebalance)
	l := mustJoin(t, c.Join(ctx, req("g", js[0].MemberID)))
	f := mustJoin(t, recv(t, ch))
	if l.GenerationID != gen+1 || f.GenerationID != gen+1 {
		t.Fatalf("gens %d %d", l.GenerationID, f.GenerationID)
	}
	// A member rejoining with the same metadata while CompletingRebalance
	// gets its join response again (the leader with the member list).
	again := mustJoin(t, c.Join(ctx, req("g", js[0].MemberID)))
	if again.GenerationID != gen+1 || len(again.Members) != 2 || state(c, "g") != StateCompletingRebalance {
		t.Fatalf("rejoin during CompletingRebalance %+v", again)
	}
	syncAll(t, c, "g", l, f)

	// The leader rejoining a Stable group triggers a rebalance.
	lch := async(ctx, c, req("g", js[0].MemberID))
	waitState(t, c, "g", StatePreparingRebalance)
	notYet(t, lch, 20*time.Millisecond)
	c.Join(ctx, req("g", js[1].MemberID, "range", "roundrobin"))
	if l := recv(t, lch); l.GenerationID != gen+2 {
		t.Fatalf("leader rejoin %+v", l)
	}
}

func TestCompletingRebalanceJoinWithNewMetadataRebalances(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx := ctxT(t)
	js := stableGroup(t, c, "g", 2)
	lch := async(ctx, c, req("g", js[0].MemberID))
	waitState(t, c, "g", StatePreparingRebalance)
	f := mustJoin(t, c.Join(ctx, req("g", js[1].MemberID)))
	l := recv(t, lch)
	// Follower parks its sync; then rejoins with new metadata: the parked
	// sync is answered with REBALANCE_IN_PROGRESS.
	sch := asyncSync(ctx, c, SyncRequest{GroupID: "g", MemberID: f.MemberID, GenerationID: f.GenerationID})
	notYet(t, sch, 20*time.Millisecond)
	fch := async(ctx, c, req("g", js[1].MemberID, "roundrobin", "range"))
	wantErr(t, recv(t, sch).Err, ErrRebalanceInProgress)
	waitState(t, c, "g", StatePreparingRebalance)
	// The leader's sync for the old generation fails.
	wantErr(t, c.Sync(ctx, SyncRequest{GroupID: "g", MemberID: l.MemberID, GenerationID: l.GenerationID}).Err, ErrRebalanceInProgress)
	l2 := mustJoin(t, c.Join(ctx, req("g", js[0].MemberID)))
	f2 := recv(t, fch)
	if l2.GenerationID != l.GenerationID+1 || f2.GenerationID != l2.GenerationID {
		t.Fatalf("gens %d %d", l2.GenerationID, f2.GenerationID)
	}
}

func TestSessionTimeoutRemovesMember(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx := ctxT(t)
	r1 := req("g", "")
	r1.SessionTimeout = 150 * time.Millisecond
	j1 := mustJoin(t, c.Join(ctx, r1))
	syncAll(t, c, "g", j1)

	r2 := req("g", "")
	r2.SessionTimeout = 60 * time.Millisecond
	ch2 := async(ctx, c, r2)
	waitState(t, c, "g", StatePreparingRebalance)
	r1.MemberID = j1.MemberID
	j1 = mustJoin(t, c.Join(ctx, r1))
	j2 := mustJoin(t, recv(t, ch2))
	syncAll(t, c, "g", j1, j2)

	// Member 1 heartbeats, member 2 has crashed.
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := c.Heartbeat("g", j1.MemberID, nil, j1.GenerationID)
		if errors.Is(err, ErrRebalanceInProgress) {
			break
		}
		wantErr(t, err, nil)
		if time.Now().After(deadline) {
			t.Fatal("member 2 was never expired")
		}
		time.Sleep(10 * time.Millisecond)
	}
	wantErr(t, c.Heartbeat("g", j2.MemberID, nil, j2.GenerationID), ErrUnknownMemberID)
	j1b := mustJoin(t, c.Join(ctx, r1))
	if j1b.GenerationID != j1.GenerationID+1 || len(j1b.Members) != 1 {
		t.Fatalf("rejoin %+v", j1b)
	}
	syncAll(t, c, "g", j1b)

	// Member 1 stops heartbeating too: the group becomes Empty.
	waitState(t, c, "g", StateEmpty)
	if d := c.Describe("g"); len(d.Members) != 0 || d.ProtocolType != consumer {
		t.Fatalf("describe %+v", d)
	}
	if !c.IsEmpty("g") {
		t.Fatal("IsEmpty false")
	}
	if _, ok := c.EmptySince("g"); !ok {
		t.Fatal("EmptySince not ok")
	}
}

func TestRebalanceTimeoutDropsMembersThatDoNotRejoin(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx := ctxT(t)
	r1 := req("g", "")
	r1.RebalanceTimeout = 80 * time.Millisecond
	j1 := mustJoin(t, c.Join(ctx, r1))
	syncAll(t, c, "g", j1)
	r2 := req("g", "")
	r2.RebalanceTimeout = 80 * time.Millisecond
	ch2 := async(ctx, c, r2)
	r1.MemberID = j1.MemberID
	waitState(t, c, "g", StatePreparingRebalance)
	j1 = mustJoin(t, c.Join(ctx, r1))
	j2 := mustJoin(t, recv(t, ch2))
	syncAll(t, c, "g", j1, j2)

	// The follower (long session) triggers a rebalance and the leader never
	// rejoins: after the rebalance timeout it is dropped and the follower
	// becomes leader.
	start := time.Now()
	r2.MemberID = j2.MemberID
	r2.Protocols = protos("range", "sticky")
	j2b := mustJoin(t, c.Join(ctx, r2))
	if el := time.Since(start); el < 70*time.Millisecond {
		t.Fatalf("join completed after %v, before the rebalance timeout", el)
	}
	if j2b.LeaderID != j2.MemberID || len(j2b.Members) != 1 || j2b.GenerationID != j2.GenerationID+1 {
		t.Fatalf("join %+v", j2b)
	}
	wantErr(t, c.Heartbeat("g", j1.MemberID, nil, j1.GenerationID), ErrUnknownMemberID)
}

func TestPendingSyncExpiry(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx := ctxT(t)
	r1, r2 := req("g", ""), req("g", "")
	r1.RebalanceTimeout, r2.RebalanceTimeout = 80*time.Millisecond, 80*time.Millisecond
	j1 := mustJoin(t, c.Join(ctx, r1))
	syncAll(t, c, "g", j1)
	ch2 := async(ctx, c, r2)
	waitState(t, c, "g", StatePreparingRebalance)
	r1.MemberID = j1.MemberID
	j1 = mustJoin(t, c.Join(ctx, r1))
	j2 := mustJoin(t, recv(t, ch2))
	if j1.LeaderID != j1.MemberID {
		t.Fatal("unexpected leader")
	}
	// The follower syncs, the leader never does.
	sch := asyncSync(ctx, c, SyncRequest{GroupID: "g", MemberID: j2.MemberID, GenerationID: j2.GenerationID})
	wantErr(t, recv(t, sch).Err, ErrRebalanceInProgress)
	if s := state(c, "g"); s != StatePreparingRebalance {
		t.Fatalf("state %s", s)
	}
	wantErr(t, c.Heartbeat("g", j1.MemberID, nil, j1.GenerationID), ErrUnknownMemberID)
	r2.MemberID = j2.MemberID
	j2b := mustJoin(t, c.Join(ctx, r2))
	if j2b.LeaderID != j2.MemberID || len(j2b.Members) != 1 {
		t.Fatalf("join %+v", j2b)
	}
}

func TestLeave(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx := ctxT(t)
	js := stableGroup(t, c, "g", 2)
	gen := js[0].GenerationID

	errs, err := c.Leave("g", []LeaveMember{{MemberID: js[1].MemberID}, {MemberID: "nobody"}})
	if err != nil || errs[0] != nil || !errors.Is(errs[1], ErrUnknownMemberID) {
		t.Fatalf("leave: %v %v", errs, err)
	}
	wantErr(t, c.Heartbeat("g", js[0].MemberID, nil, gen), ErrRebalanceInProgress)
	j := mustJoin(t, c.Join(ctx, req("g", js[0].MemberID)))
	if j.GenerationID != gen+1 || len(j.Members) != 1 {
		t.Fatalf("join %+v", j)
	}
	syncAll(t, c, "g", j)

	// The last member leaves: Empty, generation bumped.
	errs, err = c.Leave("g", []LeaveMember{{MemberID: j.MemberID, Reason: "bye"}})
	if err != nil || errs[0] != nil {
		t.Fatalf("leave: %v %v", errs, err)
	}
	if s := state(c, "g"); s != StateEmpty {
		t.Fatalf("state %s", s)
	}
	// A standalone commit is allowed again; generation -1 only.
	wantErr(t, c.ValidateCommit("g", "", nil, -1), nil)
	// The generation moved on: next member gets gen+3.
	n := mustJoin(t, c.Join(ctx, req("g", "")))
	if n.GenerationID != gen+3 {
		t.Fatalf("generation %d, want %d", n.GenerationID, gen+3)
	}

	// Unknown group: per-member UNKNOWN_MEMBER_ID.
	errs, err = c.Leave("nope", []LeaveMember{{MemberID: "x"}})
	if err != nil || !errors.Is(errs[0], ErrUnknownMemberID) {
		t.Fatalf("leave unknown group: %v %v", errs, err)
	}
	_, err = c.Leave("", nil)
	wantErr(t, err, ErrInvalidGroupID)
}

func TestLeaveDuringRebalanceCompletesJoin(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx := ctxT(t)
	js := stableGroup(t, c, "g", 2)
	ch := async(ctx, c, req("g", js[0].MemberID))
	waitState(t, c, "g", StatePreparingRebalance)
	notYet(t, ch, 20*time.Millisecond)
	if errs, _ := c.Leave("g", []LeaveMember{{MemberID: js[1].MemberID}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	j := mustJoin(t, recv(t, ch))
	if len(j.Members) != 1 {
		t.Fatalf("join %+v", j)
	}
}

func sreq(inst, memberID string) JoinRequest {
	r := req("g", memberID, "range", "roundrobin")
	r.InstanceID = strp(inst)
	r.RequireKnownMemberID = true // ignored for static members
	return r
}

func TestStaticMembership(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx := ctxT(t)
	js := stableGroupWith(t, c, "g", sreq("ia", ""), sreq("ib", ""))
	a, b := js[0], js[1]
	if !regexp.MustCompile(`^ia-[0-9a-f-]{36}$`).MatchString(a.MemberID) || a.LeaderID != a.MemberID {
		t.Fatalf("static member id %q leader %q", a.MemberID, a.LeaderID)
	}
	got := syncAll(t, c, "g", a, b)
	gen := a.GenerationID

	// Leader "ia" restarts with an unknown member id: replaced, no rebalance;
	// pre-v9 it is given the old leader id.
	a2 := mustJoin(t, c.Join(ctx, sreq("ia", "")))
	if a2.MemberID == a.MemberID || a2.GenerationID != gen || a2.LeaderID != a.MemberID || len(a2.Members) != 0 || a2.SkipAssignment {
		t.Fatalf("static rejoin %+v", a2)
	}
	if s := state(c, "g"); s != StateStable {
		t.Fatalf("state %s", s)
	}
	// The old incarnation is fenced everywhere.
	wantErr(t, c.Heartbeat("g", a.MemberID, strp("ia"), gen), ErrFencedInstanceID)
	wantErr(t, c.Sync(ctx, SyncRequest{GroupID: "g", MemberID: a.MemberID, InstanceID: strp("ia"), GenerationID: gen}).Err, ErrFencedInstanceID)
	wantErr(t, c.ValidateCommit("g", a.MemberID, strp("ia"), gen), ErrFencedInstanceID)
	wantErr(t, c.Join(ctx, sreq("ia", a.MemberID)).Err, ErrFencedInstanceID)
	errs, _ := c.Leave("g", []LeaveMember{{MemberID: a.MemberID, InstanceID: strp("ia")}})
	wantErr(t, errs[0], ErrFencedInstanceID)
	// Unknown instance id with a member id: UNKNOWN_MEMBER_ID.
	wantErr(t, c.Heartbeat("g", a.MemberID, strp("zz"), gen), ErrUnknownMemberID)
	// The new incarnation keeps the old assignment.
	s := c.Sync(ctx, SyncRequest{GroupID: "g", MemberID: a2.MemberID, InstanceID: strp("ia"), GenerationID: gen})
	if s.Err != nil || string(s.Assignment) != got[a.MemberID] {
		t.Fatalf("sync %+v want %q", s, got[a.MemberID])
	}
	wantErr(t, c.Heartbeat("g", a2.MemberID, strp("ia"), gen), nil)

	// v9+: the rejoining static leader is told it leads, and to skip the
	// assignment.
	r := sreq("ia", "")
	r.SupportSkippingAssignment = true
	a3 := mustJoin(t, c.Join(ctx, r))
	if a3.LeaderID != a3.MemberID || !a3.SkipAssignment || len(a3.Members) != 2 || a3.GenerationID != gen {
		t.Fatalf("v9 static rejoin %+v", a3)
	}
	// A follower static rejoin: not leader, no skip.
	r = sreq("ib", "")
	r.SupportSkippingAssignment = true
	b2 := mustJoin(t, c.Join(ctx, r))
	if b2.LeaderID != a3.MemberID || b2.SkipAssignment || len(b2.Members) != 0 {
		t.Fatalf("v9 static follower rejoin %+v", b2)
	}
	// New metadata that keeps the selected protocol: still no rebalance
	// (votes tie, range was voted first).
	r = sreq("ib", "")
	r.Protocols = protos("roundrobin", "range")
	b3 := mustJoin(t, c.Join(ctx, r))
	if b3.GenerationID != gen || state(c, "g") != StateStable {
		t.Fatalf("static rejoin with same selection %+v", b3)
	}

	// A static rejoin that changes the selected protocol rebalances.
	r = sreq("ib", "")
	r.Protocols = protos("roundrobin")
	ch := async(ctx, c, r)
	waitState(t, c, "g", StatePreparingRebalance)
	notYet(t, ch, 20*time.Millisecond)
	a4 := mustJoin(t, c.Join(ctx, sreq("ia", a3.MemberID)))
	b4 := mustJoin(t, recv(t, ch))
	if a4.ProtocolName != "roundrobin" || b4.GenerationID != gen+1 {
		t.Fatalf("protocol %s gen %d", a4.ProtocolName, b4.GenerationID)
	}
	syncAll(t, c, "g", a4, b4)

	// LeaveGroup by instance id only.
	errs, err := c.Leave("g", []LeaveMember{{InstanceID: strp("ib")}, {InstanceID: strp("nobody")}, {}})
	if err != nil || errs[0] != nil || !errors.Is(errs[1], ErrUnknownMemberID) || !errors.Is(errs[2], ErrUnknownMemberID) {
		t.Fatalf("leave %v %v", errs, err)
	}
	wantErr(t, c.Heartbeat("g", a4.MemberID, strp("ia"), a4.GenerationID), ErrRebalanceInProgress)
}

func TestStaticMemberReplacedWhileParked(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx := ctxT(t)
	js := stableGroupWith(t, c, "g", sreq("ia", ""), sreq("ib", ""), sreq("ic", ""))
	a, b, cc := js[0], js[1], js[2]

	// "ic" triggers a rebalance; the old "ia" rejoins and is parked; a new
	// incarnation of "ia" fences it.
	r := sreq("ic", cc.MemberID)
	r.Protocols = protos("range")
	cch := async(ctx, c, r)
	waitState(t, c, "g", StatePreparingRebalance)
	och := async(ctx, c, sreq("ia", a.MemberID))
	notYet(t, och, 20*time.Millisecond)
	a2ch := async(ctx, c, sreq("ia", ""))
	wantErr(t, recv(t, och).Err, ErrFencedInstanceID)
	notYet(t, a2ch, 20*time.Millisecond)
	bch := async(ctx, c, sreq("ib", b.MemberID))
	a2, b2, c2 := mustJoin(t, recv(t, a2ch)), mustJoin(t, recv(t, bch)), mustJoin(t, recv(t, cch))
	if a2.LeaderID != a2.MemberID || len(a2.Members) != 3 || b2.GenerationID != a2.GenerationID || c2.GenerationID != a2.GenerationID {
		t.Fatalf("joins %+v %+v", a2, b2)
	}

	// Replacement during CompletingRebalance: the parked sync is fenced and
	// a rebalance starts.
	sch := asyncSync(ctx, c, SyncRequest{GroupID: "g", MemberID: b2.MemberID, InstanceID: strp("ib"), GenerationID: b2.GenerationID})
	notYet(t, sch, 20*time.Millisecond)
	b3ch := async(ctx, c, sreq("ib", ""))
	wantErr(t, recv(t, sch).Err, ErrFencedInstanceID)
	waitState(t, c, "g", StatePreparingRebalance)
	a3ch := async(ctx, c, sreq("ia", a2.MemberID))
	c3 := mustJoin(t, c.Join(ctx, r))
	a3, b3 := mustJoin(t, recv(t, a3ch)), mustJoin(t, recv(t, b3ch))
	syncAll(t, c, "g", a3, b3, c3)
}

func TestStaticMembersAreNotDroppedByRebalanceTimeout(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx := ctxT(t)
	ra, rb := req("g", ""), req("g", "")
	ra.InstanceID, rb.InstanceID = strp("ia"), strp("ib")
	ra.RebalanceTimeout, rb.RebalanceTimeout = 60*time.Millisecond, 60*time.Millisecond
	ra.SessionTimeout, rb.SessionTimeout = 250*time.Millisecond, 250*time.Millisecond
	a := mustJoin(t, c.Join(ctx, ra))
	syncAll(t, c, "g", a)
	bch := async(ctx, c, rb)
	waitState(t, c, "g", StatePreparingRebalance)
	ra.MemberID = a.MemberID
	a = mustJoin(t, c.Join(ctx, ra))
	b := mustJoin(t, recv(t, bch))
	syncAll(t, c, "g", a, b)

	// "ia" (leader) leaves the rebalance hanging: after the rebalance timeout
	// the static member is kept (it is only expired by its session).
	rb.MemberID = b.MemberID
	rb.Protocols = protos("range", "x")
	start := time.Now()
	b2 := mustJoin(t, c.Join(ctx, rb))
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Fatalf("completed after %v", el)
	}
	if len(b2.Members) != 2 || b2.LeaderID != b.MemberID {
		t.Fatalf("join %+v", b2)
	}
}

func TestMemberIDRequired(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx := ctxT(t)
	r := req("g", "")
	r.RequireKnownMemberID = true
	first := c.Join(ctx, r)
	wantErr(t, first.Err, ErrMemberIDRequired)
	if !memberIDPattern.MatchString(first.MemberID) || first.GenerationID != -1 {
		t.Fatalf("result %+v", first)
	}
	if s := state(c, "g"); s != StateEmpty {
		t.Fatalf("state %s", s)
	}
	r.MemberID = first.MemberID
	j := mustJoin(t, c.Join(ctx, r))
	if j.MemberID != first.MemberID || j.GenerationID != 1 || j.LeaderID != j.MemberID {
		t.Fatalf("join %+v", j)
	}
	syncAll(t, c, "g", j)

	// A pending member that never comes back is dropped after its session
	// timeout; meanwhile it holds up a rebalance.
	p := req("g", "")
	p.RequireKnownMemberID = true
	p.SessionTimeout = 80 * time.Millisecond
	wantErr(t, c.Join(ctx, p).Err, ErrMemberIDRequired)
	if s := state(c, "g"); s != StateStable {
		t.Fatalf("pending member changed state to %s", s)
	}
	start := time.Now()
	j2 := mustJoin(t, c.Join(ctx, r)) // leader rejoin: rebalance
	if el := time.Since(start); el < 60*time.Millisecond {
		t.Fatalf("rebalance completed after %v despite a pending member", el)
	}
	if len(j2.Members) != 1 || j2.GenerationID != 2 {
		t.Fatalf("join %+v", j2)
	}

	// A pending member may leave; unknown member id on an unknown group.
	q := c.Join(ctx, p)
	wantErr(t, q.Err, ErrMemberIDRequired)
	errs, _ := c.Leave("g", []LeaveMember{{MemberID: q.MemberID}})
	wantErr(t, errs[0], nil)
	wantErr(t, c.Join(ctx, req("other", "client-x")).Err, ErrUnknownMemberID)
	// An id never handed out: UNKNOWN_MEMBER_ID.
	wantErr(t, c.Join(ctx, req("g", "client-made-up")).Err, ErrUnknownMemberID)
}

func TestInconsistentProtocol(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx := ctxT(t)
	bad := req("g", "")
	bad.Protocols = nil
	wantErr(t, c.Join(ctx, bad).Err, ErrInconsistentGroupProtocol)
	bad = req("g", "")
	bad.ProtocolType = ""
	wantErr(t, c.Join(ctx, bad).Err, ErrInconsistentGroupProtocol)

	js := stableGroup(t, c, "g", 1)
	other := req("g", "")
	other.ProtocolType = "connect"
	wantErr(t, c.Join(ctx, other).Err, ErrInconsistentGroupProtocol)
	wantErr(t, c.Join(ctx, req("g", "", "roundrobin")).Err, ErrInconsistentGroupProtocol)
	wantErr(t, c.Join(ctx, req("g", js[0].MemberID, "roundrobin")).Err, ErrInconsistentGroupProtocol)
	// Sharing one protocol is enough.
	ch := async(ctx, c, req("g", "", "roundrobin", "range"))
	waitState(t, c, "g", StatePreparingRebalance)
	l := mustJoin(t, c.Join(ctx, req("g", js[0].MemberID)))
	f := mustJoin(t, recv(t, ch))
	if l.ProtocolName != "range" || f.ProtocolName != "range" {
		t.Fatalf("protocol %s", l.ProtocolName)
	}
	// Sync with mismatched protocol type or name.
	wantErr(t, c.Sync(ctx, SyncRequest{GroupID: "g", MemberID: f.MemberID, GenerationID: f.GenerationID, ProtocolType: strp("connect")}).Err, ErrInconsistentGroupProtocol)
	wantErr(t, c.Sync(ctx, SyncRequest{GroupID: "g", MemberID: f.MemberID, GenerationID: f.GenerationID, ProtocolName: strp("roundrobin")}).Err, ErrInconsistentGroupProtocol)
}

func TestProtocolVote(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = 80 * time.Millisecond
	c := newCoord(t, cfg)
	ctx := ctxT(t)
	ch1 := async(ctx, c, req("g", "", "a", "b", "c"))
	waitState(t, c, "g", StatePreparingRebalance)
	ch2 := async(ctx, c, req("g", "", "b", "a"))
	ch3 := async(ctx, c, req("g", "", "b", "a", "c"))
	for _, ch := range []<-chan JoinResult{ch1, ch2, ch3} {
		if j := mustJoin(t, recv(t, ch)); j.ProtocolName != "b" {
			t.Fatalf("protocol %q, want b", j.ProtocolName)
		}
	}
	// The leader sees each member's metadata for the chosen protocol.
	d := c.Describe("g")
	if d.State != StateCompletingRebalance || d.Protocol != "" || len(d.Members) != 3 || len(d.Members[0].Metadata) != 0 {
		t.Fatalf("describe while completing: %+v", d)
	}
}

func TestIllegalGeneration(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx := ctxT(t)
	js := stableGroup(t, c, "g", 2)
	gen := js[0].GenerationID
	wantErr(t, c.Heartbeat("g", js[1].MemberID, nil, gen+1), ErrIllegalGeneration)
	wantErr(t, c.Heartbeat("g", js[1].MemberID, nil, gen-1), ErrIllegalGeneration)
	wantErr(t, c.Sync(ctx, SyncRequest{GroupID: "g", MemberID: js[1].MemberID, GenerationID: gen - 1}).Err, ErrIllegalGeneration)
	wantErr(t, c.ValidateCommit("g", js[1].MemberID, nil, gen+5), ErrIllegalGeneration)
	// Unknown members first: UNKNOWN_MEMBER_ID wins over the generation.
	wantErr(t, c.Heartbeat("g", "nobody", nil, gen+1), ErrUnknownMemberID)
	wantErr(t, c.Heartbeat("nogroup", "nobody", nil, 1), ErrUnknownMemberID)
	wantErr(t, c.Sync(ctx, SyncRequest{GroupID: "nogroup", MemberID: "x", GenerationID: 1}).Err, ErrUnknownMemberID)
	wantErr(t, c.Heartbeat("", "x", nil, 1), ErrInvalidGroupID)
	wantErr(t, c.Sync(ctx, SyncRequest{MemberID: "x"}).Err, ErrInvalidGroupID)
	wantErr(t, c.Join(ctx, req("", "")).Err, ErrInvalidGroupID)
}

func TestInvalidSessionTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.MinSessionTimeout = 6 * time.Second
	cfg.MaxSessionTimeout = 30 * time.Second
	c := newCoord(t, cfg)
	for _, tc := range []struct {
		timeout time.Duration
		err     error
	}{
		{5999 * time.Millisecond, ErrInvalidSessionTimeout},
		{6 * time.Second, nil},
		{30 * time.Second, nil},
		{30*time.Second + time.Millisecond, ErrInvalidSessionTimeout},
		{0, ErrInvalidSessionTimeout},
	} {
		r := req("g", "")
		r.SessionTimeout = tc.timeout
		r.RequireKnownMemberID = true
		got := c.Join(ctxT(t), r)
		if tc.err != nil {
			wantErr(t, got.Err, tc.err)
		} else {
			wantErr(t, got.Err, ErrMemberIDRequired)
		}
	}
	// Defaults when unset are Kafka's.
	d := NewCoordinator(Config{}, nil)
	defer d.Close()
	r := req("g", "")
	r.SessionTimeout = 5 * time.Second
	wantErr(t, d.Join(ctxT(t), r).Err, ErrInvalidSessionTimeout)
	r.SessionTimeout = 31 * time.Minute
	wantErr(t, d.Join(ctxT(t), r).Err, ErrInvalidSessionTimeout)
}

func TestDelete(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx := ctxT(t)
	js := stableGroup(t, c, "g", 1)
	wantErr(t, c.Delete("g"), ErrNonEmptyGroup)
	wantErr(t, c.Delete("unknown"), ErrGroupIDNotFound)
	c.Leave("g", []LeaveMember{{MemberID: js[0].MemberID}})
	wantErr(t, c.Delete("g"), nil)
	if d := c.Describe("g"); d.State != StateDead || d.Exists || len(d.Members) != 0 {
		t.Fatalf("describe deleted: %+v", d)
	}
	wantErr(t, c.Delete("g"), ErrGroupIDNotFound)
	// The group id can be used again from scratch.
	j := mustJoin(t, c.Join(ctx, req("g", "")))
	if j.GenerationID != 1 {
		t.Fatalf("generation %d", j.GenerationID)
	}
	// Touch / IsEmpty.
	c.Touch("committed-only")
	if d := c.Describe("committed-only"); d.State != StateEmpty || !d.Exists || !c.IsEmpty("committed-only") {
		t.Fatalf("touched group %+v", d)
	}
	if c.IsEmpty("g") {
		t.Fatal("IsEmpty on a live group")
	}
	wantErr(t, c.Delete("committed-only"), nil)
}

func TestInitialRebalanceDelay(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = 100 * time.Millisecond
	c := newCoord(t, cfg)
	ctx := ctxT(t)

	// Members keep arriving: each extends the delay (by up to the delay),
	// capped by the rebalance timeout.
	start := time.Now()
	ch1 := async(ctx, c, req("g", ""))
	time.Sleep(70 * time.Millisecond)
	ch2 := async(ctx, c, req("g", ""))
	time.Sleep(70 * time.Millisecond) // past the first delay: extended
	ch3 := async(ctx, c, req("g", ""))
	j1, j2, j3 := mustJoin(t, recv(t, ch1)), mustJoin(t, recv(t, ch2)), mustJoin(t, recv(t, ch3))
	el := time.Since(start)
	if el < 200*time.Millisecond {
		t.Fatalf("initial rebalance completed after %v", el)
	}
	if len(j1.Members) != 3 || j1.GenerationID != 1 || j2.GenerationID != 1 || j3.GenerationID != 1 {
		t.Fatalf("joins %+v", j1)
	}

	// Capped by the rebalance timeout.
	r := req("h", "")
	r.RebalanceTimeout = 150 * time.Millisecond
	start = time.Now()
	chh := async(ctx, c, r)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a new member every 40ms
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(40 * time.Millisecond):
				rr := r
				go c.Join(ctx, rr)
			}
		}
	}()
	mustJoin(t, recv(t, chh))
	close(stop)
	wg.Wait()
	if el := time.Since(start); el > 400*time.Millisecond {
		t.Fatalf("initial rebalance not capped: %v", el)
	}

	// The delay only applies when leaving Empty: a later rebalance completes
	// as soon as everybody rejoined.
	syncAll(t, c, "g", j1, j2, j3)
	start = time.Now()
	chs := []<-chan JoinResult{}
	for _, j := range []JoinResult{j1, j2, j3} {
		chs = append(chs, async(ctx, c, req("g", j.MemberID, "range", "sticky")))
	}
	for _, ch := range chs {
		mustJoin(t, recv(t, ch))
	}
	if el := time.Since(start); el > 90*time.Millisecond {
		t.Fatalf("non-initial rebalance took %v", el)
	}
}

func TestValidateCommit(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx := ctxT(t)
	js := stableGroup(t, c, "g", 2)
	gen := js[0].GenerationID
	m := js[1].MemberID

	// Standalone commit to an unknown group creates it.
	wantErr(t, c.ValidateCommit("standalone", "", nil, -1), nil)
	if l := c.List(nil, nil); len(l) != 2 || l[1].GroupID != "standalone" || l[1].State != StateEmpty {
		t.Fatalf("list %+v", l)
	}
	for _, tc := range []struct {
		name     string
		group    string
		member   string
		instance *string
		gen      int32
		want     error
		wantTxn  error
	}{
		{"member current generation", "g", m, nil, gen, nil, nil},
		{"unknown member", "g", "nobody", nil, gen, ErrUnknownMemberID, ErrUnknownMemberID},
		{"wrong generation", "g", m, nil, gen + 1, ErrIllegalGeneration, ErrIllegalGeneration},
		{"no member on a non-empty group", "g", "", nil, -1, ErrUnknownMemberID, nil},
		{"generation without member", "g", "", nil, gen, ErrUnknownMemberID, ErrUnknownMemberID},
		{"unknown instance", "g", m, strp("zz"), gen, ErrUnknownMemberID, ErrUnknownMemberID},
		{"empty group, generation -1", "standalone", "", nil, -1, nil, nil},
		{"empty group, member id, generation -1", "standalone", "someone", nil, -1, nil, nil},
		{"empty group, generation 0", "standalone", "", nil, 0, ErrUnknownMemberID, ErrUnknownMemberID},
		{"unknown group, generation 1", "nope", "x", nil, 1, ErrIllegalGeneration, ErrUnknownMemberID},
		{"empty group id", "", "", nil, -1, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, c.ValidateCommit(tc.group, tc.member, tc.instance, tc.gen), tc.want)
			wantErr(t, c.ValidateTxnCommit(tc.group, tc.member, tc.instance, tc.gen), tc.wantTxn)
		})
	}

	// CompletingRebalance: REBALANCE_IN_PROGRESS (not for transactions);
	// PreparingRebalance: accepted.
	ch := async(ctx, c, req("g", js[0].MemberID))
	waitState(t, c, "g", StatePreparingRebalance)
	wantErr(t, c.ValidateCommit("g", m, nil, gen), nil)
	f := mustJoin(t, c.Join(ctx, req("g", m)))
	l := recv(t, ch)
	wantErr(t, c.ValidateCommit("g", m, nil, f.GenerationID), ErrRebalanceInProgress)
	wantErr(t, c.ValidateTxnCommit("g", m, nil, f.GenerationID), nil)
	syncAll(t, c, "g", l, f)
	wantErr(t, c.ValidateCommit("g", m, nil, f.GenerationID), nil)
}

func TestCommitCountsAsHeartbeat(t *testing.T) {
	c := newCoord(t, testConfig())
	r := req("g", "")
	r.SessionTimeout = 80 * time.Millisecond
	j := mustJoin(t, c.Join(ctxT(t), r))
	syncAll(t, c, "g", j)
	for range 8 {
		time.Sleep(25 * time.Millisecond)
		wantErr(t, c.ValidateCommit("g", j.MemberID, nil, j.GenerationID), nil)
	}
	if s := state(c, "g"); s != StateStable {
		t.Fatalf("state %s", s)
	}
}

func TestDescribeAndList(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx := ctxT(t)
	stableGroup(t, c, "stable", 1)
	c.Touch("empty")
	js := stableGroup(t, c, "rebalancing", 1)
	async(ctx, c, req("rebalancing", "")) // parks until the leader rejoins
	waitState(t, c, "rebalancing", StatePreparingRebalance)
	_ = js

	names := func(ls []Listing) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.GroupID+"/"+l.State)
		}
		return out
	}
	for _, tc := range []struct {
		states, types []string
		want          []string
	}{
		{nil, nil, []string{"empty/Empty", "rebalancing/PreparingRebalance", "stable/Stable"}},
		{[]string{"stable"}, nil, []string{"stable/Stable"}},
		{[]string{"EMPTY", "preparingrebalance"}, nil, []string{"empty/Empty", "rebalancing/PreparingRebalance"}},
		{nil, []string{"Classic"}, []string{"empty/Empty", "rebalancing/PreparingRebalance", "stable/Stable"}},
		{nil, []string{"consumer"}, nil},
		{[]string{"Dead"}, nil, nil},
	} {
		if got := names(c.List(tc.states, tc.types)); !slices.Equal(got, tc.want) {
			t.Errorf("List(%v, %v) = %v, want %v", tc.states, tc.types, got, tc.want)
		}
	}
	for _, l := range c.List(nil, nil) {
		if l.Type != TypeClassic || (l.GroupID != "empty" && l.ProtocolType != consumer) || (l.GroupID == "empty" && l.ProtocolType != "") {
			t.Errorf("listing %+v", l)
		}
	}
	if d := c.Describe("unknown"); d.State != StateDead || d.Exists || d.Err != nil {
		t.Fatalf("describe unknown %+v", d)
	}
	if d := c.Describe("rebalancing"); d.Protocol != "" || len(d.Members) != 2 || d.ProtocolType != consumer {
		t.Fatalf("describe rebalancing %+v", d)
	}
}

func TestGroupMaxSize(t *testing.T) {
	cfg := testConfig()
	cfg.MaxGroupSize = 2
	c := newCoord(t, cfg)
	ctx := ctxT(t)
	js := stableGroup(t, c, "g", 2)
	r := c.Join(ctx, req("g", ""))
	wantErr(t, r.Err, ErrGroupMaxSizeReached)
	if r.MemberID != "" {
		t.Fatalf("member id %q", r.MemberID)
	}
	// Existing members are still accepted.
	mustJoin(t, c.Join(ctx, req("g", js[1].MemberID)))
}

func TestCloseUnblocksWaiters(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = 10 * time.Second
	c := NewCoordinator(cfg, nil)
	ctx := ctxT(t)
	jch := async(ctx, c, req("parked", ""))
	waitState(t, c, "parked", StatePreparingRebalance)

	// A follower parked in SyncGroup.
	c2cfg := testConfig()
	_ = c2cfg
	c.cfg.InitialRebalanceDelay = 0
	l := mustJoin(t, c.Join(ctx, req("g", "")))
	syncAll(t, c, "g", l)
	fch := async(ctx, c, req("g", ""))
	waitState(t, c, "g", StatePreparingRebalance)
	l = mustJoin(t, c.Join(ctx, req("g", l.MemberID)))
	f := mustJoin(t, recv(t, fch))
	sch := asyncSync(ctx, c, SyncRequest{GroupID: "g", MemberID: f.MemberID, GenerationID: f.GenerationID})
	notYet(t, sch, 20*time.Millisecond)

	c.Close()
	wantErr(t, recv(t, jch).Err, ErrCoordinatorNotAvailable)
	wantErr(t, recv(t, sch).Err, ErrCoordinatorNotAvailable)
	wantErr(t, c.Join(ctx, req("g", "")).Err, ErrCoordinatorNotAvailable)
	wantErr(t, c.Sync(ctx, SyncRequest{GroupID: "g", MemberID: l.MemberID, GenerationID: l.GenerationID}).Err, ErrCoordinatorNotAvailable)
	wantErr(t, c.Heartbeat("g", l.MemberID, nil, l.GenerationID), ErrCoordinatorNotAvailable)
	_, err := c.Leave("g", []LeaveMember{{MemberID: l.MemberID}})
	wantErr(t, err, ErrCoordinatorNotAvailable)
	wantErr(t, c.ValidateCommit("g", "", nil, -1), ErrCoordinatorNotAvailable)
	wantErr(t, c.Delete("g"), ErrCoordinatorNotAvailable)
	if d := c.Describe("g"); d.Err == nil {
		t.Fatal("describe after close")
	}
	if len(c.List(nil, nil)) != 0 {
		t.Fatal("list after close")
	}
	c.Close() // idempotent
}

func TestContextEndsParkedCalls(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = 10 * time.Second
	c := newCoord(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	ch := async(ctx, c, req("g", ""))
	notYet(t, ch, 20*time.Millisecond)
	cancel()
	r := recv(t, ch)
	if !errors.Is(r.Err, context.Canceled) || !errors.Is(r.Err, ErrRebalanceInProgress) {
		t.Fatalf("err %v", r.Err)
	}
}

func TestSupersededJoinIsAnswered(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx := ctxT(t)
	js := stableGroup(t, c, "g", 2)
	// The follower's JoinGroup is parked, it times out client-side and
	// retries: the old one is answered, the new one completes the rebalance.
	old := async(ctx, c, req("g", js[1].MemberID, "range", "x"))
	waitState(t, c, "g", StatePreparingRebalance)
	retry := async(ctx, c, req("g", js[1].MemberID, "range", "x"))
	wantErr(t, recv(t, old).Err, ErrRebalanceInProgress)
	l := mustJoin(t, c.Join(ctx, req("g", js[0].MemberID)))
	f := mustJoin(t, recv(t, retry))
	syncAll(t, c, "g", l, f)
}

func TestNewMemberJoinTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.NewMemberJoinTimeout = 60 * time.Millisecond
	c := newCoord(t, cfg)
	ctx := ctxT(t)
	js := stableGroup(t, c, "g", 1)
	// A new member is parked; the leader never rejoins (long rebalance
	// timeout). The new member is dropped after NewMemberJoinTimeout and its
	// JoinGroup answered with UNKNOWN_MEMBER_ID.
	ch := async(ctx, c, req("g", ""))
	r := recv(t, ch)
	wantErr(t, r.Err, ErrUnknownMemberID)
	if r.MemberID != "" {
		t.Fatalf("member id %q", r.MemberID)
	}
	// With only the leader left, which has not rejoined, the rebalance
	// continues until it does.
	l := mustJoin(t, c.Join(ctx, req("g", js[0].MemberID)))
	if len(l.Members) != 1 {
		t.Fatalf("join %+v", l)
	}
}
