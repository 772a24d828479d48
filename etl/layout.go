package etl

import (
	"path"

	"github.com/recoflow/recoflow/training"
)

// layout is where a dataset's runs, history and rejects live in the lake:
// everything a run writes, derived from the dataset's name (a spec's
// lake.dataset). The built-in dataset's is classicLayout.
type layout struct{ dataset string }

var classicLayout = layout{training.Dataset}

// runsRoot holds one directory per run before it is published.
func (l layout) runsRoot() string { return training.RunsPrefixOf(l.dataset) }

func (l layout) runDir(runID string) string { return training.RunDirOf(l.dataset, runID) }

// historyRoot holds one small record per committed run that is still
// staged (and so can be committed again): <run id>.json.
func (l layout) historyRoot() string { return ".recoflow/history/" + l.dataset }

func (l layout) historyKey(runID string) string {
	return path.Join(l.historyRoot(), runID+".json")
}

// rejectsPrefix is where rejected rows are written, one file per run.
func (l layout) rejectsPrefix() string { return "rejects/" + l.dataset }

// leaseName is the lease a run holds on the dataset.
func (l layout) leaseName() string { return l.dataset }
