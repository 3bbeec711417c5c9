package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

type consumeOpts struct {
	partitions []int32
	offset     string
	fromTime   string
	num        int
	exit       bool
	follow     bool
	format     string
	template   string
	group      string
	isolation  string
}

func newConsumeCmd(env []string) *cobra.Command {
	o := &adminOpts{}
	var c consumeOpts
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print a topic's records",
		Long: `Print the records of a topic, like kcat -C or rpk topic consume, from every
partition (or those given with -p), starting where -o or --from-time says,
and waiting for new records until Ctrl-C (exit status 0), -n records have
been printed, or, with -e, the end of every partition is reached (the end
as it was when the command started).

Start (-o): earliest (the default; also beginning, start), latest (also
end: only new records), N (offset N, kept within the partition's range),
-N (N records before the end), +N (N records after the start). --from-time
starts at the first record at or after a time (RFC 3339 or Unix
milliseconds).

Formats (-f): value (each value on a line), json (one object per line:
topic, partition, offset, timestamp, key, value, headers; a key, value or
header value that is not UTF-8 is base64 with a "..._encoding": "base64"
field), hex (each value hex-encoded on a line). --format-template prints
kcat-style templates instead: %t topic, %p partition, %o offset, %k key,
%v value, %T timestamp (Unix ms), %h headers (k=v,...), %K and %V key and
value lengths, %% a percent sign; \n, \t, \r, \\ and \0 are understood.

With -g the command consumes as a member of a consumer group: the group
assigns the partitions (so -p is not allowed), committed offsets say where
to start (-o and --from-time apply to partitions without one), and the
offsets of the printed records are committed.

Exit status: 0 when done or interrupted, 1 when the topic does not exist or
fetching fails, 2 on usage errors.`,
		Example: `  chronik consume orders -e                      # everything so far, then exit
  chronik consume orders -o -10 -e -f json       # the last 10 of each partition, as JSON
  chronik consume orders -p 0,2 -o latest        # follow new records of partitions 0 and 2
  chronik consume orders --from-time 2024-05-01T12:00:00Z -n 100
  chronik consume orders -g billing -f json      # as a member of group billing
  chronik consume orders -e --format-template '%p/%o %k=%v\n'`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.run(cmd, o, args[0])
		},
	}
	o.addFlags(cmd, env)
	f := cmd.Flags()
	f.Int32SliceVarP(&c.partitions, "partition", "p", nil, "`partitions` to read (repeatable or comma-separated; default all)")
	f.Lookup("partition").DefValue = "" // not "[]" in the help
	f.StringVarP(&c.offset, "offset", "o", "earliest", "where to start: earliest, latest, N, -N (before the end) or +N (after the start)")
	f.StringVar(&c.fromTime, "from-time", "", "start at the first record at or after this time (RFC 3339 or Unix ms)")
	f.IntVarP(&c.num, "num", "n", 0, "exit after printing this many records (0 = no limit)")
	f.BoolVarP(&c.exit, "exit", "e", false, "exit at the end of the partitions instead of waiting for records")
	f.BoolVar(&c.follow, "follow", true, "wait for new records at the end of the partitions (--follow=false is -e)")
	f.StringVarP(&c.format, "format", "f", "value", "output format: value, json or hex")
	f.StringVar(&c.template, "format-template", "", `kcat-style output template, e.g. '%t %p %o %k %v\n'`)
	f.StringVarP(&c.group, "group", "g", "", "consume as a member of this consumer group, committing offsets")
	f.StringVar(&c.isolation, "isolation", "read_uncommitted", "read_uncommitted, or read_committed to skip aborted and open transactions")
	return cmd
}

// startSpec is a parsed -o or --from-time.
type startSpec struct {
	kind string // earliest, latest, exact, fromEnd, fromStart, time
	n    int64  // the offset, count or Unix milliseconds
}

func parseOffsetSpec(s string) (startSpec, error) {
	switch strings.ToLower(s) {
	case "earliest", "beginning", "start", "oldest":
		return startSpec{kind: "earliest"}, nil
	case "latest", "end", "newest":
		return startSpec{kind: "latest"}, nil
	}
	kind := "exact"
	digits := s
	switch {
	case strings.HasPrefix(s, "-"):
		kind, digits = "fromEnd", s[1:]
	case strings.HasPrefix(s, "+"):
		kind, digits = "fromStart", s[1:]
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 0 || digits == "" || digits[0] == '+' || digits[0] == '-' {
		return startSpec{}, fmt.Errorf("--offset %q: want earliest, latest, an offset N, -N or +N", s)
	}
	return startSpec{kind: kind, n: n}, nil
}

// parseTime reads RFC 3339 or Unix milliseconds.
func parseTime(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither RFC 3339 (2006-01-02T15:04:05Z07:00) nor Unix milliseconds", s)
	}
	return t.UnixMilli(), nil
}

