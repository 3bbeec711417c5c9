package main

// TEMPORARY: stands in for newBenchCmd until cmd/chronik/bench.go lands.
// Delete this file when bench.go exists (they would clash).

import (
	"errors"

	"github.com/spf13/cobra"
)

func newBenchCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "bench",
		Short:  "Benchmark a broker (not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("bench is not available in this build")
		},
	}
}
