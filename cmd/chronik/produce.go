package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-streaming/chronik/bench"
)

// maxLineBytes bounds one record of the input: a longer one means the
// delimiter is probably wrong.
const maxLineBytes = 64 << 20

type produceOpts struct {
	file        string
	delim       string
	keyDelim    string
	key         string
	headers     []string
	partition   int32
	compression string
	acks        string
	progress    bool
}

func newProduceCmd(env []string) *cobra.Command {
	o := &adminOpts{}
	var p produceOpts
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce records read from stdin or a file, one per line",
		Long: `Produce records to a topic, like kcat -P or rpk topic produce. Each line of
standard input (or of --file) is one record's value; --delim changes the
separator. A final separator at the end of the input does not start another
record; an empty line is a record with an empty value.

Keys: none by default (the partitioner then spreads records); -k gives every
record the same key; --key-delim splits each line into key and value at the
first occurrence of the delimiter (a line without it has no key). Records
with the same key go to the same partition unless -p names one.

With --file and a terminal on stderr (or --progress), a progress bar shows
the bytes read and records per second. At the end, "produced N records to
TOPIC" is printed on stderr. Ctrl-C stops reading; the records already read
are still delivered.

Exit status: 0 when every record was acknowledged (with --acks 0: sent),
1 when the topic does not exist or any record failed (the count and the
first error are printed), 2 on usage errors.`,
		Example: `  echo hello | chronik produce demo
  chronik produce orders --file orders.jsonl --compression zstd
  printf 'k1:v1\nk2:v2\n' | chronik produce demo --key-delim :
  chronik produce demo -k user-42 -H source=cli -H trace=abc -p 0 < events.txt
  chronik produce demo --delim '\0' --file records.bin`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return p.run(cmd, o, args[0])
		},
	}
	o.addFlags(cmd, env)
	f := cmd.Flags()
	f.StringVar(&p.file, "file", "", "read records from this `path` instead of stdin (\"-\" = stdin)")
	f.StringVar(&p.delim, "delim", `\n`, "record `separator` (default: newline); escapes \\n \\r \\t \\0 \\\\ and \\xNN are understood")
	f.Lookup("delim").DefValue = "" // said above, unquoted
	f.StringVar(&p.keyDelim, "key-delim", "", "split each record into key and value at the first occurrence of this `separator` (escapes as --delim)")
	f.StringVarP(&p.key, "key", "k", "", "`key` of every record")
	f.StringArrayVarP(&p.headers, "header", "H", nil, "header `key=value` added to every record (repeatable)")
	f.Int32VarP(&p.partition, "partition", "p", -1, "produce to this partition; -1 = chosen by the partitioner (by key)")
	f.StringVar(&p.compression, "compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	f.StringVar(&p.acks, "acks", "all", "acknowledgements to wait for: all (idempotent), 1 (leader) or 0 (none)")
	f.BoolVar(&p.progress, "progress", false, "show the progress bar even when stderr is not a terminal (--progress=false: never)")
	return cmd
}

// unescape interprets the escapes \n \r \t \0 \\ and \xNN in a delimiter
// given on the command line.
func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(s) {
			return "", errors.New(`ends with a lone "\"`)
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case '0':
			b.WriteByte(0)
		case '\\':
			b.WriteByte('\\')
		case 'x':
			if i+2 >= len(s) {
				return "", errors.New(`\x needs two hex digits`)
			}
			n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", fmt.Errorf(`\x%s is not two hex digits`, s[i+1:i+3])
			}
			b.WriteByte(byte(n))
			i += 2
		default:
			return "", fmt.Errorf(`unknown escape "\%c"`, s[i])
		}
	}
	return b.String(), nil
}

func compressionOpt(name string) (kgo.CompressionCodec, error) {
	c, err := bench.ParseCompression(name)
	if err != nil || name == "" {
		return kgo.CompressionCodec{}, fmt.Errorf("--compression %q: want none, gzip, snappy, lz4 or zstd", name)
	}
	return c, nil
}