// kgoOffset is where a group member starts in a partition without a
// committed offset.
func (s startSpec) kgoOffset() kgo.Offset {
	switch s.kind {
	case "latest":
		return kgo.NewOffset().AtEnd()
	case "exact":
		return kgo.NewOffset().At(s.n)
	case "fromEnd":
		return kgo.NewOffset().AtEnd().Relative(-s.n)
	case "fromStart":
		return kgo.NewOffset().AtStart().Relative(s.n)
	case "time":
		return kgo.NewOffset().AfterMilli(s.n)
	}
	return kgo.NewOffset().AtStart()
}

// recordFormatter writes one record.
type recordFormatter func(w *bufio.Writer, r *kgo.Record) error

func newFormatter(format, template string) (recordFormatter, error) {
	if template != "" {
		t, err := unescape(template)
		if err != nil {
			return nil, fmt.Errorf("--format-template: %w", err)
		}
		return templateFormatter(t)
	}
	switch format {
	case "value":
		return func(w *bufio.Writer, r *kgo.Record) error {
			w.Write(r.Value)
			return w.WriteByte('\n')
		}, nil
	case "hex":
		return func(w *bufio.Writer, r *kgo.Record) error {
			w.WriteString(hex.EncodeToString(r.Value))
			return w.WriteByte('\n')
		}, nil
	case "json":
		return jsonFormatter, nil
	}
	return nil, fmt.Errorf("--format %q: want value, json or hex (or use --format-template)", format)
}

// jsonRecord is a record in the json format.
type jsonRecord struct {
	Topic         string       `json:"topic"`
	Partition     int32        `json:"partition"`
	Offset        int64        `json:"offset"`
	Timestamp     string       `json:"timestamp"`
	Key           *string      `json:"key"`
	KeyEncoding   string       `json:"key_encoding,omitempty"`
	Value         *string      `json:"value"`
	ValueEncoding string       `json:"value_encoding,omitempty"`
	Headers       []jsonHeader `json:"headers"`
}

type jsonHeader struct {
	Key           string  `json:"key"`
	Value         *string `json:"value"`
	ValueEncoding string  `json:"value_encoding,omitempty"`
}

// textOrBase64 renders bytes as a JSON string: as is when UTF-8, else
// base64 (encoding "base64"). nil is null.
func textOrBase64(b []byte) (s *string, encoding string) {
	if b == nil {
		return nil, ""
	}
	if utf8.Valid(b) {
		v := string(b)
		return &v, ""
	}
	v := base64.StdEncoding.EncodeToString(b)
	return &v, "base64"
}

