package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// These tests prove that consumer groups of unmodified clients work against
// Chronik. Every client runs the same scenario (groupScenario.run): members
// join a group over a multi-partition topic, the Go side checks the
// assignment the broker reports (DescribeGroups) and, where the client
// exposes it, the one each member was given; one member leaves (cleanly or
// by kill -9) and the others must take over its partitions; every record
// must be consumed, none twice (the members commit each record before they
// take the next, so a clean rebalance never replays one; after a kill -9
// only the records the dead member read past its last commit may come
// again), no partition may be consumed by two members at once, and the
// committed offsets must end at the end offsets. Then the group admin APIs:
// ListGroups, DescribeGroups (client ids and hosts), DeleteGroups refused
// while members remain (NON_EMPTY_GROUP) and accepted once they left.
//
// Members outside the test process (Python, Node, kcat) print JSON lines:
//   {"event":"assigned"|"revoked","ts":ms,"partitions":[...]}
//   {"event":"record","ts":ms,"partition":p,"offset":o,"value":"..."}
//   {"event":"committed","ts":ms,"partition":p,"offset":next}
//   {"event":"closed"} / {"event":"error","error":"..."}
// and take their spec as one JSON line on stdin; closing stdin asks them to
// close their consumer (leave the group) and exit.
//
// CHRONIK_GROUP_TRACE=1 logs every assignment and record with its time
// (=all: commits too); CHRONIK_CLIENTS_LOG=1 the scripts' stderr.

// groupEvent is one thing a member did, stamped with the wall clock (the
// processes share the machine's clock, so stamps from different members
// are comparable).
type groupEvent struct {
	TS        time.Time
	Member    string
	Kind      string // assigned, revoked, record, committed, dead, left
	Parts     []int32
	Partition int32
	Offset    int64
	Value     string
}

// groupLog collects the events of all members of one group.
type groupLog struct {
	mu     sync.Mutex
	events []groupEvent
}

func (l *groupLog) add(e groupEvent) {
	if e.TS.IsZero() {
		e.TS = time.Now()
	}
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *groupLog) snapshot() []groupEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]groupEvent(nil), l.events...)
}

// distinct counts the distinct partition/offset pairs consumed.
func (l *groupLog) distinct() int {
	seen := map[[2]int64]bool{}
	for _, e := range l.snapshot() {
		if e.Kind == "record" {
			seen[[2]int64{int64(e.Partition), e.Offset}] = true
		}
	}
	return len(seen)
}

// recordsBy counts the records member consumed after since.
func (l *groupLog) recordsBy(member string, since time.Time) int {
	n := 0
	for _, e := range l.snapshot() {
		if e.Kind == "record" && e.Member == member && !e.TS.Before(since) {
			n++
		}
	}
	return n
}

