package group

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"
)

const consumer = "consumer"

func testConfig() Config {
	return Config{
		MinSessionTimeout: time.Millisecond,
		MaxSessionTimeout: time.Minute,
	}
}

func newCoord(t *testing.T, cfg Config) *Coordinator {
	t.Helper()
	var logger *slog.Logger
	if os.Getenv("GROUP_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c := NewCoordinator(cfg, logger)
	// Tests run as the broker runs: with group metadata persisted (the
	// leader's SyncGroup completes once the group is stored).
	// GROUP_TEST_NO_STORE=1 runs them without a store;
	// GROUP_TEST_STORE_DELAY=5ms makes every write take that long (fsync).
	if os.Getenv("GROUP_TEST_NO_STORE") == "" {
		s := newMemStore()
		s.delay, _ = time.ParseDuration(os.Getenv("GROUP_TEST_STORE_DELAY"))
		c.SetMetadataStore(s)
	}
	t.Cleanup(c.Close)
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func protos(names ...string) []Protocol {
	ps := make([]Protocol, len(names))
	for i, n := range names {
		ps[i] = Protocol{Name: n, Metadata: []byte("meta-" + n)}
	}
	return ps
}

func req(groupID, memberID string, ps ...string) JoinRequest {
	if len(ps) == 0 {
		ps = []string{"range"}
	}
	return JoinRequest{
		GroupID:          groupID,
		MemberID:         memberID,
		ClientID:         "client",
		ClientHost:       "/127.0.0.1",
		SessionTimeout:   10 * time.Second,
		RebalanceTimeout: 5 * time.Second,
		ProtocolType:     consumer,
		Protocols:        protos(ps...),
	}
}

func strp(s string) *string { return &s }

// async runs Join in a goroutine.
func async(ctx context.Context, c *Coordinator, r JoinRequest) <-chan JoinResult {
	ch := make(chan JoinResult, 1)
	go func() { ch <- c.Join(ctx, r) }()
	return ch
}

func asyncSync(ctx context.Context, c *Coordinator, r SyncRequest) <-chan SyncResult {
	ch := make(chan SyncResult, 1)
	go func() { ch <- c.Sync(ctx, r) }()
	return ch
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a result")
		panic("unreachable")
	}
}

func notYet[T any](t *testing.T, ch <-chan T, d time.Duration) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("got a result too early: %+v", v)
	case <-time.After(d):
	}
}

func mustJoin(t *testing.T, r JoinResult) JoinResult {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("join: %v", r.Err)
	}
	return r
}

func wantErr(t *testing.T, got, want error) {
	t.Helper()
	if !errors.Is(got, want) || (want == nil && got != nil) {
		t.Fatalf("error = %v, want %v", got, want)
	}
}

func state(c *Coordinator, groupID string) string { return c.Describe(groupID).State }

// waitState polls until the group is in the given state.
func waitState(t *testing.T, c *Coordinator, groupID, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if state(c, groupID) == want {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("group %s state = %s, want %s", groupID, state(c, groupID), want)
}

// syncAll syncs the members of a completed join; the leader assigns each
// member its own id. It returns the assignments received, by member id.
func syncAll(t *testing.T, c *Coordinator, groupID string, joins ...JoinResult) map[string]string {
	t.Helper()
	ctx := ctxT(t)
	var leader JoinResult
	chans := map[string]<-chan SyncResult{}
	for _, j := range joins {
		if j.MemberID == j.LeaderID {
			leader = j
			continue
		}
		chans[j.MemberID] = asyncSync(ctx, c, SyncRequest{GroupID: groupID, MemberID: j.MemberID, GenerationID: j.GenerationID})
	}
	if leader.MemberID == "" {
		t.Fatal("no leader among the joins")
	}
	assign := map[string][]byte{}
	for _, m := range leader.Members {
		assign[m.MemberID] = []byte("assigned-" + m.MemberID)
	}
	chans[leader.MemberID] = asyncSync(ctx, c, SyncRequest{GroupID: groupID, MemberID: leader.MemberID,
		GenerationID: leader.GenerationID, Assignments: assign})
	out := map[string]string{}
	for id, ch := range chans {
		r := recv(t, ch)
		if r.Err != nil {
			t.Fatalf("sync %s: %v", id, r.Err)
		}
		out[id] = string(r.Assignment)
	}
	return out
}

// stableGroup forms a Stable group of n dynamic members (first joiner is
// the leader) and returns their join results in join order.
func stableGroup(t *testing.T, c *Coordinator, groupID string, n int) []JoinResult {
	t.Helper()
	reqs := make([]JoinRequest, n)
	for i := range reqs {
		reqs[i] = req(groupID, "")
	}
	return stableGroupWith(t, c, groupID, reqs...)
}

// stableGroupWith forms a Stable group joining reqs one by one (each new
// member triggers a rebalance that the others rejoin).
func stableGroupWith(t *testing.T, c *Coordinator, groupID string, reqs ...JoinRequest) []JoinResult {
	t.Helper()
	ctx := ctxT(t)
	var joins []JoinResult
	for i, r := range reqs {
		chans := []<-chan JoinResult{async(ctx, c, r)}
		if i > 0 {
			waitState(t, c, groupID, StatePreparingRebalance)
		}
		for k, j := range joins {
			rr := reqs[k]
			rr.MemberID = j.MemberID
			chans = append(chans, async(ctx, c, rr))
		}
		var next []JoinResult
		for _, ch := range chans {
			next = append(next, mustJoin(t, recv(t, ch)))
		}
		// keep join order: old members first, then the new one
		joins = append(next[1:], next[0])
		syncAll(t, c, groupID, joins...)
	}
	if s := state(c, groupID); s != StateStable {
		t.Fatalf("state = %s, want Stable", s)
	}
	return joins
}