func jsonFormatter(w *bufio.Writer, r *kgo.Record) error {
	jr := jsonRecord{
		Topic:     r.Topic,
		Partition: r.Partition,
		Offset:    r.Offset,
		Timestamp: r.Timestamp.UTC().Format(time.RFC3339Nano),
		Headers:   []jsonHeader{},
	}
	jr.Key, jr.KeyEncoding = textOrBase64(r.Key)
	jr.Value, jr.ValueEncoding = textOrBase64(r.Value)
	for _, h := range r.Headers {
		jh := jsonHeader{Key: h.Key}
		jh.Value, jh.ValueEncoding = textOrBase64(h.Value)
		jr.Headers = append(jr.Headers, jh)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(jr) // with a newline
}

// templateFormatter compiles a kcat-style template.
func templateFormatter(t string) (recordFormatter, error) {
	type part func(w *bufio.Writer, r *kgo.Record)
	var parts []part
	lit := func(s string) part { return func(w *bufio.Writer, _ *kgo.Record) { w.WriteString(s) } }
	var text strings.Builder
	for i := 0; i < len(t); i++ {
		if t[i] != '%' {
			text.WriteByte(t[i])
			continue
		}
		if i+1 == len(t) {
			return nil, errors.New(`--format-template ends with a lone "%"`)
		}
		i++
		var p part
		switch t[i] {
		case '%':
			text.WriteByte('%')
			continue
		case 't':
			p = func(w *bufio.Writer, r *kgo.Record) { w.WriteString(r.Topic) }
		case 'p':
			p = func(w *bufio.Writer, r *kgo.Record) { w.WriteString(strconv.Itoa(int(r.Partition))) }
		case 'o':
			p = func(w *bufio.Writer, r *kgo.Record) { w.WriteString(strconv.FormatInt(r.Offset, 10)) }
		case 'k':
			p = func(w *bufio.Writer, r *kgo.Record) { w.Write(r.Key) }
		case 'v', 's':
			p = func(w *bufio.Writer, r *kgo.Record) { w.Write(r.Value) }
		case 'K':
			p = func(w *bufio.Writer, r *kgo.Record) { w.WriteString(lengthOrNull(r.Key)) }
		case 'V', 'S':
			p = func(w *bufio.Writer, r *kgo.Record) { w.WriteString(lengthOrNull(r.Value)) }
		case 'T':
			p = func(w *bufio.Writer, r *kgo.Record) { w.WriteString(strconv.FormatInt(r.Timestamp.UnixMilli(), 10)) }
		case 'h':
			p = func(w *bufio.Writer, r *kgo.Record) {
				for i, h := range r.Headers {
					if i > 0 {
						w.WriteByte(',')
					}
					w.WriteString(h.Key)
					w.WriteByte('=')
					w.Write(h.Value)
				}
			}
		default:
			return nil, fmt.Errorf("--format-template: unknown directive %%%c (want %%t %%p %%o %%k %%v %%T %%h %%K %%V or %%%%)", t[i])
		}
		if text.Len() > 0 {
			parts = append(parts, lit(text.String()))
			text.Reset()
		}
		parts = append(parts, p)
	}
	if text.Len() > 0 {
		parts = append(parts, lit(text.String()))
	}
	return func(w *bufio.Writer, r *kgo.Record) error {
		for _, p := range parts {
			p(w, r)
		}
		return nil
	}, nil
}

func lengthOrNull(b []byte) string {
	if b == nil {
		return "-1"
	}
	return strconv.Itoa(len(b))
}

// endTracker knows, for -e, where each partition being read ends and how
// far it has been read.
type endTracker struct {
	mu       sync.Mutex
	ends     map[int32]int64 // end offsets when the command started
	next     map[int32]int64 // next offset to read, per partition read
	assigned bool            // partitions have been assigned
}

// set starts tracking partition p at offset next.
func (t *endTracker) set(p int32, next int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next[p] = next
	t.assigned = true
}

func (t *endTracker) drop(ps []int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range ps {
		delete(t.next, p)
	}
}

// advance records that partition p was read up to offset next and reports
// whether offset next-1 was within the end.
func (t *endTracker) advance(p int32, next int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n, ok := t.next[p]; ok && next > n {
		t.next[p] = next
	}
	end, ok := t.ends[p]
	return !ok || next <= end
}

// done reports whether every partition being read has reached its end.
func (t *endTracker) done() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.assigned {
		return false
	}
	for p, n := range t.next {
		if n < t.ends[p] {
			return false
		}
	}
	return true
}

// offsetBounds are a topic's start and end offsets, per partition.
type offsetBounds struct {
	starts, ends map[int32]int64
}

func listBounds(ctx context.Context, adm *kadm.Client, topic string, readCommitted bool) (offsetBounds, error) {
	b := offsetBounds{starts: map[int32]int64{}, ends: map[int32]int64{}}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return b, fmt.Errorf("cannot list the start offsets of %q: %w", topic, err)
	}
	list := adm.ListEndOffsets
	if readCommitted {
		list = adm.ListCommittedOffsets // the last stable offsets
	}
	ends, err := list(ctx, topic)
	if err != nil {
		return b, fmt.Errorf("cannot list the end offsets of %q: %w", topic, err)
	}
	for _, lo := range []struct {
		lo kadm.ListedOffsets
		m  map[int32]int64
	}{{starts, b.starts}, {ends, b.ends}} {
		if err := lo.lo.Error(); err != nil {
			return b, fmt.Errorf("cannot list the offsets of %q: %w", topic, err)
		}
		lo.lo.Each(func(o kadm.ListedOffset) { lo.m[o.Partition] = o.Offset })
	}
	return b, nil
}