// lastAssigned returns the partitions member was last given (nil, false if
// it reported no assignment since its last revocation).
func (l *groupLog) lastAssigned(member string) ([]int32, bool) {
	var cur map[int32]bool
	for _, e := range l.snapshot() {
		if e.Member != member {
			continue
		}
		switch e.Kind {
		case "assigned":
			if cur == nil {
				cur = map[int32]bool{}
			}
			for _, p := range e.Parts {
				cur[p] = true
			}
		case "revoked":
			for _, p := range e.Parts {
				delete(cur, p)
			}
		case "replaced": // an eager client's assignment replaces the last
			cur = map[int32]bool{}
			for _, p := range e.Parts {
				cur[p] = true
			}
		}
	}
	if cur == nil {
		return nil, false
	}
	out := make([]int32, 0, len(cur))
	for p := range cur {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, true
}

// check asserts, over everything the members did: each record of end
// (partition -> end offset) was consumed; none twice, except a record a
// killed member read at or past its last reported commit; values match the
// produced "p-i"; and, when intervals is set (the client reports
// revocations), that no partition was owned by two members at once; in any
// case, the records of each partition were consumed in offset order in
// time, which two members consuming one partition at once would break.
//
// lateCommits tolerates the kafka-go Reader race: CommitMessages of a record
// read just before a rebalance is queued on a channel the Reader shares
// across generations, and is sent by the next generation's commit loop
// only after that generation fetched its starting offsets, so the record
// comes again. Such a record is allowed a replay when its commit took over
// 50ms (it waited out the rebalance; commits otherwise take ~5ms).
func (l *groupLog) check(t *testing.T, end map[int32]int64, intervals, lateCommits bool) {
	t.Helper()
	evs := l.snapshot()
	late := map[[2]int64]bool{}
	if lateCommits {
		readAt := map[string]time.Time{}
		for _, e := range evs {
			k := fmt.Sprintf("%s %d/%d", e.Member, e.Partition, e.Offset)
			switch e.Kind {
			case "record":
				if _, ok := readAt[k]; !ok {
					readAt[k] = e.TS
				}
			case "committed":
				k = fmt.Sprintf("%s %d/%d", e.Member, e.Partition, e.Offset-1)
				if at, ok := readAt[k]; ok && e.TS.Sub(at) > 50*time.Millisecond && !late[[2]int64{int64(e.Partition), e.Offset - 1}] {
					late[[2]int64{int64(e.Partition), e.Offset - 1}] = true
					t.Logf("%s: commit of %d/%d took %v (across a rebalance)", e.Member, e.Partition, e.Offset-1, e.TS.Sub(at).Round(time.Millisecond))
				}
			}
		}
	}
	dead := map[string]time.Time{}
	committed := map[string]map[int32]int64{} // member -> partition -> next offset
	failed := map[[2]int64]bool{}             // records whose commit the broker refused
	for _, e := range evs {
		switch e.Kind {
		case "dead":
			dead[e.Member] = e.TS
		case "commit_failed":
			failed[[2]int64{int64(e.Partition), e.Offset}] = true
		case "committed":
			if committed[e.Member] == nil {
				committed[e.Member] = map[int32]int64{}
			}
			if e.Offset > committed[e.Member][e.Partition] {
				committed[e.Member][e.Partition] = e.Offset
			}
		}
	}
	type rec struct {
		member string
		ts     time.Time
		offset int64
	}
	byPart := map[int32][]rec{}
	by := map[[2]int64][]string{}
	for _, e := range evs {
		if e.Kind != "record" {
			continue
		}
		if want := fmt.Sprintf("%d-%d", e.Partition, e.Offset); e.Value != "" && e.Value != want {
			// produceN writes "p-i" with i counting per batch; only the
			// partition prefix is stable across batches.
			if !strings.HasPrefix(e.Value, fmt.Sprintf("%d-", e.Partition)) {
				t.Errorf("%s read %q at %d/%d", e.Member, e.Value, e.Partition, e.Offset)
			}
		}
		k := [2]int64{int64(e.Partition), e.Offset}
		by[k] = append(by[k], e.Member)
		byPart[e.Partition] = append(byPart[e.Partition], rec{e.Member, e.TS, e.Offset})
	}
	missing := 0
	for p, n := range end {
		for o := int64(0); o < n; o++ {
			ms := by[[2]int64{int64(p), o}]
			if len(ms) == 0 {
				if missing++; missing <= 10 {
					t.Errorf("record %d/%d never consumed", p, o)
				}
				continue
			}
			// Replays are allowed only for what a dead member read past
			// its last commit.
			replays := 0
			if failed[[2]int64{int64(p), o}] || late[[2]int64{int64(p), o}] {
				replays-- // its commit was refused or late: it may come again
			}
			for _, m := range ms {
				if _, d := dead[m]; d && o >= committed[m][p] {
					continue
				}
				replays++
			}
			if replays > 1 {
				t.Errorf("record %d/%d consumed %d times, by %v", p, o, len(ms), ms)
			}
		}
	}
	if missing > 10 {
		t.Errorf("... %d records never consumed in all", missing)
	}
	for k := range by {
		if k[1] >= end[int32(k[0])] {
			t.Errorf("record %d/%d consumed beyond the end offset %d", k[0], k[1], end[int32(k[0])])
		}
	}
	// Offset order is time order within a partition, but for replays
	// after a kill.
	for p, rs := range byPart {
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].ts.Before(rs[j].ts) })
		for i := 1; i < len(rs); i++ {
			prev, cur := rs[i-1], rs[i]
			if cur.offset > prev.offset {
				continue
			}
			if _, d := dead[prev.member]; d && prev.member != cur.member {
				continue // the survivor replays what the dead member read
			}
			if failed[[2]int64{int64(p), cur.offset}] || late[[2]int64{int64(p), cur.offset}] {
				continue // a replay of a record whose commit was refused
			}
			t.Errorf("partition %d: %s read offset %d at %s after %s read offset %d at %s",
				p, cur.member, cur.offset, cur.ts.Format("15:04:05.000"), prev.member, prev.offset, prev.ts.Format("15:04:05.000"))
			break
		}
	}
	if !intervals {
		return
	}
	// Ownership intervals from assigned/revoked, ended by death or by
	// leaving.
	type span struct {
		member   string
		from, to time.Time
	}
	open := map[string]map[int32]time.Time{}
	var spans = map[int32][]span{}
	closeSpan := func(m string, p int32, at time.Time) {
		if from, ok := open[m][p]; ok {
			spans[p] = append(spans[p], span{m, from, at})
			delete(open[m], p)
		}
	}
	for _, e := range evs {
		switch e.Kind {
		case "assigned":
			if open[e.Member] == nil {
				open[e.Member] = map[int32]time.Time{}
			}
			for _, p := range e.Parts {
				open[e.Member][p] = e.TS
			}
		case "revoked":
			for _, p := range e.Parts {
				closeSpan(e.Member, p, e.TS)
			}
		case "dead", "left":
			for p := range open[e.Member] {
				closeSpan(e.Member, p, e.TS)
			}
		}
	}
	far := time.Now().Add(time.Hour)
	for m, ps := range open {
		for p := range ps {
			closeSpan(m, p, far)
		}
	}
	for p, ss := range spans {
		sort.Slice(ss, func(i, j int) bool { return ss[i].from.Before(ss[j].from) })
		for i := 1; i < len(ss); i++ {
			for j := 0; j < i; j++ {
				a, b := ss[j], ss[i]
				if a.member != b.member && b.from.Before(a.to) {
					if _, d := dead[a.member]; d {
						continue // a dead member owns nothing, whatever it last said
					}
					t.Errorf("partition %d owned by %s from %s to %s and by %s from %s", p,
						a.member, a.from.Format("15:04:05.000"), a.to.Format("15:04:05.000"), b.member, b.from.Format("15:04:05.000"))
				}
			}
		}
	}
}

