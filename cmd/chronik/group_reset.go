package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-streaming/chronik/internal/clientops"
)

func newGroupResetCmd(o *adminOpts) *cobra.Command {
	var (
		to, value, toDatetime string
		topics                []string
		partitions            []int32
		dryRun                bool
	)
	cmd := &cobra.Command{
		Use:   "reset GROUP --to earliest|latest|timestamp|offset [--value X]",
		Short: "Move a consumer group's committed offsets",
		Long: `Move the committed offsets of a consumer group, like
kafka-consumer-groups.sh --reset-offsets --execute, and print each
partition's offset before (OLD, "-" when none was committed) and after (NEW).

Targets (--to): earliest (each partition's start), latest (its end),
timestamp (the first record at or after --value, Unix milliseconds or
RFC 3339; --to-datetime T is short for --to timestamp --value T) and offset
(--value, kept within each partition's range).

The partitions are those of --topic (all their partitions, or only those of
--partition), or, without --topic, every partition the group has committed
offsets for. Only a group without active members can be reset: stop its
consumers first. --dry-run prints the changes without committing them.`,
		Example: `  chronik group reset billing --to earliest --topic orders --dry-run
  chronik group reset billing --to latest
  chronik group reset billing --to offset --value 1000 --topic orders --partition 0,1
  chronik group reset billing --to-datetime 2024-05-01T00:00:00Z --topic orders`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			group := args[0]
			target, err := parseResetTarget(cmd, to, value, toDatetime)
			if err != nil {
				return usageError(cmd, err)
			}
			for _, p := range partitions {
				if p < 0 {
					return usageError(cmd, fmt.Errorf("--partition must be >= 0, got %d", p))
				}
			}
			scope := clientops.ResetScope{Topics: topics, Partitions: partitions}
			return o.withAdmin(cmd, func(ctx context.Context, adm *kadm.Client) error {
				changes, err := clientops.ResetOffsets(ctx, adm, group, scope, target, dryRun)
				switch {
				case errors.Is(err, kerr.GroupIDNotFound):
					return fmt.Errorf("cannot reset the offsets of group %q: the group does not exist (%s)", group, kerr.GroupIDNotFound.Message)
				case err != nil:
					return fmt.Errorf("cannot reset the offsets of group %q: %w", group, err)
				}
				if err := printOffsetChanges(cmd.OutOrStdout(), changes); err != nil {
					return err
				}
				if dryRun {
					fmt.Fprintln(cmd.ErrOrStderr(), "Dry run: no offsets were committed.")
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "where to move the offsets: earliest, latest, timestamp or offset")
	f.StringVar(&value, "value", "", "the timestamp (Unix ms or RFC 3339) or offset for --to timestamp|offset")
	f.StringVar(&toDatetime, "to-datetime", "", "short for --to timestamp --value TIME (RFC 3339)")
	f.StringSliceVarP(&topics, "topic", "t", nil, "`topics` to reset (repeatable or comma-separated; default: those with committed offsets)")
	f.Int32SliceVarP(&partitions, "partition", "p", nil, "only these `partitions` (repeatable or comma-separated)")
	f.Lookup("partition").DefValue = "" // not "[]" in the help
	f.BoolVar(&dryRun, "dry-run", false, "print the changes without committing them")
	return cmd
}

func parseResetTarget(cmd *cobra.Command, to, value, toDatetime string) (clientops.ResetTarget, error) {
	valueSet := cmd.Flags().Changed("value")
	if toDatetime != "" {
		if to != "" && to != "timestamp" {
			return clientops.ResetTarget{}, fmt.Errorf("--to-datetime means --to timestamp, not --to %s", to)
		}
		if valueSet {
			return clientops.ResetTarget{}, errors.New("--to-datetime and --value exclude each other")
		}
		t, err := time.Parse(time.RFC3339Nano, toDatetime)
		if err != nil {
			return clientops.ResetTarget{}, fmt.Errorf("--to-datetime %q: want RFC 3339, e.g. 2024-05-01T12:00:00Z", toDatetime)
		}
		return clientops.ResetTarget{Kind: "timestamp", Value: t.UnixMilli()}, nil
	}
	if to == "" {
		return clientops.ResetTarget{}, errors.New("--to is required (earliest, latest, timestamp or offset)")
	}
	if err := clientops.ParseResetKind(to); err != nil {
		return clientops.ResetTarget{}, fmt.Errorf("--to: %w", err)
	}
	target := clientops.ResetTarget{Kind: to}
	switch to {
	case "earliest", "latest":
		if valueSet {
			return target, fmt.Errorf("--value makes no sense with --to %s", to)
		}
	case "timestamp":
		if !valueSet {
			return target, errors.New("--to timestamp needs --value (Unix ms or RFC 3339)")
		}
		ms, err := parseTime(value)
		if err != nil {
			return target, fmt.Errorf("--value %w", err)
		}
		target.Value = ms
	case "offset":
		if !valueSet {
			return target, errors.New("--to offset needs --value")
		}
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 {
			return target, fmt.Errorf("--value %q: want an offset >= 0", value)
		}
		target.Value = n
	}
	return target, nil
}

// printOffsetChanges prints TOPIC PARTITION OLD NEW.
func printOffsetChanges(w io.Writer, changes []clientops.OffsetChange) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tOLD\tNEW")
	for _, c := range changes {
		old := "-"
		if c.Old >= 0 {
			old = strconv.FormatInt(c.Old, 10)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", c.Topic, c.Partition, old, c.New)
	}
	return tw.Flush()
}