// resolve turns spec into an offset of each partition, within the
// partition's range; it reports when an explicit offset had to be moved.
func (s startSpec) resolve(ctx context.Context, adm *kadm.Client, topic string, b offsetBounds, ps []int32, warn func(string)) (map[int32]int64, error) {
	var byTime map[int32]int64
	if s.kind == "time" {
		lo, err := adm.ListOffsetsAfterMilli(ctx, s.n, topic)
		if err == nil {
			err = lo.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("cannot look up offsets by time in %q: %w", topic, err)
		}
		byTime = map[int32]int64{}
		lo.Each(func(o kadm.ListedOffset) { byTime[o.Partition] = o.Offset })
	}
	out := make(map[int32]int64, len(ps))
	for _, p := range ps {
		start, end := b.starts[p], b.ends[p]
		var at int64
		switch s.kind {
		case "earliest":
			at = start
		case "latest":
			at = end
		case "exact":
			at = min(max(s.n, start), end)
			if at != s.n {
				warn(fmt.Sprintf("partition %d holds offsets %d to %d: starting at %d", p, start, end, at))
			}
		case "fromEnd":
			at = max(end-s.n, start)
		case "fromStart":
			at = min(start+s.n, end)
		case "time":
			var ok bool
			if at, ok = byTime[p]; !ok || at < 0 || at > end {
				at = end // no record at or after the time
			}
			at = max(at, start)
		}
		out[p] = at
	}
	return out, nil
}

func (c *consumeOpts) run(cmd *cobra.Command, o *adminOpts, topic string) error {
	// Check the command line before connecting.
	flags := cmd.Flags()
	spec, err := parseOffsetSpec(c.offset)
	if err != nil {
		return usageError(cmd, err)
	}
	if c.fromTime != "" {
		if flags.Changed("offset") {
			return usageError(cmd, errors.New("--offset and --from-time exclude each other"))
		}
		ms, err := parseTime(c.fromTime)
		if err != nil {
			return usageError(cmd, fmt.Errorf("--from-time %w", err))
		}
		spec = startSpec{kind: "time", n: ms}
	}
	if c.num < 0 {
		return usageError(cmd, fmt.Errorf("--num must be >= 0, got %d", c.num))
	}
	if c.exit && flags.Changed("follow") && c.follow {
		return usageError(cmd, errors.New("--exit and --follow exclude each other"))
	}
	exitAtEnd := c.exit || !c.follow
	if c.template != "" && flags.Changed("format") {
		return usageError(cmd, errors.New("--format and --format-template exclude each other"))
	}
	format, err := newFormatter(c.format, c.template)
	if err != nil {
		return usageError(cmd, err)
	}
	var readCommitted bool
	switch c.isolation {
	case "read_uncommitted":
	case "read_committed":
		readCommitted = true
	default:
		return usageError(cmd, fmt.Errorf("--isolation %q: want read_uncommitted or read_committed", c.isolation))
	}
	for _, p := range c.partitions {
		if p < 0 {
			return usageError(cmd, fmt.Errorf("--partition must be >= 0, got %d", p))
		}
	}
	if c.group != "" && len(c.partitions) > 0 {
		return usageError(cmd, errors.New("--partition and --group exclude each other: the group assigns the partitions"))
	}

	// Look the topic up with a short-lived client, then consume with one
	// configured for the partitions and starting offsets found.
	ctx := cmd.Context()
	var warnMu sync.Mutex // group callbacks warn from another goroutine
	warn := func(msg string) {
		warnMu.Lock()
		defer warnMu.Unlock()
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", msg)
	}
	ends := map[int32]int64{}
	var starts map[int32]int64
	var bounds offsetBounds
	err = o.withAdmin(cmd, func(ctx context.Context, adm *kadm.Client) error {
		details, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return fmt.Errorf("cannot look up topic %q: %w", topic, err)
		}
		t, ok := details[topic]
		if !ok || errors.Is(t.Err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("topic %q does not exist", topic)
		}
		if t.Err != nil {
			return fmt.Errorf("cannot look up topic %q: %w", topic, t.Err)
		}
		ps := c.partitions
		if len(ps) == 0 {
			ps = t.Partitions.Numbers()
		}
		slices.Sort(ps)
		ps = slices.Compact(ps)
		for _, p := range ps {
			if _, ok := t.Partitions[p]; !ok {
				return fmt.Errorf("topic %q has no partition %d (it has %s)", topic, p, plural(int64(len(t.Partitions)), "partition"))
			}
		}
		if bounds, err = listBounds(ctx, adm, topic, readCommitted); err != nil {
			return err
		}
		for _, p := range ps {
			ends[p] = bounds.ends[p]
		}
		if c.group == "" {
			starts, err = spec.resolve(ctx, adm, topic, bounds, ps, warn)
		}
		return err
	})
	if err != nil {
		return err
	}

	tracker := &endTracker{ends: ends, next: map[int32]int64{}}
	opts := []kgo.Opt{kgo.KeepControlRecords()}
	if readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	if c.group == "" {
		offsets := make(map[int32]kgo.Offset, len(starts))
		for p, at := range starts {
			offsets[p] = kgo.NewOffset().At(at)
			tracker.set(p, at)
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	} else {
		opts = append(opts,
			kgo.ConsumerGroup(c.group),
			kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(spec.kgoOffset()),
			kgo.AutoCommitMarks(),
			kgo.OnPartitionsAssigned(func(ctx context.Context, cl *kgo.Client, assigned map[string][]int32) {
				if !exitAtEnd {
					return
				}
				// For -e: where the group starts in each new
				// partition, its committed offset, else where -o says.
				ps := assigned[topic]
				adm := kadm.NewClient(cl)
				committed, err := adm.FetchOffsetsForTopics(ctx, c.group, topic)
				if err == nil {
					err = committed.Error()
				}
				var uncommitted []int32
				for _, p := range ps {
					if err == nil {
						if oc, ok := committed.Lookup(topic, p); ok && oc.At >= 0 {
							tracker.set(p, oc.At)
							continue
						}
					}
					uncommitted = append(uncommitted, p)
				}
				if err != nil {
					warn(fmt.Sprintf("cannot fetch the committed offsets of group %s: %v", c.group, err))
				}
				if len(uncommitted) == 0 {
					return
				}
				at, err := spec.resolve(ctx, adm, topic, bounds, uncommitted, func(string) {})
				for _, p := range uncommitted {
					if err != nil {
						tracker.set(p, -1) // unknown: wait for records
						continue
					}
					tracker.set(p, at[p])
				}
			}),
			kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
				if err := cl.CommitMarkedOffsets(ctx); err != nil && ctx.Err() == nil {
					warn(fmt.Sprintf("cannot commit offsets: %v", err))
				}
				tracker.drop(revoked[topic])
			}),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
				tracker.drop(lost[topic])
			}),
		)
	}
	cl, err := o.newClient(cmd, opts...)
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			cl.Close()
		}
	}()

	w := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
	printed := 0
	var fetchErr error
