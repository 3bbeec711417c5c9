package offsets

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func open(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustCommit(t testing.TB, s *Store, group string, offs map[TP]Committed) {
	t.Helper()
	if err := s.Commit(group, offs); err != nil {
		t.Fatal(err)
	}
}

func sameCommitted(a, b Committed) bool {
	return a.Offset == b.Offset && a.LeaderEpoch == b.LeaderEpoch && a.Metadata == b.Metadata &&
		a.CommitTime.Equal(b.CommitTime) && a.ExpireTime.Equal(b.ExpireTime)
}

func TestCommitFetchReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ct := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	et := ct.Add(time.Hour)
	want := map[string]map[TP]Committed{
		"g1": {
			{"orders", 0}:  {Offset: 42, LeaderEpoch: 3, Metadata: "meta", CommitTime: ct},
			{"orders", 1}:  {Offset: 7, LeaderEpoch: -1, CommitTime: ct, ExpireTime: et},
			{"orders2", 0}: {Offset: 0, LeaderEpoch: 0, Metadata: strings.Repeat("x", 5000), CommitTime: ct},
		},
		"g2": {{"orders", 0}: {Offset: 1, LeaderEpoch: -1, CommitTime: ct}},
	}
	for g, offs := range want {
		mustCommit(t, s, g, offs)
	}
	// Overwrite one, and commit with a zero CommitTime (filled in).
	before := time.Now()
	mustCommit(t, s, "g2", map[TP]Committed{{"orders", 0}: {Offset: 5, LeaderEpoch: 1}})
	got, ok := s.Fetch("g2", TP{"orders", 0})
	if !ok || got.Offset != 5 || got.CommitTime.Before(before.Truncate(time.Nanosecond)) || got.CommitTime.After(time.Now()) {
		t.Fatalf("Fetch after overwrite = %+v, %v", got, ok)
	}
	want["g2"][TP{"orders", 0}] = got

	check := func(s *Store) {
		t.Helper()
		if gs := s.Groups(); !slices.Equal(gs, []string{"g1", "g2"}) {
			t.Errorf("Groups() = %v", gs)
		}
		for g, offs := range want {
			all := s.FetchGroup(g)
			if len(all) != len(offs) {
				t.Errorf("FetchGroup(%s) has %d offsets, want %d", g, len(all), len(offs))
			}
			for tp, w := range offs {
				c, ok := s.Fetch(g, tp)
				if !ok || !sameCommitted(c, w) {
					t.Errorf("Fetch(%s, %v) = %+v, %v; want %+v", g, tp, c, ok, w)
				}
				if !sameCommitted(all[tp], w) {
					t.Errorf("FetchGroup(%s)[%v] = %+v, want %+v", g, tp, all[tp], w)
				}
			}
		}
		if _, ok := s.Fetch("g1", TP{"orders", 9}); ok {
			t.Error("Fetch of an uncommitted partition succeeded")
		}
		if _, ok := s.Fetch("nope", TP{"orders", 0}); ok {
			t.Error("Fetch of an unknown group succeeded")
		}
		if m := s.FetchGroup("nope"); m != nil {
			t.Errorf("FetchGroup(unknown) = %v", m)
		}
	}
	check(s)

	// FetchGroup returns a copy.
	m := s.FetchGroup("g1")
	m[TP{"orders", 0}] = Committed{Offset: -100}
	if c, _ := s.Fetch("g1", TP{"orders", 0}); c.Offset != 42 {
		t.Error("modifying FetchGroup's result changed the store")
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit("g1", map[TP]Committed{{"t", 0}: {}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Commit after Close: %v", err)
	}
	check(open(t, dir))
}

func TestEmptyGroupRejected(t *testing.T) {
	s := open(t, t.TempDir())
	if err := s.Commit("", map[TP]Committed{{"t", 0}: {}}); !errors.Is(err, ErrEmptyGroup) {
		t.Errorf("Commit(\"\") = %v", err)
	}
	if err := s.Commit("g", nil); err != nil {
		t.Errorf("empty Commit: %v", err)
	}
	if len(s.Groups()) != 0 {
		t.Error("an empty commit created a group")
	}
}

func TestCrashCopy(t *testing.T) {
	// Copy the file while the store is open, right after Commit returned:
	// that is what a crash leaves on disk (the page cache is the file).
	dir := t.TempDir()
	s := open(t, dir)
	for i := range 50 {
		mustCommit(t, s, fmt.Sprintf("g%d", i%5), map[TP]Committed{{"t", int32(i % 3)}: {Offset: int64(i)}})
	}
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	crashed := t.TempDir()
	if err := os.WriteFile(filepath.Join(crashed, FileName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	c := open(t, crashed)
	for g := range 5 {
		for p := range 3 {
			want, _ := s.Fetch(fmt.Sprintf("g%d", g), TP{"t", int32(p)})
			got, ok := c.Fetch(fmt.Sprintf("g%d", g), TP{"t", int32(p)})
			if !ok || got.Offset != want.Offset {
				t.Errorf("g%d t/%d after crash: %+v, %v; want offset %d", g, p, got, ok, want.Offset)
			}
		}
	}
}

// TestKill9 commits from a child process that is then killed with SIGKILL
// right after reporting the commit, and checks the offsets on reopen.
func TestKill9(t *testing.T) {
	if dir := os.Getenv("OFFSETS_KILL_CHILD_DIR"); dir != "" {
		s, err := Open(dir, nil)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		for i := int64(1); ; i++ {
			if err := s.Commit("g", map[TP]Committed{{"t", 0}: {Offset: i}}); err != nil {
				fmt.Println("error:", err)
				os.Exit(1)
			}
			fmt.Println(i) // acknowledged
		}
	}
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$")
	cmd.Env = append(os.Environ(), "OFFSETS_KILL_CHILD_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked int64
	buf := make([]byte, 64<<10)
	var all []byte
	for acked < 100 {
		n, err := out.Read(buf)
		all = append(all, buf[:n]...)
		if err != nil {
			t.Fatalf("child: %v, output %q", err, all)
		}
		lines := strings.Split(strings.TrimSpace(string(all)), "\n")
		// The last complete line is the latest acknowledged commit.
		if strings.HasSuffix(string(all), "\n") {
			fmt.Sscan(lines[len(lines)-1], &acked)
		}
	}
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()
	s := open(t, dir)
	c, ok := s.Fetch("g", TP{"t", 0})
	if !ok || c.Offset < acked {
		t.Fatalf("after kill -9: %+v, %v; want offset >= %d (acknowledged)", c, ok, acked)
	}
	t.Logf("acknowledged %d, recovered %d", acked, c.Offset)
}

func TestConcurrentCommitsGroupCommit(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	const workers, per = 32, 20
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				offs := map[TP]Committed{
					{"t", int32(w)}:   {Offset: int64(i)},
					{"shared", 0}:     {Offset: int64(w*per + i)},
					{"t", int32(100)}: {Offset: int64(i), Metadata: "m"},
				}
				if err := s.Commit(fmt.Sprintf("g%d", w%4), offs); err != nil {
					t.Error(err)
					return
				}
				if c, ok := s.Fetch(fmt.Sprintf("g%d", w%4), TP{"t", int32(w)}); !ok || c.Offset != int64(i) {
					t.Errorf("worker %d read %+v, %v after committing %d", w, c, ok, i)
				}
			}
		})
	}
	wg.Wait()
	calls := int64(workers * per)
	txs := s.commitTxs()
	t.Logf("%d commits in %d transactions", calls, txs)
	if txs > calls/3 {
		t.Errorf("%d commits used %d transactions; want group commit to share them", calls, txs)
	}
	// Memory agrees with disk, including the contended partitions.
	mem := map[string]map[TP]Committed{}
	for _, g := range s.Groups() {
		mem[g] = s.FetchGroup(g)
	}
	for w := range workers {
		if c, _ := s.Fetch(fmt.Sprintf("g%d", w%4), TP{"t", int32(w)}); c.Offset != per-1 {
			t.Errorf("worker %d's partition at %d, want %d", w, c.Offset, per-1)
		}
	}
	s.Close()
	r := open(t, dir)
	for g, offs := range mem {
		for tp, c := range offs {
			if d, ok := r.Fetch(g, tp); !ok || !sameCommitted(c, d) {
				t.Errorf("%s %v: memory had %+v, disk has %+v", g, tp, c, d)
			}
		}
	}
}

func TestDeletes(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	for _, g := range []string{"a", "b", "c"} {
		mustCommit(t, s, g, map[TP]Committed{
			{"x", 0}: {Offset: 1}, {"x", 1}: {Offset: 2}, {"y", 0}: {Offset: 3}, {"xx", 0}: {Offset: 4},
		})
	}
	mustCommit(t, s, "only-x", map[TP]Committed{{"x", 0}: {Offset: 1}})

	if err := s.DeleteTopic("x"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteOffsets("b", []TP{{"y", 0}, {"nope", 3}}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteOffsets("missing-group", []TP{{"y", 0}}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroup("c"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroup("missing-group"); err != nil {
		t.Fatal(err)
	}
	check := func(s *Store) {
		t.Helper()
		if gs := s.Groups(); !slices.Equal(gs, []string{"a", "b"}) {
			t.Errorf("Groups() = %v, want [a b] (c deleted, only-x emptied)", gs)
		}
		want := map[string][]TP{"a": {{"xx", 0}, {"y", 0}}, "b": {{"xx", 0}}}
		for g, tps := range want {
			got := s.FetchGroup(g)
			keys := make([]TP, 0, len(got))
			for tp := range got {
				keys = append(keys, tp)
			}
			slices.SortFunc(keys, func(a, b TP) int { return strings.Compare(a.Topic, b.Topic) })
			if !slices.Equal(keys, tps) {
				t.Errorf("group %s has %v, want %v", g, keys, tps)
			}
		}
	}
	check(s)
	s.Close()
	check(open(t, dir))
}

func TestExpire(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	now := time.Now()
	old := now.Add(-8 * 24 * time.Hour)
	recent := now.Add(-time.Hour)
	for _, g := range []string{"empty", "active"} {
		mustCommit(t, s, g, map[TP]Committed{
			{"t", 0}: {Offset: 1, CommitTime: old},                                       // old: expires if empty
			{"t", 1}: {Offset: 1, CommitTime: recent},                                    // recent: stays
			{"t", 2}: {Offset: 1, CommitTime: recent, ExpireTime: now.Add(-time.Minute)}, // explicit, past: always expires
			{"t", 3}: {Offset: 1, CommitTime: old, ExpireTime: now.Add(time.Hour)},       // explicit, future: stays
			{"t", 4}: {Offset: 1, CommitTime: now.Add(-7 * 24 * time.Hour)},              // exactly retention: expires if empty
		})
	}
	mustCommit(t, s, "all-old", map[TP]Committed{{"t", 0}: {Offset: 1, CommitTime: old}})
	isEmpty := func(g string) bool { return g != "active" }

	removed := s.Expire(now, 7*24*time.Hour, isEmpty)
	if removed != 3+1+1 {
		t.Errorf("Expire removed %d, want 5", removed)
	}
	want := map[string][]int32{"empty": {1, 3}, "active": {0, 1, 3, 4}}
	check := func(s *Store) {
		t.Helper()
		if gs := s.Groups(); !slices.Equal(gs, []string{"active", "empty"}) {
			t.Errorf("Groups() = %v", gs)
		}
		for g, ps := range want {
			var got []int32
			for tp := range s.FetchGroup(g) {
				got = append(got, tp.Partition)
			}
			slices.Sort(got)
			if !slices.Equal(got, ps) {
				t.Errorf("group %s keeps partitions %v, want %v", g, got, ps)
			}
		}
	}
	check(s)
	if n := s.Expire(now, 7*24*time.Hour, isEmpty); n != 0 {
		t.Errorf("second Expire removed %d", n)
	}
	// retention <= 0: only explicit expire times count.
	if n := s.Expire(now.Add(2*time.Hour), 0, nil); n != 2 {
		t.Errorf("Expire with retention 0 removed %d, want the 2 explicit ones", n)
	}
	want = map[string][]int32{"empty": {1}, "active": {0, 1, 4}}
	s.Close()
	check(open(t, dir))
}

func TestValueEncoding(t *testing.T) {
	c := Committed{Offset: -1, LeaderEpoch: -1, Metadata: "", CommitTime: time.Unix(0, 1)}
	d, err := decodeValue(encodeValue(c))
	if err != nil || !sameCommitted(c, d) || !d.ExpireTime.IsZero() {
		t.Errorf("round trip: %+v, %v", d, err)
	}
	if _, err := decodeValue([]byte{2, 0}); err == nil || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("unknown version: %v", err)
	}
	if _, err := decodeValue([]byte{1, 0, 0}); err == nil {
		t.Error("short value accepted")
	}
	tp := TP{"a.b-c_d", 2147483647}
	if got, err := decodeKey(encodeKey(tp)); err != nil || got != tp {
		t.Errorf("key round trip: %v, %v", got, err)
	}
}

// BenchmarkCommit16 commits one offset per call from 16 goroutines, as 16
// consumers committing at once would.
func BenchmarkCommit16(b *testing.B) {
	s := open(b, b.TempDir())
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	var id atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := id.Add(1)
		g := fmt.Sprintf("group-%d", w)
		var i int64
		for pb.Next() {
			i++
			if err := s.Commit(g, map[TP]Committed{{"bench", int32(w)}: {Offset: i}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/float64(max(1, s.commitTxs())), "commits/tx")
}