// groupClient is one member of a scenario.
type groupClient interface {
	name() string    // the member's client id, as DescribeGroups shows it
	leave()          // close cleanly (commit, LeaveGroup) and wait
	crash(bool) bool // kill -9; false if the client cannot be killed
}

type groupScenario struct {
	group, topic string
	partitions   int
	perBatch     int // records per partition in each of three batches
	members      int
	crash        bool // kill -9 the last member instead of closing it
	intervals    bool // members report revocations: check ownership spans
	lateCommits  bool // see groupLog.check
	// sessionTimeout of the members: a killed member must be dropped after
	// about that long.
	sessionTimeout time.Duration
	// start starts member i, logging into log.
	start func(t *testing.T, tb *testBroker, i int, log *groupLog) groupClient
}

// run plays the scenario on a fresh broker and checks everything.
func (s groupScenario) run(t *testing.T) {
	t0 := time.Now()
	t.Cleanup(func() { t.Logf("scenario took %v", time.Since(t0).Round(time.Millisecond)) })
	tb := startBroker(t, "", fastGroups)
	adm := tb.admin()
	createTopic(t, adm, s.topic, int32(s.partitions), nil)
	// Uncompressed: KafkaJS cannot read snappy, franz-go's default.
	producer := tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	produceN(t, producer, s.topic, s.partitions, s.perBatch)

	log := &groupLog{}
	var members []groupClient
	alive := map[string]bool{}
	t.Cleanup(func() {
		for _, m := range members {
			if alive[m.name()] && !m.crash(true) {
				m.leave()
			}
		}
	})
	for i := 0; i < s.members; i++ {
		m := s.start(t, tb, i, log)
		members = append(members, m)
		alive[m.name()] = true
	}

	// All members in, each with its share.
	start := time.Now()
	t.Logf("members started at %v", time.Since(t0).Round(time.Millisecond))
	owners := s.checkShares(t, adm, log, s.members)
	t.Logf("%d members stable after %v: %v", s.members, time.Since(start).Round(time.Millisecond), owners)

	// Second batch; the victim goes while it consumes (or after, if the
	// batch is read before the test sees it).
	batch2 := time.Now()
	produceN(t, producer, s.topic, s.partitions, s.perBatch)
	victim := members[len(members)-1]
	waitFor(t, 30*time.Second, victim.name()+" consuming the second batch", func() bool {
		return log.recordsBy(victim.name(), batch2) > 0 || log.distinct() >= 2*s.partitions*s.perBatch
	})
	gone := time.Now()
	if s.crash {
		if !victim.crash(false) {
			t.Fatalf("%s cannot be killed", victim.name())
		}
		log.add(groupEvent{Member: victim.name(), Kind: "dead"})
	} else {
		// Its ownership ends when it starts leaving: the others may be
		// given its partitions before its client finishes closing.
		log.add(groupEvent{Member: victim.name(), Kind: "left"})
		victim.leave()
	}
	alive[victim.name()] = false
	members = members[:len(members)-1]
	t.Logf("%s went in %v", victim.name(), time.Since(gone).Round(time.Millisecond))
	owners = s.checkShares(t, adm, log, s.members-1)
	if took := time.Since(gone); s.crash && s.sessionTimeout > 0 && (took < s.sessionTimeout/2 || took > s.sessionTimeout+5*time.Second) {
		t.Errorf("the group took %v to drop the killed member, want about its session timeout %v", took, s.sessionTimeout)
	}
	t.Logf("%d members stable %v after %s went: %v", s.members-1, time.Since(gone).Round(time.Millisecond), victim.name(), owners)

	// Third batch, read by the survivors.
	produceN(t, producer, s.topic, s.partitions, s.perBatch)
	total := 3 * s.partitions * s.perBatch
	waitFor(t, 30*time.Second, fmt.Sprintf("all %d records consumed", total), func() bool { return log.distinct() >= total })
	t.Logf("all records consumed at %v", time.Since(t0).Round(time.Millisecond))
	if os.Getenv("CHRONIK_GROUP_TRACE") != "" {
		for _, e := range log.snapshot() {
			if e.Kind != "committed" || os.Getenv("CHRONIK_GROUP_TRACE") == "all" {
				t.Logf("trace %s %s %s %v %d/%d", e.TS.Format("15:04:05.000"), e.Member, e.Kind, e.Parts, e.Partition, e.Offset)
			}
		}
	}
	end := endOffsets(t, tb.client(), s.topic)
	waitCommitted(t, adm, s.group, s.topic, end)

	// Admin view of the group with the survivors in it.
	var names []string
	for _, m := range members {
		names = append(names, m.name())
	}
	checkGroupAdmin(t, adm, s.group, names)

	phase := time.Now()
	for _, m := range members {
		log.add(groupEvent{Member: m.name(), Kind: "left"})
		m.leave()
		alive[m.name()] = false
	}
	t.Logf("survivors left in %v", time.Since(phase).Round(time.Millisecond))
	phase = time.Now()
	deleteEmptyGroup(t, adm, s.group)
	t.Logf("group empty and deleted in %v", time.Since(phase).Round(time.Millisecond))
	log.check(t, end, s.intervals, s.lateCommits)
}

