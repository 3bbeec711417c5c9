package group

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// simClient behaves like a consumer-group client: join (handling
// MEMBER_ID_REQUIRED), sync (assigning as leader), heartbeat, and rejoin on
// the errors that call for it.
type simClient struct {
	t        *testing.T
	c        *Coordinator
	group    string
	name     string
	instance *string
	protos   []string
	id       string
	gen      int32

	mu       sync.Mutex
	assigned string // last assignment received
	crash    bool   // set before stop closes: stop without leaving
}

func (s *simClient) request() JoinRequest {
	r := req(s.group, s.id, s.protos...)
	r.ClientID = s.name
	r.InstanceID = s.instance
	r.SessionTimeout = 150 * time.Millisecond
	r.RebalanceTimeout = 400 * time.Millisecond
	r.RequireKnownMemberID = true
	r.SupportSkippingAssignment = true
	return r
}

// joinAndSync loops until the client holds an assignment for a generation.
func (s *simClient) joinAndSync(ctx context.Context) error {
	for ctx.Err() == nil {
		j := s.c.Join(ctx, s.request())
		switch {
		case errors.Is(j.Err, ErrMemberIDRequired):
			s.id = j.MemberID
			continue
		case errors.Is(j.Err, ErrUnknownMemberID), errors.Is(j.Err, ErrIllegalGeneration):
			s.id = ""
			continue
		case errors.Is(j.Err, ErrRebalanceInProgress):
			continue
		case j.Err != nil:
			return fmt.Errorf("%s join: %w", s.name, j.Err)
		}
		s.id, s.gen = j.MemberID, j.GenerationID
		var assign map[string][]byte
		if j.LeaderID == j.MemberID && !j.SkipAssignment {
			assign = map[string][]byte{}
			for _, m := range j.Members {
				assign[m.MemberID] = fmt.Appendf(nil, "%d/%s", j.GenerationID, m.MemberID)
			}
		}
		r := s.c.Sync(ctx, SyncRequest{GroupID: s.group, MemberID: s.id, InstanceID: s.instance, GenerationID: s.gen,
			ProtocolType: &j.ProtocolType, ProtocolName: &j.ProtocolName, Assignments: assign})
		switch {
		case r.Err == nil:
			// A static member replacing its old self in a stable group keeps
			// the old incarnation's assignment; otherwise it must be ours.
			if s.instance == nil && string(r.Assignment) != fmt.Sprintf("%d/%s", s.gen, s.id) {
				return fmt.Errorf("%s got assignment %q in generation %d", s.name, r.Assignment, s.gen)
			}
			s.mu.Lock()
			s.assigned = string(r.Assignment)
			s.mu.Unlock()
			return nil
		case errors.Is(r.Err, ErrUnknownMemberID):
			s.id = ""
		case errors.Is(r.Err, ErrRebalanceInProgress), errors.Is(r.Err, ErrIllegalGeneration):
		default:
			return fmt.Errorf("%s sync: %w", s.name, r.Err)
		}
	}
	return ctx.Err()
}

