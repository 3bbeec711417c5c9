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

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// newGroupCmd is "chronik group", the analogue of kafka-consumer-groups.sh.
func newGroupCmd(env []string) *cobra.Command {
	o := &adminOpts{}
	cmd := &cobra.Command{
		Use:     "group",
		Aliases: []string{"groups"},
		Short:   "List, describe, reset and delete consumer groups on a running broker",
		Long: `Inspect, reset and delete consumer groups on a running broker over the Kafka
protocol, like kafka-consumer-groups.sh.

The broker is given by --brokers, or else CHRONIK_BROKERS, or else
localhost:9092; several bootstrap addresses may be comma-separated.`,
		Example: `  chronik group list
  chronik group describe billing
  chronik group reset billing --to earliest --topic orders --dry-run
  chronik group delete billing`,
		Args: noSubcommand,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	o.addFlags(cmd, env)

	cmd.AddCommand(
		newGroupListCmd(o),
		newGroupDescribeCmd(o),
		newGroupResetCmd(o),
		newGroupDeleteCmd(o),
	)
	return cmd
}

func newGroupListCmd(o *adminOpts) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List consumer groups with their state and protocol type",
		Example: "  chronik group list",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.withAdmin(cmd, func(ctx context.Context, adm *kadm.Client) error {
				return listGroups(ctx, adm, cmd.OutOrStdout(), cmd.ErrOrStderr())
			})
		},
	}
}

// listGroups prints GROUP STATE PROTOCOL TYPE. If some brokers could not
// answer, the groups of the others are printed and the command fails.
func listGroups(ctx context.Context, adm *kadm.Client, w, ew io.Writer) error {
	groups, err := adm.ListGroups(ctx)
	var partial error
	if err != nil {
		var se *kadm.ShardErrors
		if !errors.As(err, &se) || se.AllFailed {
			return fmt.Errorf("cannot list groups: %w", err)
		}
		fmt.Fprintf(ew, "warning: some brokers did not answer: %v\n", err)
		partial = fmt.Errorf("group list is incomplete: %w", err)
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "GROUP\tSTATE\tPROTOCOL TYPE")
	for _, g := range groups.Sorted() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", g.Group, orDash(g.State), orDash(g.ProtocolType))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return partial
}

func newGroupDescribeCmd(o *adminOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a group's state, members, committed offsets and lag",
		Long: `Show a consumer group's state and, for every partition it is assigned or has
committed offsets for, the committed offset (CURRENT-OFFSET), the partition's
end offset (LOG-END-OFFSET), the difference (LAG) and the member consuming it.
"-" marks unknown values: no commit yet, no member assigned, and so on.`,
		Example: "  chronik group describe billing",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			return o.withAdmin(cmd, func(ctx context.Context, adm *kadm.Client) error {
				return describeGroup(ctx, adm, name, cmd.OutOrStdout())
			})
		},
	}
}

// groupRow is one line of the describe table.
type groupRow struct {
	topic             string
	partition         int32 // -1: member without partitions
	current, end, lag string
	member, host, cid string
	err               string
}

