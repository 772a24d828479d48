package cli

import (
	"github.com/recoflow/recoflow/dataset"
	"github.com/spf13/cobra"
)

// datasetSpec returns the dataset spec a command runs on: the spec file
// file (--dataset), validated, or the built-in classicmodels spec when
// file is empty. An invalid file is a usage error naming its keys.
func (a *app) datasetSpec(cmd *cobra.Command, file string) (*dataset.Spec, error) {
	_ = cmd
	return loadSpec(file)
}