consume:
	for {
		if c.num > 0 && printed >= c.num || exitAtEnd && tracker.done() {
			break
		}
		pollCtx := ctx
		var cancel context.CancelFunc = func() {}
		if exitAtEnd && c.group != "" {
			// A partition of the group is only known to be done
			// once assigned: look again now and then.
			pollCtx, cancel = context.WithTimeout(ctx, 250*time.Millisecond)
		}
		fs := cl.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil {
			break // Ctrl-C
		}
		for _, fe := range fs.Errors() {
			var dl *kgo.ErrDataLoss
			switch {
			case errors.Is(fe.Err, context.DeadlineExceeded), errors.Is(fe.Err, context.Canceled):
			case errors.As(fe.Err, &dl):
				warn(dl.Error())
			case errors.Is(fe.Err, kgo.ErrClientClosed):
				break consume
			default:
				fetchErr = fmt.Errorf("cannot fetch %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
				break consume
			}
		}
		iter := fs.RecordIter()
		for !iter.Done() {
			r := iter.Next()
			within := tracker.advance(r.Partition, r.Offset+1)
			if r.Attrs.IsControl() || exitAtEnd && !within {
				if c.group != "" && within {
					cl.MarkCommitRecords(r)
				}
				continue
			}
			if err := format(w, r); err != nil {
				return err
			}
			printed++
			if c.group != "" {
				cl.MarkCommitRecords(r)
			}
			if c.num > 0 && printed >= c.num {
				break
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if c.group != "" {
		commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.timeout)
		defer cancel()
		if err := cl.CommitMarkedOffsets(commitCtx); err != nil && fetchErr == nil {
			fetchErr = fmt.Errorf("cannot commit the offsets of group %s: %w", c.group, err)
		}
	}
	cl.Close()
	closed = true
	return o.hint(fetchErr)
}