// acksOpts turns --acks into client options; below acks=all the producer
// cannot be idempotent.
func acksOpts(acks string) ([]kgo.Opt, error) {
	a, err := bench.ParseAcks(acks)
	if err != nil || acks == "" {
		return nil, fmt.Errorf("--acks %q: want all, 1 or 0", acks)
	}
	opts := []kgo.Opt{kgo.RequiredAcks(a)}
	if a != kgo.AllISRAcks() {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	return opts, nil
}

// parseHeaders turns repeated -H key=value flags into record headers.
func parseHeaders(kvs []string) ([]kgo.RecordHeader, error) {
	var hs []kgo.RecordHeader
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--header %q: want key=value", kv)
		}
		hs = append(hs, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return hs, nil
}

// splitOn is a bufio.SplitFunc cutting at every occurrence of delim; the
// data after the last delimiter, if any, is the last token.
func splitOn(delim []byte) bufio.SplitFunc {
	return func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.Index(data, delim); i >= 0 {
			return i + len(delim), data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// isTerminal reports whether v is a terminal, roughly: a character device
// other than /dev/null.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}

func plural(n int64, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func (p *produceOpts) run(cmd *cobra.Command, o *adminOpts, topic string) error {
	// Check the command line before connecting.
	delim, err := unescape(p.delim)
	if err == nil && delim == "" {
		err = errors.New("must not be empty")
	}
	if err != nil {
		return usageError(cmd, fmt.Errorf("--delim %q: %w", p.delim, err))
	}
	keyDelim, err := unescape(p.keyDelim)
	if err != nil {
		return usageError(cmd, fmt.Errorf("--key-delim %q: %w", p.keyDelim, err))
	}
	hasKey := cmd.Flags().Changed("key")
	if hasKey && keyDelim != "" {
		return usageError(cmd, errors.New("--key and --key-delim exclude each other"))
	}
	headers, err := parseHeaders(p.headers)
	if err != nil {
		return usageError(cmd, err)
	}
	if p.partition < -1 {
		return usageError(cmd, fmt.Errorf("--partition must be >= 0 (or -1 for the partitioner), got %d", p.partition))
	}
	codec, err := compressionOpt(p.compression)
	if err != nil {
		return usageError(cmd, err)
	}
	opts, err := acksOpts(p.acks)
	if err != nil {
		return usageError(cmd, err)
	}

	// The input.
	in := cmd.InOrStdin()
	var size int64
	if p.file != "" && p.file != "-" {
		f, err := os.Open(p.file)
		if err != nil {
			return fmt.Errorf("cannot read records: %w", err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		in = f
	} else if isTerminal(in) {
		fmt.Fprintf(cmd.ErrOrStderr(), "Reading records from stdin, one per line; Ctrl-D to finish.\n")
	}
	showProgress := p.file != "" && p.file != "-" && isTerminal(cmd.ErrOrStderr())
	if cmd.Flags().Changed("progress") {
		showProgress = p.progress
	}

	opts = append(opts,
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(codec),
		kgo.RecordDeliveryTimeout(max(o.timeout, time.Second)),
	)
	if p.partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := o.newClient(cmd, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	// Check the topic (and partition) first, for a clear error.
	ctx := cmd.Context()
	if err := checkTopic(ctx, o, kadm.NewClient(cl), topic, p.partition); err != nil {
		return err
	}

	var (
		read, acked, failed atomic.Int64
		firstErr            error
		errOnce             sync.Once
		// stop (under the write lock) tells the reader to produce no
		// more; the reader holds the read lock while producing.
		stopMu  sync.RWMutex
		stopped bool
	)
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
			errOnce.Do(func() { firstErr = err })
			return
		}
		acked.Add(1)
	}
	cr := &countingReader{r: in}
	sc := bufio.NewScanner(cr)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	sc.Split(splitOn([]byte(delim)))
	produceCtx := context.WithoutCancel(ctx) // Ctrl-C stops reading, not delivery
	readDone := make(chan error, 1)
	go func() {
		for sc.Scan() {
			line := sc.Bytes()
			r := &kgo.Record{Partition: p.partition, Headers: headers}
			if hasKey {
				r.Key = []byte(p.key)
			}
			if keyDelim != "" {
				if k, v, ok := bytes.Cut(line, []byte(keyDelim)); ok {
					r.Key, line = bytes.Clone(k), v
				}
			}
			r.Value = bytes.Clone(line)
			stopMu.RLock()
			if stopped || failed.Load() > 0 {
				stopMu.RUnlock()
				readDone <- nil
				return
			}
			read.Add(1)
			cl.Produce(produceCtx, r, promise)
			stopMu.RUnlock()
		}
		err := sc.Err()
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("record %d is longer than %d MiB: is --delim right?", read.Load()+1, maxLineBytes>>20)
		}
		readDone <- err
	}()

	var bar *progressBar
	if showProgress {
		bar = startProgress(cmd.ErrOrStderr(), size, cr.n.Load, read.Load)
	}
	var readErr error
	interrupted := false
	select {
	case readErr = <-readDone:
	case <-ctx.Done():
		interrupted = true
		stopMu.Lock()
		stopped = true
		stopMu.Unlock()
	}
	flushErr := cl.Flush(produceCtx)
	if bar != nil {
		bar.stop()
	}

	n, nFailed := acked.Load(), failed.Load()
	summary := fmt.Sprintf("produced %s to %s", plural(n, "record"), topic)
	if nFailed > 0 {
		summary += fmt.Sprintf("; %d failed", nFailed)
	}
	if interrupted {
		summary += " (interrupted: the input was not read to the end)"
	}
	fmt.Fprintln(cmd.ErrOrStderr(), summary)
	switch {
	case nFailed > 0:
		return o.hint(fmt.Errorf("%s failed (of %d read), the first with: %w", plural(nFailed, "record"), read.Load(), explainProduceErr(firstErr, topic)))
	case readErr != nil:
		return fmt.Errorf("cannot read records: %w", readErr)
	case flushErr != nil:
		return flushErr
	}
	return nil
}

// explainProduceErr adds the broker's description to a Kafka error code.
func explainProduceErr(err error, topic string) error {
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return fmt.Errorf("%w (was topic %s deleted?)", err, topic)
	case errors.Is(err, kerr.InvalidRecord):
		return fmt.Errorf("%w (a compacted topic refuses records without a key)", err)
	}
	return err
}

// checkTopic fails unless topic exists and, when partition >= 0, has it.
func checkTopic(ctx context.Context, o *adminOpts, adm *kadm.Client, topic string, partition int32) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return o.hint(fmt.Errorf("cannot look up topic %q: %w", topic, err))
	}
	t, ok := details[topic]
	if !ok || errors.Is(t.Err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("topic %q does not exist (create it with: chronik topic create %s)", topic, topic)
	}
	if t.Err != nil {
		return fmt.Errorf("cannot look up topic %q: %w", topic, t.Err)
	}
	if partition >= 0 {
		if _, ok := t.Partitions[partition]; !ok {
			return fmt.Errorf("topic %q has no partition %d (it has %s)", topic, partition, plural(int64(len(t.Partitions)), "partition"))
		}
	}
	return nil
}

// progressBar redraws one line on a terminal: a bar of bytes read out of
// the input's size (when known), the records read and their rate.
type progressBar struct {
	w       io.Writer
	size    int64
	bytes   func() int64
	records func() int64
	start   time.Time
	done    chan struct{}
	wg      sync.WaitGroup
}

func startProgress(w io.Writer, size int64, bytes, records func() int64) *progressBar {
	b := &progressBar{w: w, size: size, bytes: bytes, records: records, start: time.Now(), done: make(chan struct{})}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.draw()
			case <-b.done:
				b.draw()
				fmt.Fprintln(b.w)
				return
			}
		}
	}()
	return b
}

func (b *progressBar) stop() {
	close(b.done)
	b.wg.Wait()
}

func (b *progressBar) draw() {
	n, recs := b.bytes(), b.records()
	elapsed := time.Since(b.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(recs) / elapsed
	}
	line := ""
	if b.size > 0 {
		frac := min(float64(n)/float64(b.size), 1)
		const width = 30
		filled := int(frac * width)
		line = fmt.Sprintf("[%s%s] %3.0f%% %s/%s", strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
			frac*100, humanBytes(n), humanBytes(b.size))
	} else {
		line = humanBytes(n)
	}
	line += fmt.Sprintf("  %d records  %.0f records/s", recs, rate)
	fmt.Fprintf(b.w, "\r%s\033[K", line)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
