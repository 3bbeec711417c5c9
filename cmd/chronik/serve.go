package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/chronik-streaming/chronik/internal/broker"
	"github.com/chronik-streaming/chronik/internal/config"
)

const configEnv = "CHRONIK_CONFIG"

func newServeCmd(env []string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the broker (the default command)",
		Long: `Run the broker until SIGINT or SIGTERM.

Settings come from, lowest to highest precedence: built-in defaults, the TOML
file given by --config (or CHRONIK_CONFIG), CHRONIK_* environment variables
and flags. Every flag has an environment variable: "CHRONIK_" + the flag name
upper-cased with '-' as '_', e.g. --data-dir / CHRONIK_DATA_DIR. See
chronik.example.toml for every key and its default.

Exit status: 0 after a clean shutdown, 1 if the broker fails, 2 if the
configuration is invalid.`,
		Example: `  chronik serve
  chronik serve --config chronik.toml
  chronik serve --data-dir /var/lib/chronik --kafka-listen :9092 --http-listen :3000
  CHRONIK_DATA_DIR=/var/lib/chronik chronik serve`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, env) },
	}
	addServeFlags(cmd)
	return cmd
}

// addServeFlags adds --config and one flag per configuration key.
func addServeFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.SortFlags = false // keep the TOML section order
	fs.String("config", "", "TOML configuration file (env "+configEnv+"); none = built-in defaults")
	config.RegisterFlags(fs)
}

func runServe(cmd *cobra.Command, env []string) error {
	path, _ := cmd.Flags().GetString("config")
	if !cmd.Flags().Changed("config") {
		path = lookupEnv(env, configEnv)
	}
	cfg, err := config.Load(path, cmd.Flags(), env)
	if err != nil {
		return &statusError{exitUsage, err}
	}

	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: cfg.SlogLevel()}))
	slog.SetDefault(logger)

	// The broker logs its bound addresses itself once it listens.
	logger.Info("starting chronik", "version", version, "config", path, "node_id", cfg.Server.NodeID)

	ctx := cmd.Context()
	logShutdown := func() { logger.Info("shutting down", "reason", context.Cause(ctx)) }
	logged := make(chan struct{})
	stopLog := context.AfterFunc(ctx, func() { logShutdown(); close(logged) })
	err = broker.Run(ctx, cfg, logger)
	if stopLog() {
		if ctx.Err() != nil { // cancelled, but the AfterFunc had not started yet
			logShutdown()
		}
	} else {
		<-logged // keep "shutting down" before what follows
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	logger.Info("chronik stopped")
	return nil
}

// lookupEnv returns the value of name in env ("KEY=value" entries; the last
// one wins, as for exec.Cmd.Env).
func lookupEnv(env []string, name string) string {
	val := ""
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			val = v
		}
	}
	return val
}
