// Command chronik is the Chronik broker and its command-line client.
//
//	chronik [serve] [--config chronik.toml] [--data-dir ./data] ...  run the broker
//	chronik topic create|list|describe|delete ...                    manage topics
//	chronik group list|describe|reset|delete ...                     manage consumer groups
//	chronik config get|set|delete topic NAME|broker [ID] ...         show and change configs
//	chronik produce TOPIC / chronik consume TOPIC                    write and read records
//	chronik search TOPIC QUERY                                       search records
//	chronik bench produce|consume|e2e                                load-test a broker
//	chronik version                                                  print the version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // runtime failure (broker error, request refused, ...)
	exitUsage = 2 // bad command line or configuration
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run executes the command line args with environment env and returns the
// process exit status. SIGINT and SIGTERM cancel the command's context; a
// second signal kills the process the default way.
func run(ctx context.Context, args, env []string, stdout, stderr io.Writer) int {
	return runWithInput(ctx, args, env, os.Stdin, stdout, stderr)
}

// runWithInput is run with stdin as the commands' standard input.
func runWithInput(ctx context.Context, args, env []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore default signal handling: a second signal terminates
	}()

	root := newRootCmd(env)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "chronik: %v\n", err)
	var se *statusError
	if errors.As(err, &se) {
		return se.status
	}
	return exitError
}

// statusError is an error with a specific exit status.
type statusError struct {
	status int
	err    error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// usageError marks err as a command-line mistake (exit status 2) and points
// at the help of cmd.
func usageError(cmd *cobra.Command, err error) error {
	return &statusError{exitUsage, fmt.Errorf("%w\nRun '%s --help' for usage.", err, cmd.CommandPath())}
}

// usageArgs wraps a positional-argument validator so that its errors are
// usage errors.
func usageArgs(validate cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := validate(cmd, args); err != nil {
			return usageError(cmd, err)
		}
		return nil
	}
}

// noSubcommand refuses positional arguments on a command that only groups
// subcommands (or, for the root, runs serve), suggesting close matches.
func noSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
	}
	return usageError(cmd, errors.New(msg))
}

func newRootCmd(env []string) *cobra.Command {
	root := &cobra.Command{
		Use:   "chronik",
		Short: "Chronik, a Kafka-compatible streaming broker",
		Long: `Chronik is a single-node, Kafka-compatible streaming broker.

Running chronik without a subcommand is the same as "chronik serve". The
other commands are clients of a running broker, given by --brokers, or else
CHRONIK_BROKERS, or else localhost:9092.

Exit status, for every command:
  0  success (for consume, also when stopped with Ctrl-C)
  1  the broker refused a request or an operation failed: unknown topic or
     group, invalid config value, records that could not be produced, an
     active group that cannot be reset, no broker reachable, ...
  2  usage error: unknown command or flag, bad argument or flag value,
     invalid configuration for serve`,
		Example: `  chronik serve --data-dir ./data
  chronik topic create orders -p 6
  printf 'k1:v1\nk2:v2\n' | chronik produce orders --key-delim :
  chronik consume orders -e -f json
  chronik config set topic orders retention.ms=86400000
  chronik group reset billing --to earliest --topic orders`,
		Args:          noSubcommand,
		RunE:          func(cmd *cobra.Command, _ []string) error { return runServe(cmd, env) },
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	addServeFlags(root)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError(cmd, err) })
	root.AddCommand(
		newServeCmd(env),
		newTopicCmd(env),
		newGroupCmd(env),
		newConfigCmd(env),
		newProduceCmd(env),
		newConsumeCmd(env),
		newSearchCmd(env),
		newVersionCmd(),
		newBenchCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the chronik version",
		Example: "  chronik version",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), versionString())
			return err
		},
	}
}

// versionString is e.g. "chronik v1.2.3 (commit 0123abcdef01, go1.26.8 linux/amd64)".
func versionString() string {
	v := version
	var details []string
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version // go install ...@version
		}
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = "-dirty"
				}
			}
		}
		if rev != "" {
			details = append(details, "commit "+rev[:min(12, len(rev))]+modified)
		}
	}
	details = append(details, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH)
	return fmt.Sprintf("chronik %s (%s)", v, strings.Join(details, ", "))
}
