package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/clientops"
)

// newConfigCmd is "chronik config", the analogue of kafka-configs.sh.
func newConfigCmd(env []string) *cobra.Command {
	o := &adminOpts{}
	cmd := &cobra.Command{
		Use:     "config",
		Aliases: []string{"configs"},
		Short:   "Show and change topic and broker configs on a running broker",
		Long: `Show and change the configs of a topic or of a broker over the Kafka protocol,
like kafka-configs.sh.

A resource is "topic NAME" or "broker [ID]"; without an ID, broker means
the cluster's only broker (Chronik runs one, with id server.node_id: 1 by
default). Topic configs change live (IncrementalAlterConfigs) and persist;
deleting one returns the topic to the broker's default. Broker configs come
from Chronik's configuration file, flags and environment; the broker refuses
to change those that cannot change while it runs (READ-ONLY in config get).

The broker is given by --brokers, or else CHRONIK_BROKERS, or else
localhost:9092; several bootstrap addresses may be comma-separated.`,
		Example: `  chronik config get topic orders
  chronik config set topic orders retention.ms=86400000 cleanup.policy=compact
  chronik config delete topic orders retention.ms
  chronik config get broker log.retention.ms`,
		Args: noSubcommand,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	o.addFlags(cmd, env)
	cmd.AddCommand(
		newConfigGetCmd(o),
		newConfigSetCmd(o),
		newConfigDeleteCmd(o),
	)
	return cmd
}

// configResource is the topic or broker a config command is about.
type configResource struct {
	typ  kmsg.ConfigResourceType
	name string // topic name or broker id; "" = the broker from metadata
}

func (r configResource) String() string {
	if r.typ == kmsg.ConfigResourceTypeTopic {
		return "topic " + r.name
	}
	return "broker " + r.name
}

// parseConfigResource reads "topic NAME" or "broker [ID]" off the front of
// args and returns the rest.
func parseConfigResource(args []string) (configResource, []string, error) {
	if len(args) == 0 {
		return configResource{}, nil, errors.New(`name a resource: "topic NAME" or "broker [ID]"`)
	}
	switch args[0] {
	case "topic":
		if len(args) < 2 || args[1] == "" {
			return configResource{}, nil, errors.New("topic needs a NAME")
		}
		return configResource{typ: kmsg.ConfigResourceTypeTopic, name: args[1]}, args[2:], nil
	case "broker":
		r := configResource{typ: kmsg.ConfigResourceTypeBroker}
		if len(args) > 1 {
			if id, err := strconv.ParseInt(args[1], 10, 32); err == nil {
				if id < 0 {
					return configResource{}, nil, fmt.Errorf("broker id must be >= 0, got %d", id)
				}
				r.name = args[1]
				return r, args[2:], nil
			}
		}
		return r, args[1:], nil
	}
	return configResource{}, nil, fmt.Errorf("unknown resource type %q: want topic or broker", args[0])
}

// configArgs validates "RESOURCE [ITEM...]" arguments; items says whether at
// least one item must follow.
func configArgs(itemsRequired bool, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		_, rest, err := parseConfigResource(args)
		if err == nil && itemsRequired && len(rest) == 0 {
			err = fmt.Errorf("name at least one %s", what)
		}
		if err != nil {
			return usageError(cmd, err)
		}
		return nil
	}
}

// resolveBroker fills in the broker id of r from metadata when none was
// given: the cluster must have exactly one broker.
func resolveBroker(ctx context.Context, cmd *cobra.Command, adm *kadm.Client, r *configResource) error {
	if r.typ != kmsg.ConfigResourceTypeBroker || r.name != "" {
		return nil
	}
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return fmt.Errorf("cannot find the broker: %w", err)
	}
	switch len(md.Brokers) {
	case 0:
		return errors.New("cannot find the broker: the metadata lists none")
	case 1:
		r.name = strconv.Itoa(int(md.Brokers[0].NodeID))
		return nil
	}
	var ids []string
	for _, b := range md.Brokers {
		ids = append(ids, strconv.Itoa(int(b.NodeID)))
	}
	return usageError(cmd, fmt.Errorf("the cluster has brokers %s: give the broker ID", strings.Join(ids, ", ")))
}

