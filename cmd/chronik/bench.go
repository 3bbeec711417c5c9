package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/chronik-streaming/chronik/bench"
)

// newBenchCmd is "chronik bench produce|consume|e2e": a franz-go load
// generator against a running broker and/or an in-process kfake baseline.
func newBenchCmd() *cobra.Command {
	var (
		o       bench.Options
		brokers string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load-test a broker (produce, consume, end-to-end)",
		Long: `Generate load with the franz-go client and report throughput and latency.

  chronik bench produce   records/s, MB/s, produce latency p50/p99/p99.9
                          (per record, from Produce call to acknowledgement)
  chronik bench consume   records/s, MB/s reading the topic from the start;
                          missing records are produced first (untimed)
  chronik bench e2e       both, plus end-to-end latency (send time embedded
                          in each record vs. receive time)

The topic is created with --partitions if missing. --kfake also runs the same
scenario against an in-process kfake cluster (one broker, fresh per run) as a
baseline; --kfake-only skips --brokers. With --runs N every figure reported
is the median over N runs. MB = 2^20 bytes of record values.`,
		Example: `  chronik bench produce --records 1000000 --acks all --compression lz4
  chronik bench e2e --duration 30s --producers 4 --kfake --runs 3
  chronik bench produce --kfake-only --runs 3 --json`,
		Args: noSubcommand,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	if env := os.Getenv(brokersEnv); env != "" {
		brokers = env
	} else {
		brokers = defaultBrokers
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&brokers, "brokers", brokers, "comma-separated bootstrap broker addresses (env "+brokersEnv+")")
	pf.StringVar(&o.Topic, "topic", bench.DefaultTopic, "topic to use (created if missing)")
	pf.IntVar(&o.Partitions, "partitions", bench.DefaultPartitions, "partitions when creating the topic (and for kfake)")
	pf.IntVar(&o.ReplicationFactor, "replication-factor", -1, "replication factor when creating the topic (-1: broker default)")
	pf.IntVar(&o.RecordSize, "record-size", bench.DefaultRecordSize, "record value size in bytes")
	pf.Int64Var(&o.Records, "records", 0, fmt.Sprintf("records to produce/consume (default %d unless --duration is set)", bench.DefaultRecords))
	pf.DurationVar(&o.Duration, "duration", 0, "run for this long (with --records: whichever comes first)")
	pf.StringVar(&o.Acks, "acks", "all", "producer acks: all, 1 or 0")
	pf.StringVar(&o.Compression, "compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	pf.IntVar(&o.Producers, "producers", 1, "concurrent producer clients")
	pf.Float64Var(&o.Rate, "rate", 0, "cap the total produce rate in records/s (0: unlimited; unlimited runs measure mostly client queueing in latency)")
	pf.DurationVar(&o.Linger, "linger", bench.DefaultLinger, "producer linger")
	pf.IntVar(&o.BatchBytes, "batch-bytes", bench.DefaultBatchBytes, "maximum record batch size in bytes")
	pf.BoolVar(&o.Kfake, "kfake", false, "also run against an in-process kfake cluster as a baseline")
	pf.BoolVar(&o.KfakeOnly, "kfake-only", false, "run against an in-process kfake cluster only")
	pf.IntVar(&o.Runs, "runs", 1, "repeat the scenario N times and report the median")
	pf.BoolVar(&asJSON, "json", false, "print the result as JSON")
	pf.BoolVar(&o.JSON, "json-records", false, "produce ~1 KiB log-like JSON records instead of --record-size random letters")

	sub := func(mode bench.Mode, short, example string) *cobra.Command {
		return &cobra.Command{
			Use:     string(mode),
			Short:   short,
			Example: example,
			Args:    usageArgs(cobra.NoArgs),
			RunE: func(cmd *cobra.Command, _ []string) error {
				o := o
				o.Mode = mode
				o.Brokers = bench.ParseBrokers(brokers)
				if err := o.Validate(); err != nil {
					return usageError(cmd, err)
				}
				stderr := cmd.ErrOrStderr()
				o.Logf = func(format string, args ...any) {
					fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
				}
				res, err := bench.Run(cmd.Context(), o)
				if err != nil {
					if errors.Is(err, cmd.Context().Err()) && cmd.Context().Err() != nil {
						return errors.New("interrupted")
					}
					return err
				}
				if asJSON {
					return res.WriteJSON(cmd.OutOrStdout())
				}
				return res.WriteText(cmd.OutOrStdout())
			},
		}
	}
	cmd.AddCommand(
		sub(bench.ModeProduce, "Measure produce throughput and latency",
			"  chronik bench produce --records 1000000 --acks all --compression lz4"),
		sub(bench.ModeConsume, "Measure consume throughput",
			"  chronik bench consume --records 1000000 --record-size 1024"),
		sub(bench.ModeE2E, "Measure produce, consume and end-to-end latency together",
			"  chronik bench e2e --duration 30s --rate 10000 --kfake"),
		newBenchSearchCmd(&brokers),
	)
	return cmd
}

func newBenchSearchCmd(brokers *string) *cobra.Command {
	o := bench.SearchOptions{}
	adminURL := os.Getenv(adminURLEnv)
	if adminURL == "" {
		adminURL = defaultAdminURL
	}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "search freshness|query",
		Short: "Measure search freshness (produce ack to searchable) or query latency",
		Long: `freshness: produce --rate records/s of 1 KiB JSON for --duration to a
searchable topic; every --sample-every-th record's time from acknowledgement
until a search finds it is measured (one poller, ~50 searches/s).

query: fill the topic to --records records (reporting the indexing rate),
then run each query of a fixed mix --rounds times, one at a time, 20 hits
by relevance; latencies include the HTTP round trip.`,
		Example: `  chronik bench search freshness --rate 10000 --duration 30s
  chronik bench search query --records 1000000 --rounds 50`,
		Args:      usageArgs(cobra.ExactArgs(1)),
		ValidArgs: []string{"freshness", "query"},
		RunE: func(cmd *cobra.Command, args []string) error {
			o := o
			o.Brokers = bench.ParseBrokers(*brokers)
			o.AdminURL = adminURL
			stderr := cmd.ErrOrStderr()
			o.Logf = func(format string, a ...any) {
				fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
			}
			var res any
			var err error
			switch args[0] {
			case "freshness":
				var r bench.FreshnessResult
				r, err = bench.Freshness(cmd.Context(), o)
				res = r
				if err == nil && !asJSON {
					_, err = fmt.Fprintf(cmd.OutOrStdout(), "freshness at %.0f records/s: %d samples (%d never found), ack to searchable %s\n",
						r.Rate, r.Samples, r.Missing, r.Latency.String())
					return err
				}
			case "query":
				var r bench.QueryResult
				r, err = bench.QueryLatency(cmd.Context(), o)
				res = r
				if err == nil && !asJSON {
					w := cmd.OutOrStdout()
					fmt.Fprintf(w, "query latency on %d records (%d rounds of the mix):\n", r.Records, r.QueryRounds)
					for _, q := range bench.QueryMix {
						l := r.PerQuery[q]
						fmt.Fprintf(w, "  %-45s %s\n", q, l.String())
					}
					_, err = fmt.Fprintf(w, "  %-45s %s\n", "all", r.All.String())
					return err
				}
			default:
				return usageError(cmd, fmt.Errorf("unknown benchmark %q: freshness or query", args[0]))
			}
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&adminURL, "admin-url", adminURL, "the broker's HTTP address (env "+adminURLEnv+")")
	f.StringVar(&o.Topic, "topic", "chronik-bench-search", "searchable topic to use (created if missing)")
	f.IntVar(&o.Partitions, "partitions", 6, "partitions when creating the topic")
	f.Float64Var(&o.Rate, "rate", 10000, "freshness: records/s")
	f.DurationVar(&o.Duration, "duration", 30*time.Second, "freshness: how long to produce")
	f.IntVar(&o.SampleEvery, "sample-every", 100, "freshness: measure every Nth record")
	f.Int64Var(&o.Records, "records", 1000000, "query: records the topic holds")
	f.IntVar(&o.QueryRounds, "rounds", 50, "query: times each query of the mix runs")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
