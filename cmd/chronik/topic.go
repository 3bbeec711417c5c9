package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	brokersEnv     = "CHRONIK_BROKERS"
	defaultBrokers = "localhost:9092"
)

// adminOpts are the connection flags shared by the topic subcommands.
type adminOpts struct {
	brokers string
	timeout time.Duration
}

func newTopicCmd(env []string) *cobra.Command {
	o := &adminOpts{}
	cmd := &cobra.Command{
		Use:   "topic",
		Short: "Create, list, describe and delete topics on a running broker",
		Long: `Manage topics on a running broker over the Kafka protocol.

The broker is given by --brokers, or else CHRONIK_BROKERS, or else
localhost:9092; several bootstrap addresses may be comma-separated.`,
		Example: `  chronik topic create orders -p 6 -c retention.ms=86400000
  chronik topic list
  chronik topic describe orders --brokers broker1:9092
  chronik topic delete orders`,
		Args: noSubcommand,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	o.addFlags(cmd, env)

	cmd.AddCommand(
		newTopicCreateCmd(o),
		newTopicListCmd(o),
		newTopicDescribeCmd(o),
		newTopicDeleteCmd(o),
	)
	return cmd
}

// withAdmin connects to the brokers and calls fn with a request context
// bounded by the timeout.
func (o *adminOpts) withAdmin(cmd *cobra.Command, fn func(context.Context, *kadm.Client) error) error {
	return o.withClient(cmd, func(ctx context.Context, _ *kgo.Client, adm *kadm.Client) error { return fn(ctx, adm) })
}

// withClient is withAdmin for commands that also send requests kadm does not
// have (fn gets the underlying client too).
func (o *adminOpts) withClient(cmd *cobra.Command, fn func(context.Context, *kgo.Client, *kadm.Client) error) error {
	cl, err := o.newClient(cmd)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32(min(o.timeout, time.Hour).Milliseconds()))

	ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
	defer cancel()
	return o.hint(fn(ctx, cl, adm))
}

// newClient returns a client of the brokers with the CLI's client ID and
// connection timeouts, and any extra options (producer, consumer settings).
// A bad --brokers or --timeout is a usage error.
func (o *adminOpts) newClient(cmd *cobra.Command, extra ...kgo.Opt) (*kgo.Client, error) {
	var seeds []string
	for s := range strings.SplitSeq(o.brokers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	if len(seeds) == 0 {
		return nil, usageError(cmd, errors.New("--brokers is empty"))
	}
	if o.timeout <= 0 {
		return nil, usageError(cmd, fmt.Errorf("--timeout must be positive, got %v", o.timeout))
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("chronik-cli"),
		kgo.DialTimeout(min(o.timeout, 5*time.Second)),
		// Stop retrying a little before the context expires so that the
		// real cause (e.g. connection refused) is reported rather than
		// "context deadline exceeded".
		kgo.RetryTimeout(o.timeout * 3 / 4),
	}, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, usageError(cmd, fmt.Errorf("--brokers %q: %w", o.brokers, err))
	}
	return cl, nil
}

// hint adds where the broker was expected to an error that means it could
// not be reached.
func (o *adminOpts) hint(err error) error {
	if err != nil && isConnErr(err) {
		err = fmt.Errorf("%w\n(is a broker running at %s? Set --brokers or %s.)", err, o.brokers, brokersEnv)
	}
	return err
}

// isConnErr reports whether err means the broker could not be talked to at
// all, as opposed to the broker refusing the request.
func isConnErr(err error) bool {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded)
}

// kafkaErr formats a per-topic error code from the broker together with the
// broker's optional message, e.g. "TOPIC_ALREADY_EXISTS: The topic has already
// been created. (Topic 'x' already exists.)".
func kafkaErr(err error, msg string) string {
	s := err.Error()
	if msg != "" && !strings.Contains(s, msg) {
		s += " (" + msg + ")"
	}
	return s
}

