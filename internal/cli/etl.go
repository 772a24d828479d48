package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func (a *app) etlCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "etl",
		Short: "Turn the source's ratings into partitioned Parquet training data in the lake",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("etl: not implemented yet")
		},
	}
}
