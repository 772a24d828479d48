package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func (a *app) seedCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "seed",
		Short: "Create the shop database (classicmodels + ratings) in an empty source",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("seed: not implemented yet")
		},
	}
}