func newConfigGetCmd(o *adminOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "get topic NAME [KEY...] | broker [ID] [KEY...]",
		Short: "Show configs with their source and whether they are read-only or sensitive",
		Long: `Show the configs of a topic or a broker (all of them, or the KEYs given) with
their value and source:

  dynamic_topic           set on the topic (config set, topic create -c)
  dynamic_broker          set on the broker at runtime
  dynamic_default_broker  set at runtime for every broker
  static_broker           set in the broker's configuration (file, flag, env)
  default                 the built-in default

READ-ONLY configs cannot be changed while the broker runs; the value of a
SENSITIVE config is not shown. Exit status 1 if a KEY does not exist.`,
		Example: `  chronik config get topic orders
  chronik config get topic orders retention.ms cleanup.policy
  chronik config get broker
  chronik config get broker 0 log.retention.ms`,
		Args: configArgs(false, "config"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, keys, _ := parseConfigResource(args)
			return o.withClient(cmd, func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error {
				if err := resolveBroker(ctx, cmd, adm, &r); err != nil {
					return err
				}
				return getConfigs(ctx, cl, r, keys, cmd.OutOrStdout())
			})
		},
	}
}

// getConfigs describes r's configs with DescribeConfigs itself: kadm's
// configs lack the read-only flag.
func getConfigs(ctx context.Context, cl *kgo.Client, r configResource, keys []string, w io.Writer) error {
	configs, err := clientops.DescribeConfigs(ctx, cl, r.typ, r.name, keys)
	if errors.Is(err, kerr.UnknownTopicOrPartition) && r.typ == kmsg.ConfigResourceTypeTopic {
		return fmt.Errorf("topic %q does not exist", r.name)
	}
	if err != nil {
		return fmt.Errorf("cannot describe the configs of %s: %w", r, err)
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "CONFIG\tVALUE\tSOURCE\tREAD-ONLY\tSENSITIVE")
	found := map[string]bool{}
	for _, c := range configs {
		found[c.Name] = true
		v := "-"
		switch {
		case c.IsSensitive:
			v = "(sensitive)"
		case c.Value != nil && *c.Value == "":
			v = `""`
		case c.Value != nil:
			v = *c.Value
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Name, v, clientops.ConfigSource(c.Source), yesNo(c.ReadOnly), yesNo(c.IsSensitive))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var missing []string
	for _, k := range keys {
		if !found[k] && !slices.Contains(missing, k) {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s has no config %s", r, strings.Join(missing, ", "))
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func newConfigSetCmd(o *adminOpts) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "set topic NAME KEY=VALUE... | broker [ID] KEY=VALUE...",
		Short: "Set configs (IncrementalAlterConfigs SET)",
		Long: `Set configs of a topic or a broker; other configs keep their values. The
change is atomic: if the broker refuses one value (INVALID_CONFIG, with its
reason), nothing changes and the exit status is 1. --dry-run only asks the
broker to validate the change.`,
		Example: `  chronik config set topic orders retention.ms=86400000
  chronik config set topic orders cleanup.policy=compact min.compaction.lag.ms=60000
  chronik config set topic orders retention.ms=1000 --dry-run`,
		Args: configArgs(true, "KEY=VALUE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, kvs, _ := parseConfigResource(args)
			var alters []kadm.AlterConfig
			seen := map[string]bool{}
			for _, kv := range kvs {
				k, v, ok := strings.Cut(kv, "=")
				k = strings.TrimSpace(k)
				if !ok || k == "" {
					return usageError(cmd, fmt.Errorf("%q: want KEY=VALUE", kv))
				}
				if seen[k] {
					return usageError(cmd, fmt.Errorf("%s given twice", k))
				}
				seen[k] = true
				alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(v)})
			}
			return o.withAdmin(cmd, func(ctx context.Context, adm *kadm.Client) error {
				if err := alterConfigs(ctx, cmd, adm, &r, alters, dryRun); err != nil {
					return err
				}
				for _, a := range alters {
					msg := fmt.Sprintf("Set %s=%s on %s.", a.Name, *a.Value, r)
					if dryRun {
						msg = fmt.Sprintf("Valid: %s=%s on %s (dry run: nothing changed).", a.Name, *a.Value, r)
					}
					fmt.Fprintln(cmd.OutOrStdout(), msg)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only validate the change")
	return cmd
}

func newConfigDeleteCmd(o *adminOpts) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:     "delete topic NAME KEY... | broker [ID] KEY...",
		Aliases: []string{"rm"},
		Short:   "Delete configs, back to their defaults (IncrementalAlterConfigs DELETE)",
		Long: `Delete configs of a topic or a broker: each returns to its default (for a
topic, the broker's setting). Deleting a config that is not set is not an
error.`,
		Example: `  chronik config delete topic orders retention.ms
  chronik config delete topic orders cleanup.policy min.compaction.lag.ms`,
		Args: configArgs(true, "KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, keys, _ := parseConfigResource(args)
			var alters []kadm.AlterConfig
			seen := map[string]bool{}
			for _, k := range keys {
				if strings.Contains(k, "=") {
					return usageError(cmd, fmt.Errorf("%q: delete takes config names (to change a value, use config set)", k))
				}
				if seen[k] {
					return usageError(cmd, fmt.Errorf("%s given twice", k))
				}
				seen[k] = true
				alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
			}
			return o.withAdmin(cmd, func(ctx context.Context, adm *kadm.Client) error {
				if err := alterConfigs(ctx, cmd, adm, &r, alters, dryRun); err != nil {
					return err
				}
				for _, a := range alters {
					msg := fmt.Sprintf("Deleted %s from %s: the default applies.", a.Name, r)
					if dryRun {
						msg = fmt.Sprintf("Valid: delete %s from %s (dry run: nothing changed).", a.Name, r)
					}
					fmt.Fprintln(cmd.OutOrStdout(), msg)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only validate the change")
	return cmd
}

// alterConfigs applies (or validates) incremental changes to r.
func alterConfigs(ctx context.Context, cmd *cobra.Command, adm *kadm.Client, r *configResource, alters []kadm.AlterConfig, dryRun bool) error {
	if err := resolveBroker(ctx, cmd, adm, r); err != nil {
		return err
	}
	var (
		resps kadm.AlterConfigsResponses
		err   error
	)
	if r.typ == kmsg.ConfigResourceTypeTopic {
		alter := adm.AlterTopicConfigs
		if dryRun {
			alter = adm.ValidateAlterTopicConfigs
		}
		resps, err = alter(ctx, alters, r.name)
	} else {
		id, _ := strconv.ParseInt(r.name, 10, 32)
		alter := adm.AlterBrokerConfigs
		if dryRun {
			alter = adm.ValidateAlterBrokerConfigs
		}
		resps, err = alter(ctx, alters, int32(id))
	}
	if err != nil {
		return fmt.Errorf("cannot change the configs of %s: %w", r, err)
	}
	for _, resp := range resps {
		if resp.Name != r.name {
			continue
		}
		switch {
		case resp.Err == nil:
			return nil
		case errors.Is(resp.Err, kerr.UnknownTopicOrPartition):
			return fmt.Errorf("topic %q does not exist", r.name)
		}
		return fmt.Errorf("cannot change the configs of %s: %s", r, kafkaErr(resp.Err, resp.ErrMessage))
	}
	return fmt.Errorf("cannot change the configs of %s: the broker's response did not mention it", r)
}
