// Command chronik is the Chronik broker and its command-line client.
//
//	chronik [serve] [--config chronik.toml] [--data-dir ./data] ...  run the broker
//	chronik topic create|list|describe|delete ...                    manage topics
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
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore default signal handling: a second signal terminates
	}()

	root := newRootCmd(env)
	root.SetArgs(args)
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

Running chronik without a subcommand is the same as "chronik serve".`,
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
		newSearchCmd(env),
		newVersionCmd(),
		newBenchCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the chronik version",
		Args:  usageArgs(cobra.NoArgs),
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
