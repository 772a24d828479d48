// Package file is the lake backend on a local directory.
package file

import (
	"errors"

	"github.com/recoflow/recoflow/lake"
)

// Bucket is a lake in a local directory.
type Bucket struct{ lake.Bucket }

// Open opens (creating if needed) the lake rooted at dir.
func Open(dir string) (*Bucket, error) { return nil, errors.New("lake/file: not implemented yet") }
