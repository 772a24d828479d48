// Package sqlite is the embedded source backend: a SQLite file opened with a
// pure-Go driver.
package sqlite

import (
	"context"
	"errors"

	"github.com/recoflow/recoflow/source"
)

// Open opens the SQLite database at path, creating it when create is true.
func Open(ctx context.Context, path string, create bool) (*source.DB, error) {
	return nil, errors.New("source/sqlite: not implemented yet")
}
