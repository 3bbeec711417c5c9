package group

import (
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"
)

// memStore is an in-memory MetadataStore.
type memStore struct {
	mu     sync.Mutex
	recs   map[string][]byte
	writes int
	fail   error
	delay  time.Duration // each write takes this long, outside mu
}

func newMemStore() *memStore { return &memStore{recs: map[string][]byte{}} }

func (s *memStore) PutGroupMetadata(g string, data []byte) error {
	time.Sleep(s.delay)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.fail != nil {
		return s.fail
	}
	s.recs[g] = slices.Clone(data)
	return nil
}

func (s *memStore) DeleteGroupMetadata(g string) error {
	time.Sleep(s.delay)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.fail != nil {
		return s.fail
	}
	delete(s.recs, g)
	return nil
}

func (s *memStore) snapshot() map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.recs)
}

func (s *memStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

func persistedCoord(t *testing.T, cfg Config, s *memStore) *Coordinator {
	t.Helper()
	c := newCoord(t, cfg)
	c.SetMetadataStore(s)
	return c
}

// restart closes c and returns a new coordinator loaded from s.
func restart(t *testing.T, c *Coordinator, cfg Config, s *memStore) *Coordinator {
	t.Helper()
	c.Close()
	c2 := persistedCoord(t, cfg, s)
	c2.RestoreGroups(s.snapshot())
	return c2
}

func memberIDs(d Description) []string {
	var ids []string
	for _, m := range d.Members {
		ids = append(ids, m.MemberID)
	}
	slices.Sort(ids)
	return ids
}

// TestPersistRestoreStable: a Stable group comes back Stable after a
// restart; its members heartbeat with their old ids and generation, sync
// and get their assignments, and a follower rejoining unchanged gets the
// same generation, without a rebalance.
func TestPersistRestoreStable(t *testing.T) {
	s := newMemStore()
	c := persistedCoord(t, testConfig(), s)
	joins := stableGroup(t, c, "g", 3)
	before := c.Describe("g")
	gen := joins[0].GenerationID

	// Heartbeats, commits and an unchanged follower rejoin do not write.
	n := s.count()
	for _, j := range joins {
		wantErr(t, c.Heartbeat("g", j.MemberID, nil, gen), nil)
		wantErr(t, c.ValidateCommit("g", j.MemberID, nil, gen), nil)
	}
	var follower JoinResult
	for _, j := range joins {
		if j.MemberID != j.LeaderID {
			follower = j
		}
	}
	r := req("g", follower.MemberID)
	mustJoin(t, c.Join(ctxT(t), r))
	if s.count() != n {
		t.Fatalf("heartbeats wrote %d times", s.count()-n)
	}

	c2 := restart(t, c, testConfig(), s)
	after := c2.Describe("g")
	if after.State != StateStable || after.Protocol != "range" || after.ProtocolType != consumer {
		t.Fatalf("restored: %+v", after)
	}
	if !slices.Equal(memberIDs(before), memberIDs(after)) {
		t.Fatalf("members %v, want %v", memberIDs(after), memberIDs(before))
	}
	for i, m := range after.Members {
		b := before.Members[i]
		if m.MemberID != b.MemberID || string(m.Assignment) != string(b.Assignment) || string(m.Metadata) != string(b.Metadata) ||
			m.ClientID != b.ClientID || m.ClientHost != b.ClientHost {
			t.Fatalf("member %d: %+v, want %+v", i, m, b)
		}
	}
	for _, j := range joins {
		wantErr(t, c2.Heartbeat("g", j.MemberID, nil, gen), nil)
		sr := c2.Sync(ctxT(t), SyncRequest{GroupID: "g", MemberID: j.MemberID, GenerationID: gen})
		if sr.Err != nil || string(sr.Assignment) != "assigned-"+j.MemberID || sr.ProtocolName != "range" {
			t.Fatalf("sync after restore: %+v", sr)
		}
	}
	jr := mustJoin(t, c2.Join(ctxT(t), r))
	if jr.GenerationID != gen || jr.LeaderID != follower.LeaderID {
		t.Fatalf("follower rejoin after restore: %+v", jr)
	}
	wantErr(t, c2.Heartbeat("g", joins[0].MemberID, nil, gen+1), ErrIllegalGeneration)
	if st := state(c2, "g"); st != StateStable {
		t.Fatalf("state %s after heartbeats", st)
	}
}

// TestPersistRestoredMembersExpire: members that do not come back after a
// restart expire after their session timeout and the group rebalances
// around the ones that do.
func TestPersistRestoredMembersExpire(t *testing.T) {
	s := newMemStore()
	c := persistedCoord(t, testConfig(), s)
	r1, r2 := req("g", ""), req("g", "")
	r1.SessionTimeout, r2.SessionTimeout = 300*time.Millisecond, 300*time.Millisecond
	joins := stableGroupWith(t, c, "g", r1, r2)
	gen := joins[0].GenerationID
	c2 := restart(t, c, testConfig(), s)
	alive, gone := joins[0], joins[1]

	// Only alive heartbeats; gone's fresh deadline passes.
	deadline := time.Now().Add(5 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = c2.Heartbeat("g", alive.MemberID, nil, gen); err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantErr(t, err, ErrRebalanceInProgress)
	wantErr(t, c2.Heartbeat("g", gone.MemberID, nil, gen), ErrUnknownMemberID)
	rr := r1
	rr.MemberID = alive.MemberID
	j := mustJoin(t, c2.Join(ctxT(t), rr))
	if j.GenerationID != gen+1 || j.LeaderID != alive.MemberID || len(j.Members) != 1 {
		t.Fatalf("rejoin: %+v", j)
	}
	syncAll(t, c2, "g", j)
	// The new generation is stored: a further restart keeps it.
	c3 := restart(t, c2, testConfig(), s)
	if d := c3.Describe("g"); d.State != StateStable || len(d.Members) != 1 || d.Members[0].MemberID != alive.MemberID {
		t.Fatalf("after second restart: %+v", d)
	}
	wantErr(t, c3.Heartbeat("g", alive.MemberID, nil, gen+1), nil)
}

// TestPersistLeaveRebalancesOnLoad: a member that left before the restart
// is gone after it, and the group rebalances at once.
func TestPersistLeaveRebalancesOnLoad(t *testing.T) {
	s := newMemStore()
	c := persistedCoord(t, testConfig(), s)
	joins := stableGroup(t, c, "g", 2)
	gen := joins[0].GenerationID
	if _, err := c.Leave("g", []LeaveMember{{MemberID: joins[1].MemberID}}); err != nil {
		t.Fatal(err)
	}
	c2 := restart(t, c, testConfig(), s)
	if st := state(c2, "g"); st != StatePreparingRebalance {
		t.Fatalf("state %s, want PreparingRebalance", st)
	}
	wantErr(t, c2.Heartbeat("g", joins[1].MemberID, nil, gen), ErrUnknownMemberID)
	wantErr(t, c2.Heartbeat("g", joins[0].MemberID, nil, gen), ErrRebalanceInProgress)
	rr := req("g", joins[0].MemberID)
	j := mustJoin(t, c2.Join(ctxT(t), rr))
	if j.GenerationID != gen+1 || len(j.Members) != 1 {
		t.Fatalf("rejoin: %+v", j)
	}
}

// TestPersistEmptyAndDelete: an Empty group is stored Empty with its
// generation; deleting it removes the record.
func TestPersistEmptyAndDelete(t *testing.T) {
	s := newMemStore()
	c := persistedCoord(t, testConfig(), s)
	joins := stableGroup(t, c, "g", 1)
	if _, err := c.Leave("g", []LeaveMember{{MemberID: joins[0].MemberID}}); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "g", StateEmpty)
	c2 := restart(t, c, testConfig(), s)
	if d := c2.Describe("g"); d.State != StateEmpty || !d.Exists || d.ProtocolType != consumer {
		t.Fatalf("restored: %+v", d)
	}
	j := mustJoin(t, c2.Join(ctxT(t), req("g", "")))
	if j.GenerationID <= joins[0].GenerationID+1 {
		t.Fatalf("generation %d reused (was %d)", j.GenerationID, joins[0].GenerationID)
	}
	if _, err := c2.Leave("g", []LeaveMember{{MemberID: j.MemberID}}); err != nil {
		t.Fatal(err)
	}
	waitState(t, c2, "g", StateEmpty)
	wantErr(t, c2.Delete("g"), nil)
	if _, ok := s.snapshot()["g"]; ok {
		t.Fatal("record of a deleted group still stored")
	}
}

// TestPersistStaticReplacement: a static member replaced in a Stable group
// (new member id, no rebalance) is stored with its new id, so that it is
// not fenced after a restart.
func TestPersistStaticReplacement(t *testing.T) {
	s := newMemStore()
	c := persistedCoord(t, testConfig(), s)
	joins := stableGroupWith(t, c, "g", sreq("a", ""), sreq("b", ""))
	gen := joins[0].GenerationID
	j := mustJoin(t, c.Join(ctxT(t), sreq("b", "")))
	if j.MemberID == joins[1].MemberID || j.GenerationID != gen {
		t.Fatalf("static rejoin: %+v", j)
	}
	c2 := restart(t, c, testConfig(), s)
	wantErr(t, c2.Heartbeat("g", j.MemberID, strp("b"), gen), nil)
	wantErr(t, c2.Heartbeat("g", joins[1].MemberID, strp("b"), gen), ErrFencedInstanceID)
	wantErr(t, c2.Heartbeat("g", joins[0].MemberID, strp("a"), gen), nil)
}

// TestPersistSyncWaitsForStore: members get their assignments only once
// the generation is stored; a failing store is logged and the group works
// on in memory.
func TestPersistSyncWaitsForStore(t *testing.T) {
	s := newMemStore()
	c := persistedCoord(t, testConfig(), s)
	joins := stableGroup(t, c, "g", 2)
	recs := s.snapshot()
	r, err := decodeClassic(recs["g"])
	if err != nil {
		t.Fatal(err)
	}
	if r.state != stable || r.generation != joins[0].GenerationID || len(r.members) != 2 || r.rebalance {
		t.Fatalf("stored: %+v", r)
	}
	s.mu.Lock()
	s.fail = errors.New("disk full")
	s.mu.Unlock()
	joins2 := stableGroup(t, c, "h", 2)
	wantErr(t, c.Heartbeat("h", joins2[0].MemberID, nil, joins2[0].GenerationID), nil)
}

func TestRecordEncoding(t *testing.T) {
	inst := "i"
	cr := &classicRecord{state: stable, generation: 7, protocolType: "consumer", protocolName: "range", hasProtocol: true,
		leader: "a", rebalance: true, members: []memberRecord{
			{id: "a", instanceID: &inst, clientID: "c", clientHost: "/h", sessionTimeout: time.Second, rebalanceTimeout: time.Minute,
				protocols: []Protocol{{Name: "range", Metadata: []byte{1, 2}}, {Name: "x", Metadata: []byte{}}}, assignment: []byte{3}},
			{id: "b", protocols: []Protocol{{Name: "range", Metadata: []byte{}}}, assignment: []byte{}},
		}}
	b := encodeClassic(cr)
	got, err := decodeClassic(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.generation != 7 || got.leader != "a" || !got.rebalance || len(got.members) != 2 || *got.members[0].instanceID != "i" ||
		got.members[0].sessionTimeout != time.Second || string(got.members[0].protocols[0].Metadata) != "\x01\x02" ||
		string(got.members[0].assignment) != "\x03" || got.members[1].instanceID != nil {
		t.Fatalf("decoded %+v", got)
	}
	for i := range b {
		if _, err := decodeClassic(b[:i]); err == nil {
			t.Fatalf("truncated record (%d of %d bytes) decoded", i, len(b))
		}
	}
	if _, err := decodeConsumer(b); err == nil {
		t.Fatal("classic record decoded as a consumer record")
	}
	// Undecodable records are skipped.
	c := newCoord(t, testConfig())
	if n := c.RestoreGroups(map[string][]byte{"bad": {9, 9, 9}, "short": b[:5], "ok": b}); n != 1 {
		t.Fatalf("restored %d groups, want 1", n)
	}
}

// TestPersistConsumerGroup: a KIP-848 group comes back with its epochs,
// members and assignments; members carry on heartbeating with their
// epochs; one that does not expires.
func TestPersistConsumerGroup(t *testing.T) {
	s := newMemStore()
	cfg := Config{ConsumerSessionTimeout: 400 * time.Millisecond}
	h := newConsumerHarness(t, cfg)
	h.c.SetMetadataStore(s)
	id := h.topics.set("t", 4)
	a := mustOK(t, "join a", h.join("g", "a", "t"))
	mustOK(t, "join b", h.join("g", "b", "t"))
	a = mustOK(t, "a revokes", h.beat("g", "a", a.MemberEpoch, owned(id, 0, 1, 2, 3)))
	a = mustOK(t, "a revoked", h.beat("g", "a", a.MemberEpoch, owned(id, assigned(a, id)...)))
	b := mustOK(t, "b", h.beat("g", "b", 2, nil))
	if d := h.c.DescribeConsumerGroup("g"); d.State != StateStable {
		t.Fatalf("before: %+v", d)
	}
	n := s.count()
	mustOK(t, "a keepalive", h.beat("g", "a", a.MemberEpoch, owned(id, assigned(a, id)...)))
	mustOK(t, "b keepalive", h.beat("g", "b", b.MemberEpoch, owned(id, assigned(b, id)...)))
	if s.count() != n {
		t.Fatalf("unchanged heartbeats wrote %d times", s.count()-n)
	}
	before := h.c.DescribeConsumerGroup("g")

	h.c.Close()
	c2 := newCoord(t, cfg)
	c2.SetTopicLookup(h.topics)
	c2.SetMetadataStore(s)
	if c2.RestoreGroups(s.snapshot()) != 1 {
		t.Fatal("not restored")
	}
	after := c2.DescribeConsumerGroup("g")
	if after.State != StateStable || after.Epoch != before.Epoch || after.AssignmentEpoch != before.AssignmentEpoch ||
		len(after.Members) != 2 {
		t.Fatalf("restored: %+v, before %+v", after, before)
	}
	for i := range after.Members {
		if after.Members[i].MemberEpoch != before.Members[i].MemberEpoch ||
			!slices.Equal(after.Members[i].Assignment[0].Partitions, before.Members[i].Assignment[0].Partitions) {
			t.Fatalf("member %d: %+v, want %+v", i, after.Members[i], before.Members[i])
		}
	}
	h.c = c2
	// a carries on; b never comes back and expires, a gets everything.
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := mustOK(t, "a after restart", h.beat("g", "a", a.MemberEpoch, owned(id, assigned(a, id)...)))
		if r.Assignment != nil {
			a.Assignment = r.Assignment
		}
		a.MemberEpoch = r.MemberEpoch
		if len(assigned(a, id)) == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a never got b's partitions: %+v", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := h.beat("g", "b", b.MemberEpoch, nil); !errors.Is(r.Err, ErrUnknownMemberID) {
		t.Fatalf("b after expiry: %v", r.Err)
	}
	// Leaving stores an empty group; deleting removes it.
	if r := h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{GroupID: "g", MemberID: "a", MemberEpoch: -1}); r.Err != nil {
		t.Fatal(r.Err)
	}
	rec, err := decodeConsumer(s.snapshot()["g"])
	if err != nil || len(rec.members) != 0 {
		t.Fatalf("stored after leave: %+v %v", rec, err)
	}
	wantErr(t, h.c.Delete("g"), nil)
	if _, ok := s.snapshot()["g"]; ok {
		t.Fatal("deleted consumer group still stored")
	}
}