// checkShares waits until the group is Stable with n members owning every
// partition once, checks that the shares are even, and, for members that
// report their assignment, that it is the one the broker describes.
func (s groupScenario) checkShares(t *testing.T, adm *kadm.Client, log *groupLog, n int) map[int32]string {
	t.Helper()
	owners := stableAssignment(t, adm, s.group, s.topic, n, s.partitions)
	dg, err := adm.DescribeGroups(testContext(t), s.group)
	if err != nil {
		t.Fatal(err)
	}
	clientOf := map[string]string{}
	for _, m := range dg[s.group].Members {
		clientOf[m.MemberID] = m.ClientID
	}
	byClient := map[string][]int32{}
	for p, m := range owners {
		byClient[clientOf[m]] = append(byClient[clientOf[m]], p)
	}
	lo, hi := s.partitions/n, (s.partitions+n-1)/n
	for c, ps := range byClient {
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		if len(ps) < lo || len(ps) > hi {
			t.Errorf("member %s owns %v; with %d members each should own %d-%d of %d", c, ps, n, lo, hi, s.partitions)
		}
		// The member's own view, if it reports one, converges to it.
		if _, ok := log.lastAssigned(c); !ok {
			continue
		}
		want := fmt.Sprint(ps)
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, _ := log.lastAssigned(c)
			if fmt.Sprint(got) == want {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("member %s says it owns %v; DescribeGroups says %s", c, got, want)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if len(byClient) != n {
		t.Errorf("partitions owned by %d distinct client ids, want %d: %v", len(byClient), n, byClient)
	}
	return owners
}

// waitCommitted waits until the group's committed offsets for topic are
// end.
func waitCommitted(t *testing.T, adm *kadm.Client, group, topic string, end map[int32]int64) {
	t.Helper()
	var last string
	deadline := time.Now().Add(20 * time.Second)
	for {
		os, err := adm.FetchOffsets(context.Background(), group)
		ok := err == nil
		var got []string
		for p := int32(0); int(p) < len(end); p++ {
			o, found := os.Lookup(topic, p)
			got = append(got, fmt.Sprintf("%d:%d", p, o.At))
			if !found || o.At != end[p] || o.Err != nil {
				ok = false
			}
		}
		if ok {
			return
		}
		last = fmt.Sprintf("%v (err %v)", got, err)
		if time.Now().After(deadline) {
			t.Fatalf("committed offsets of %s stay at %s, want the end offsets %v", group, last, end)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkGroupAdmin checks ListGroups, DescribeGroups and that DeleteGroups
// refuses the group while members are in it.
func checkGroupAdmin(t *testing.T, adm *kadm.Client, group string, clientIDs []string) {
	t.Helper()
	ctx := testContext(t)
	lg, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatalf("ListGroups: %v", err)
	}
	if g, ok := lg[group]; !ok || g.ProtocolType != "consumer" {
		t.Errorf("ListGroups = %v, want %s with protocol type consumer", lg.Groups(), group)
	}
	dg, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatalf("DescribeGroups: %v", err)
	}
	g := dg[group]
	if g.Err != nil || g.State != "Stable" || g.ProtocolType != "consumer" || g.Protocol == "" {
		t.Errorf("DescribeGroups: err %v state %q protocol type %q protocol %q", g.Err, g.State, g.ProtocolType, g.Protocol)
	}
	var got []string
	for _, m := range g.Members {
		got = append(got, m.ClientID)
		if !strings.Contains(m.ClientHost, "127.0.0.1") {
			t.Errorf("member %s (%s) host %q, want the client's address 127.0.0.1", m.MemberID, m.ClientID, m.ClientHost)
		}
		if _, ok := m.Join.AsConsumer(); !ok {
			t.Errorf("member %s metadata does not decode as consumer protocol", m.ClientID)
		}
	}
	sort.Strings(got)
	want := append([]string(nil), clientIDs...)
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("DescribeGroups client ids %v, want %v", got, want)
	}
	// kadm returns the group's error code as the error.
	if _, err := adm.DeleteGroup(ctx, group); !errors.Is(err, kerr.NonEmptyGroup) {
		t.Errorf("DeleteGroups of a group with %d members: %v, want NON_EMPTY_GROUP", len(clientIDs), err)
	}
}

// deleteEmptyGroup waits for the group to be Empty, deletes it and checks
// it and its offsets are gone.
func deleteEmptyGroup(t *testing.T, adm *kadm.Client, group string) {
	t.Helper()
	waitFor(t, 20*time.Second, group+" empty after its members left", func() bool {
		dg, err := adm.DescribeGroups(context.Background(), group)
		return err == nil && dg[group].State == "Empty" && len(dg[group].Members) == 0
	})
	if _, err := adm.DeleteGroup(testContext(t), group); err != nil {
		t.Fatalf("DeleteGroups of the empty group: %v", err)
	}
	lg, err := adm.ListGroups(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lg[group]; ok {
		t.Errorf("ListGroups still lists %s after DeleteGroups", group)
	}
	os, err := adm.FetchOffsets(testContext(t), group)
	if err != nil {
		t.Fatalf("FetchOffsets after DeleteGroups: %v", err)
	}
	os.Each(func(o kadm.OffsetResponse) {
		if o.At >= 0 {
			t.Errorf("offset %s/%d = %d survives DeleteGroups", o.Topic, o.Partition, o.At)
		}
	})
}

// procMember is a member running in another process.
type procMember struct {
	t      *testing.T
	id     string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stop   func(*procMember) // asks it to close; nil: close stdin
	done   chan struct{}
	stderr bytes.Buffer
	errMu  sync.Mutex
}

// startProc starts argv as member id; its JSON lines go to log. spec, if
// not nil, is written to its stdin as one line.
func startProc(t *testing.T, log *groupLog, id string, argv []string, spec any) *procMember {
	t.Helper()
	pm := &procMember{t: t, id: id, done: make(chan struct{})}
	pm.cmd = exec.Command(argv[0], argv[1:]...)
	var err error
	if pm.stdin, err = pm.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := pm.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	pm.cmd.Stderr = lockedWriter{&pm.errMu, &pm.stderr}
	if err := pm.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	if spec != nil {
		b, _ := json.Marshal(spec)
		if _, err := pm.stdin.Write(append(b, '\n')); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		defer close(pm.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev struct {
				Event      string
				TS         float64
				Partitions []int32
				Partition  int32
				Offset     int64
				Value      string
				Error      string
			}
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Logf("%s: %s", id, sc.Text())
				continue
			}
			e := groupEvent{Member: id, Kind: ev.Event, Parts: ev.Partitions, Partition: ev.Partition, Offset: ev.Offset, Value: ev.Value}
			if ev.TS > 0 {
				e.TS = time.UnixMicro(int64(ev.TS * 1000))
			}
			switch ev.Event {
			case "record", "committed", "assigned", "revoked", "replaced":
				log.add(e)
			case "commit_failed":
				log.add(e)
				t.Logf("%s: commit of %d/%d refused: %s", id, ev.Partition, ev.Offset, ev.Error)
			case "error":
				t.Logf("%s reports: %s", id, ev.Error)
			case "versions":
				t.Logf("%s: %s", id, sc.Text())
			}
		}
		_ = pm.cmd.Wait()
	}()
	return pm
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (pm *procMember) name() string { return pm.id }

func (pm *procMember) leave() {
	if pm.stop != nil {
		pm.stop(pm)
	} else {
		_ = pm.stdin.Close()
	}
	select {
	case <-pm.done:
	case <-time.After(20 * time.Second):
		_ = pm.cmd.Process.Kill()
		<-pm.done
		pm.t.Errorf("%s did not exit within 20s of being asked to close; stderr:\n%s", pm.id, pm.stderrText())
		return
	}
	if st := pm.cmd.ProcessState; st != nil && !st.Success() {
		pm.t.Errorf("%s exited with %v; stderr:\n%s", pm.id, st, pm.stderrText())
	} else if os.Getenv("CHRONIK_CLIENTS_LOG") != "" {
		pm.t.Logf("%s stderr:\n%s", pm.id, pm.stderrText())
	}
}

func (pm *procMember) crash(quiet bool) bool {
	_ = pm.cmd.Process.Signal(syscall.SIGKILL)
	<-pm.done
	if !quiet && os.Getenv("CHRONIK_CLIENTS_LOG") != "" {
		pm.t.Logf("%s (killed) stderr:\n%s", pm.id, pm.stderrText())
	}
	return true
}

func (pm *procMember) stderrText() string {
	pm.errMu.Lock()
	defer pm.errMu.Unlock()
	return truncate(pm.stderr.String())
}

// memberSpec is what the scripts read from stdin.
type memberSpec struct {
	Group            string `json:"group"`
	Topic            string `json:"topic"`
	ClientID         string `json:"client_id"`
	SessionTimeoutMs int    `json:"session_timeout_ms"`
	HeartbeatMs      int    `json:"heartbeat_ms"`
	DelayMs          int    `json:"delay_ms"` // per record, to keep members mid-stream
	Strategy         string `json:"strategy,omitempty"`
}

// TestGroupConfluentKafkaPython: three confluent-kafka-python (librdkafka)
// processes share a group; one is killed with SIGKILL mid-consumption and
// the broker must expire it after its session timeout.
func TestGroupConfluentKafkaPython(t *testing.T) {
	py := pythonWith(t, "confluent_kafka")
	script := scriptPath(t, "python/confluent_group_member.py")
	for _, strategy := range []string{"range", "roundrobin", "cooperative-sticky"} {
		t.Run(strategy, func(t *testing.T) {
			groupScenario{
				group: "ck-group", topic: "ck-group-topic", partitions: 6, perBatch: 40, members: 3,
				crash: true, intervals: true, sessionTimeout: 4 * time.Second,
				start: func(t *testing.T, tb *testBroker, i int, log *groupLog) groupClient {
					id := fmt.Sprintf("ck-member-%d", i)
					return startProc(t, log, id, []string{py, script, tb.addr}, memberSpec{
						Group: "ck-group", Topic: "ck-group-topic", ClientID: id,
						SessionTimeoutMs: 4000, HeartbeatMs: 300, DelayMs: 5, Strategy: strategy,
					})
				},
			}.run(t)
		})
	}
}

// TestGroupKafkaPython: kafka-python 2.0.2 KafkaConsumer members, which
// send old group protocol versions, commit each record and one leaves.
func TestGroupKafkaPython(t *testing.T) {
	py := pythonWith(t, "kafka")
	script := scriptPath(t, "python/kafka_python_group_member.py")
	for _, strategy := range []string{"range", "roundrobin"} {
		t.Run(strategy, func(t *testing.T) {
			groupScenario{
				group: "kpy-group", topic: "kpy-group-topic", partitions: 6, perBatch: 30, members: 3,
				intervals: true,
				start: func(t *testing.T, tb *testBroker, i int, log *groupLog) groupClient {
					id := fmt.Sprintf("kpy-member-%d", i)
					return startProc(t, log, id, []string{py, script, tb.addr}, memberSpec{
						Group: "kpy-group", Topic: "kpy-group-topic", ClientID: id,
						SessionTimeoutMs: 6000, HeartbeatMs: 300, DelayMs: 2, Strategy: strategy,
					})
				},
			}.run(t)
		})
	}
}

// TestGroupKafkaJS: three KafkaJS 2.2.4 consumers (one Node process each)
// with eachMessage; one disconnects.
func TestGroupKafkaJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		requireClient(t, "node not installed")
	}
	if _, err := os.Stat(scriptPath(t, "node/node_modules/kafkajs/package.json")); err != nil {
		requireClient(t, "kafkajs not installed: run npm ci --prefix test/clients/node")
	}
	script := scriptPath(t, "node/kafkajs_group_member.js")
	groupScenario{
		group: "kjs-group", topic: "kjs-group-topic", partitions: 6, perBatch: 30, members: 3,
		start: func(t *testing.T, tb *testBroker, i int, log *groupLog) groupClient {
			id := fmt.Sprintf("kjs-member-%d", i)
			return startProc(t, log, id, []string{node, script, tb.addr}, memberSpec{
				Group: "kjs-group", Topic: "kjs-group-topic", ClientID: id,
				SessionTimeoutMs: 6000, HeartbeatMs: 300, DelayMs: 2,
			})
		},
	}.run(t)
}

// TestGroupKcat: kcat -G balanced consumers (librdkafka); one is killed
// with SIGKILL and the other must take over all partitions.
func TestGroupKcat(t *testing.T) {
	kcat := kcatPath(t)
	groupScenario{
		group: "kcat-group", topic: "kcat-group-topic", partitions: 4, perBatch: 25, members: 2,
		crash: true, sessionTimeout: 4 * time.Second,
		start: func(t *testing.T, tb *testBroker, i int, log *groupLog) groupClient {
			id := fmt.Sprintf("kcat-member-%d", i)
			pm := startProc(t, log, id, []string{kcat, "-b", tb.addr, "-G", "kcat-group", "kcat-group-topic",
				"-q", "-u", "-f", `{"event":"record","partition":%p,"offset":%o,"value":"%s"}\n`,
				"-X", "client.id=" + id, "-X", "auto.offset.reset=earliest",
				"-X", "session.timeout.ms=4000", "-X", "heartbeat.interval.ms=300",
				"-X", "auto.commit.interval.ms=100"}, nil)
			// kcat leaves the group (consumer close, final commit) on SIGTERM.
			pm.stop = func(pm *procMember) { _ = pm.cmd.Process.Signal(syscall.SIGTERM) }
			return pm
		},
	}.run(t)
}