// describeGroup prints a group's summary and its offsets/lag table.
func describeGroup(ctx context.Context, adm *kadm.Client, name string, w io.Writer) error {
	lags, err := adm.Lag(ctx, name)
	if err != nil {
		return fmt.Errorf("cannot describe group %q: %w", name, err)
	}
	l, ok := lags[name]
	if !ok {
		return fmt.Errorf("cannot describe group %q: the broker's response did not mention it", name)
	}
	if errors.Is(l.DescribeErr, kerr.GroupIDNotFound) || (l.DescribeErr == nil && l.State == "Dead") {
		return fmt.Errorf("group %q does not exist", name)
	}
	if l.DescribeErr != nil {
		return fmt.Errorf("cannot describe group %q: %w", name, l.DescribeErr)
	}
	if l.FetchErr != nil {
		return fmt.Errorf("cannot fetch the committed offsets of group %q: %w", name, l.FetchErr)
	}

	tw := newTable(w)
	fmt.Fprintf(tw, "Group:\t%s\n", name)
	fmt.Fprintf(tw, "State:\t%s\n", orDash(l.State))
	fmt.Fprintf(tw, "Protocol type:\t%s\n", orDash(l.ProtocolType))
	if l.Protocol != "" {
		fmt.Fprintf(tw, "Assignor:\t%s\n", l.Protocol)
	}
	if c := l.Coordinator; c.Host != "" {
		fmt.Fprintf(tw, "Coordinator:\t%d (%s)\n", c.NodeID, kadmAddr(c))
	}
	fmt.Fprintf(tw, "Members:\t%d\n", len(l.Members))
	if err := tw.Flush(); err != nil {
		return err
	}

	rows := groupRows(l)
	fmt.Fprintln(w)
	if len(l.Members) == 0 {
		fmt.Fprintf(w, "Consumer group %q has no active members.\n\n", name)
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintf(w, "Consumer group %q has no committed offsets and no assigned partitions.\n", name)
		return err
	}
	withErr := slices.ContainsFunc(rows, func(r groupRow) bool { return r.err != "" })
	tw = newTable(w)
	header := "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tCONSUMER-ID\tHOST\tCLIENT-ID"
	if withErr {
		header += "\tERROR"
	}
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		topic, part := r.topic, "-"
		if r.partition >= 0 {
			part = strconv.Itoa(int(r.partition))
		}
		line := strings.Join([]string{name, topic, part, r.current, r.end, r.lag, r.member, r.host, r.cid}, "\t")
		if withErr {
			line += "\t" + orDash(r.err)
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

// groupRows turns kadm's lag calculation into table rows the way
// kafka-consumer-groups.sh shows them: a row per assigned or committed
// partition, and a row with "-" partitions for each member without any.
// CURRENT-OFFSET and LAG are "-" when nothing has been committed; partitions
// neither assigned nor committed are left out.
func groupRows(l kadm.DescribedGroupLag) []groupRow {
	var rows []groupRow
	seen := make(map[string]bool)
	for _, ml := range l.Lag.Sorted() {
		committed := ml.Commit.At >= 0
		if ml.Member == nil && !committed {
			// kadm lists every partition of a committed topic for an
			// Empty group; like Kafka's tool, show only committed ones.
			continue
		}
		r := groupRow{topic: ml.Topic, partition: ml.Partition, current: "-", end: "-", lag: "-", member: "-", host: "-", cid: "-"}
		if committed {
			r.current = strconv.FormatInt(ml.Commit.At, 10)
		}
		if ml.End.Err == nil {
			r.end = strconv.FormatInt(ml.End.Offset, 10)
		}
		if committed && ml.Err == nil && ml.Lag >= 0 {
			r.lag = strconv.FormatInt(ml.Lag, 10)
		}
		if ml.Err != nil {
			r.err = ml.Err.Error()
		}
		if m := ml.Member; m != nil {
			r.member, r.host, r.cid = orDash(m.MemberID), orDash(m.ClientHost), orDash(m.ClientID)
			seen[m.MemberID] = true
		}
		rows = append(rows, r)
	}
	for _, m := range l.Members {
		if !seen[m.MemberID] {
			rows = append(rows, groupRow{
				topic: "-", partition: -1, current: "-", end: "-", lag: "-",
				member: orDash(m.MemberID), host: orDash(m.ClientHost), cid: orDash(m.ClientID),
			})
		}
	}
	return rows
}

func newGroupDeleteCmd(o *adminOpts) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a consumer group and its committed offsets",
		Long: `Delete a consumer group and its committed offsets. Only a group without
active members can be deleted: stop its consumers first.`,
		Example: "  chronik group delete billing",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			return o.withAdmin(cmd, func(ctx context.Context, adm *kadm.Client) error {
				return deleteGroup(ctx, adm, name, cmd.OutOrStdout())
			})
		},
	}
}

func deleteGroup(ctx context.Context, adm *kadm.Client, name string, w io.Writer) error {
	resps, err := adm.DeleteGroups(ctx, name)
	if err != nil {
		return fmt.Errorf("cannot delete group %q: %w", name, err)
	}
	r, ok := resps[name]
	if !ok {
		return fmt.Errorf("cannot delete group %q: the broker's response did not mention it", name)
	}
	switch {
	case errors.Is(r.Err, kerr.NonEmptyGroup):
		return fmt.Errorf("cannot delete group %q: it still has active members (%s); stop its consumers first", name, kerr.NonEmptyGroup.Message)
	case errors.Is(r.Err, kerr.GroupIDNotFound):
		return fmt.Errorf("cannot delete group %q: the group does not exist (%s)", name, kerr.GroupIDNotFound.Message)
	case r.Err != nil:
		return fmt.Errorf("cannot delete group %q: %s", name, kafkaErr(r.Err, r.ErrMessage))
	}
	_, err = fmt.Fprintf(w, "Deleted group %s.\n", name)
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func kadmAddr(b kadm.BrokerDetail) string {
	return net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
}
