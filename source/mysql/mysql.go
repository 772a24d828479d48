// Package mysql is the source backend for MySQL 8 and MariaDB 10.11.
package mysql

import (
	"context"
	"errors"

	"github.com/recoflow/recoflow/source"
)

// Open connects to mysql://user:pass@host:port/db.
func Open(ctx context.Context, rawURL string) (*source.DB, error) {
	return nil, errors.New("source/mysql: not implemented yet")
}