func newTopicCreateCmd(o *adminOpts) *cobra.Command {
	var (
		partitions  int32
		replication int16
		configs     []string
	)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a topic",
		Example: `  chronik topic create orders -p 6
  chronik topic create audit -c retention.ms=-1 -c cleanup.policy=delete`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if partitions == 0 || partitions < -1 {
				return usageError(cmd, fmt.Errorf("--partitions must be >= 1 (or -1 for the broker default), got %d", partitions))
			}
			if replication == 0 || replication < -1 {
				return usageError(cmd, fmt.Errorf("--replication-factor must be >= 1 (or -1 for the broker default), got %d", replication))
			}
			cfgs, err := parseTopicConfigs(configs)
			if err != nil {
				return usageError(cmd, err)
			}
			return o.withAdmin(cmd, func(ctx context.Context, adm *kadm.Client) error {
				resps, err := adm.CreateTopics(ctx, partitions, replication, cfgs, name)
				if err != nil {
					return fmt.Errorf("cannot create topic %q: %w", name, err)
				}
				r, ok := resps[name]
				if !ok {
					return fmt.Errorf("cannot create topic %q: the broker's response did not mention it", name)
				}
				if r.Err != nil {
					return fmt.Errorf("cannot create topic %q: %s", name, kafkaErr(r.Err, r.ErrMessage))
				}
				p, rf := r.NumPartitions, r.ReplicationFactor
				if p <= 0 { // pre-KIP-464 responses carry no details
					p = partitions
				}
				if rf <= 0 {
					rf = replication
				}
				msg := fmt.Sprintf("Created topic %s", name)
				if p > 0 && rf > 0 {
					msg += fmt.Sprintf(" (partitions: %d, replication factor: %d)", p, rf)
				}
				_, err = fmt.Fprintln(cmd.OutOrStdout(), msg+".")
				return err
			})
		},
	}
	f := cmd.Flags()
	f.Int32VarP(&partitions, "partitions", "p", -1, "number of partitions; -1 = the broker's num_partitions")
	f.Int16VarP(&replication, "replication-factor", "r", -1, "replication factor; -1 = the broker's replication_factor")
	f.StringArrayVarP(&configs, "config", "c", nil, "topic config key=value, e.g. retention.ms=3600000 (repeatable)")
	return cmd
}

// parseTopicConfigs turns repeated key=value flags into a CreateTopics
// config map.
func parseTopicConfigs(kvs []string) (map[string]*string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := make(map[string]*string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("--config %q: want key=value", kv)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("--config: %s given twice", k)
		}
		m[k] = kadm.StringPtr(v)
	}
	return m, nil
}

func newTopicListCmd(o *adminOpts) *cobra.Command {
	var internal bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List topics",
		Example: `  chronik topic list
  chronik topic list --internal`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.withAdmin(cmd, func(ctx context.Context, adm *kadm.Client) error {
				list := adm.ListTopics
				if internal {
					list = adm.ListTopicsWithInternal
				}
				topics, err := list(ctx)
				if err != nil {
					return fmt.Errorf("cannot list topics: %w", err)
				}
				return printTopicList(cmd.OutOrStdout(), topics)
			})
		},
	}
	cmd.Flags().BoolVarP(&internal, "internal", "i", false, "include internal topics such as __consumer_offsets")
	return cmd
}