// run participates until stop closes; then leaves (or, if crash, just
// stops talking).
func (s *simClient) run(ctx context.Context, stop <-chan struct{}, crash bool) error {
	if err := s.joinAndSync(ctx); err != nil {
		return err
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			if !crash && !s.crash {
				errs, err := s.c.Leave(s.group, []LeaveMember{{MemberID: s.id, InstanceID: s.instance}})
				if err != nil {
					return err
				}
				_ = errs // may be UNKNOWN_MEMBER_ID if it was just expired
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		err := s.c.Heartbeat(s.group, s.id, s.instance, s.gen)
		switch {
		case err == nil:
		case errors.Is(err, ErrRebalanceInProgress), errors.Is(err, ErrIllegalGeneration):
			if err := s.joinAndSync(ctx); err != nil {
				return err
			}
		case errors.Is(err, ErrUnknownMemberID):
			s.id = ""
			if err := s.joinAndSync(ctx); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s heartbeat: %w", s.name, err)
		}
		if cerr := s.c.ValidateCommit(s.group, s.id, s.instance, s.gen); cerr != nil &&
			!errors.Is(cerr, ErrRebalanceInProgress) && !errors.Is(cerr, ErrIllegalGeneration) &&
			!errors.Is(cerr, ErrUnknownMemberID) {
			return fmt.Errorf("%s commit: %w", s.name, cerr)
		}
	}
}

func TestChurnConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("churn")
	}
	cfg := testConfig()
	cfg.InitialRebalanceDelay = 30 * time.Millisecond
	c := newCoord(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	type running struct {
		stop chan struct{}
		done chan error
		cl   *simClient
	}
	start := func(name string, static bool, crash bool) *running {
		cl := &simClient{t: t, c: c, group: "churn", name: name, protos: []string{"range"}}
		if rand.IntN(2) == 0 {
			cl.protos = []string{"cooperative-sticky", "range"}
		}
		if static {
			cl.instance = strp(name)
		}
		r := &running{stop: make(chan struct{}), done: make(chan error, 1), cl: cl}
		go func() { r.done <- cl.run(ctx, r.stop, crash) }()
		return r
	}
	finish := func(r *running) {
		close(r.stop)
		select {
		case err := <-r.done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("client %s stuck", r.cl.name)
		}
	}

	// Churn: members come and go, some leave cleanly, some crash, static
	// members restart.
	var live []*running
	for i := range 4 {
		live = append(live, start(fmt.Sprintf("c%d", i), i%2 == 0, false))
	}
	for round := range 12 {
		time.Sleep(time.Duration(20+rand.IntN(60)) * time.Millisecond)
		switch rand.IntN(3) {
		case 0:
			live = append(live, start(fmt.Sprintf("n%d", round), false, false))
		case 1:
			if len(live) > 2 {
				i := rand.IntN(len(live))
				finish(live[i])
				live = append(live[:i], live[i+1:]...)
			}
		case 2:
			// Crash one (a static one restarts under the same instance id).
			i := rand.IntN(len(live))
			victim := live[i]
			crashed := start(victim.cl.name+"x", false, true)
			_ = crashed
			close(crashed.stop) // joins, then "crashes" at once
			if err := <-crashed.done; err != nil {
				t.Fatal(err)
			}
			if victim.cl.instance != nil {
				// The static member dies without leaving and restarts: the new
				// incarnation replaces it.
				victim.cl.crash = true
				finish(victim)
				live[i] = start(victim.cl.name, true, false)
			}
		}
	}

	// Quiet period: the group must stabilise with exactly the live members,
	// all on the same generation.
	deadline := time.Now().Add(8 * time.Second)
	for {
		d := c.Describe("churn")
		ok := d.State == StateStable && len(d.Members) == len(live)
		if ok {
			for _, m := range d.Members {
				if len(m.Assignment) == 0 && m.InstanceID == nil {
					ok = false
				}
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("did not converge: state %s, %d members, %d live", d.State, len(d.Members), len(live))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, r := range live {
		finish(r)
	}
	waitState(t, c, "churn", StateEmpty)
}

// TestConcurrentGroups hammers many groups at once (race detector food).
func TestConcurrentGroups(t *testing.T) {
	c := newCoord(t, testConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	for g := range 8 {
		for m := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl := &simClient{t: t, c: c, group: fmt.Sprintf("g%d", g), name: fmt.Sprintf("m%d", m), protos: []string{"range"}}
				stop := make(chan struct{})
				go func() { time.Sleep(300 * time.Millisecond); close(stop) }()
				if err := cl.run(ctx, stop, false); err != nil {
					errc <- err
				}
			}()
		}
	}
	go func() { // readers
		for ctx.Err() == nil {
			c.List(nil, nil)
			c.Describe("g0")
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	for g := range 8 {
		waitState(t, c, fmt.Sprintf("g%d", g), StateEmpty)
	}
}