func printTopicList(w io.Writer, topics kadm.TopicDetails) error {
	sorted := topics.Sorted()
	withErr := slices.ContainsFunc(sorted, func(t kadm.TopicDetail) bool { return t.Err != nil })
	tw := newTable(w)
	header := "TOPIC\tPARTITIONS\tREPLICATION"
	if withErr {
		header += "\tERROR"
	}
	fmt.Fprintln(tw, header)
	for _, t := range sorted {
		line := fmt.Sprintf("%s\t%d\t%d", t.Topic, len(t.Partitions), t.Partitions.NumReplicas())
		if withErr {
			line += "\t" + errText(t.Err)
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

func newTopicDescribeCmd(o *adminOpts) *cobra.Command {
	return &cobra.Command{
		Use:     "describe NAME",
		Short:   "Show a topic's partitions, leaders, replicas, ISR, offsets and configs",
		Example: "  chronik topic describe orders",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			return o.withAdmin(cmd, func(ctx context.Context, adm *kadm.Client) error {
				return describeTopic(ctx, adm, name, cmd.OutOrStdout(), cmd.ErrOrStderr())
			})
		},
	}
}

// describeTopic prints everything known about one topic. Details that fail
// to load are reported on stderr and make the command fail after printing
// the rest.
func describeTopic(ctx context.Context, adm *kadm.Client, name string, w, ew io.Writer) error {
	topics, err := adm.ListTopics(ctx, name)
	if err != nil {
		return fmt.Errorf("cannot describe topic %q: %w", name, err)
	}
	t, ok := topics[name]
	if !ok || errors.Is(t.Err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("topic %q does not exist (%s)", name, kerr.UnknownTopicOrPartition.Message)
	}
	if t.Err != nil {
		return fmt.Errorf("cannot describe topic %q: %w", name, t.Err)
	}

	var problems []string
	problem := func(what string, err error) {
		problems = append(problems, what)
		fmt.Fprintf(ew, "warning: %s: %v\n", what, err)
	}
	starts, err := adm.ListStartOffsets(ctx, name)
	if err != nil {
		problem("start offsets unavailable", err)
	}
	ends, err := adm.ListEndOffsets(ctx, name)
	if err != nil {
		problem("end offsets unavailable", err)
	}
	var configs []kadm.Config
	rcs, err := adm.DescribeTopicConfigs(ctx, name)
	if err == nil {
		var rc kadm.ResourceConfig
		if rc, err = rcs.On(name, nil); err == nil {
			if err = rc.Err; err != nil && rc.ErrMessage != "" {
				err = fmt.Errorf("%s", kafkaErr(rc.Err, rc.ErrMessage))
			}
			configs = rc.Configs
		}
	}
	if err != nil {
		problem("configs unavailable", err)
	}

	// Summary.
	tw := newTable(w)
	fmt.Fprintf(tw, "Topic:\t%s\n", name)
	if t.ID != (kadm.TopicID{}) {
		fmt.Fprintf(tw, "Topic ID:\t%s\n", t.ID)
	}
	fmt.Fprintf(tw, "Partitions:\t%d\n", len(t.Partitions))
	fmt.Fprintf(tw, "Replication factor:\t%d\n", t.Partitions.NumReplicas())
	if t.IsInternal {
		fmt.Fprintf(tw, "Internal:\tyes\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	// Partitions.
	offset := func(lo kadm.ListedOffsets, p int32) (string, error) {
		o, ok := lo.Lookup(name, p)
		switch {
		case !ok:
			return "-", nil
		case o.Err != nil:
			return "-", o.Err
		}
		return strconv.FormatInt(o.Offset, 10), nil
	}
	type row struct{ cells, errs []string }
	var rows []row
	withErr := false
	for _, p := range t.Partitions.Sorted() {
		var r row
		leader := "none"
		if p.Leader >= 0 {
			leader = strconv.Itoa(int(p.Leader))
		}
		start, serr := offset(starts, p.Partition)
		end, eerr := offset(ends, p.Partition)
		r.cells = []string{
			strconv.Itoa(int(p.Partition)), leader, strconv.Itoa(int(p.LeaderEpoch)),
			ids(p.Replicas), ids(p.ISR), start, end,
		}
		for _, e := range []error{p.Err, serr, eerr} {
			if e != nil && !slices.Contains(r.errs, e.Error()) {
				r.errs = append(r.errs, e.Error())
			}
		}
		if len(r.errs) > 0 {
			withErr = true
		}
		if len(p.OfflineReplicas) > 0 {
			r.errs = append(r.errs, "offline replicas "+ids(p.OfflineReplicas))
			withErr = true
		}
		rows = append(rows, r)
	}
	fmt.Fprintln(w)
	tw = newTable(w)
	header := "PARTITION\tLEADER\tEPOCH\tREPLICAS\tISR\tSTART\tEND"
	if withErr {
		header += "\tERROR"
	}
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		line := strings.Join(r.cells, "\t")
		if withErr {
			line += "\t" + strings.Join(r.errs, "; ")
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	// Configs.
	if configs != nil {
		slices.SortFunc(configs, func(a, b kadm.Config) int { return strings.Compare(a.Key, b.Key) })
		fmt.Fprintln(w)
		tw = newTable(w)
		fmt.Fprintln(tw, "CONFIG\tVALUE\tSOURCE")
		for _, c := range configs {
			v := c.MaybeValue()
			if c.Sensitive {
				v = "(sensitive)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Key, v, c.Source)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	if len(problems) > 0 {
		return fmt.Errorf("topic %q described only partly: %s", name, strings.Join(problems, ", "))
	}
	return nil
}

func newTopicDeleteCmd(o *adminOpts) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a topic and all its data",
		Example: "  chronik topic delete orders",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			return o.withAdmin(cmd, func(ctx context.Context, adm *kadm.Client) error {
				resps, err := adm.DeleteTopics(ctx, name)
				if err != nil {
					return fmt.Errorf("cannot delete topic %q: %w", name, err)
				}
				r, ok := resps[name]
				if !ok {
					return fmt.Errorf("cannot delete topic %q: the broker's response did not mention it", name)
				}
				if r.Err != nil {
					return fmt.Errorf("cannot delete topic %q: %s", name, kafkaErr(r.Err, r.ErrMessage))
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "Deleted topic %s.\n", name)
				return err
			})
		},
	}
}

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// ids formats broker ids as "1,2,3" ("-" when empty).
func ids(ns []int32) string {
	if len(ns) == 0 {
		return "-"
	}
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(int(n))
	}
	return strings.Join(s, ",")
}

func errText(err error) string {
	if err == nil {
		return "-"
	}
	return err.Error()
}

// addFlags adds the flags that say which broker to talk to; --brokers
// defaults to CHRONIK_BROKERS, else localhost:9092.
func (o *adminOpts) addFlags(cmd *cobra.Command, env []string) {
	brokers := lookupEnv(env, brokersEnv)
	if brokers == "" {
		brokers = defaultBrokers
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.brokers, "brokers", brokers, "comma-separated bootstrap broker addresses (env "+brokersEnv+")")
	pf.DurationVar(&o.timeout, "timeout", 15*time.Second, "give up on the broker after this long")
}
