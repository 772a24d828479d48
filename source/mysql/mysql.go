package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/recoflow/recoflow/source"
)

// Timeouts of Open.
const (
	// DialTimeout bounds establishing a TCP connection, unless the URL sets
	// timeout=.
	DialTimeout = 5 * time.Second
	// PingTimeout bounds the whole connect, authenticate and ping.
	PingTimeout = 15 * time.Second
)

// MySQL error numbers Open and Load react to.
const (
	errBadDB              = 1049 // ER_BAD_DB_ERROR: unknown database
	errNotAllowedCommand  = 1148 // ER_NOT_ALLOWED_COMMAND: LOAD DATA LOCAL disabled (MariaDB, MySQL 5.7)
	errLocalFilesDisabled = 3948 // ER_CLIENT_LOCAL_FILES_DISABLED (MySQL 8)
)

// validDatabase is what Open accepts as the name of a database to create:
// the name goes into CREATE DATABASE as an identifier, which cannot be a
// parameter.
var validDatabase = regexp.MustCompile(`^[A-Za-z0-9_$]{1,64}$`)

// Open connects to mysql://user:pass@host:port/db (port 3306 by default;
// mariadb:// is accepted too) and pings the server. When create is true and
// the database does not exist, it is created (utf8mb4). Errors:
//   - a connection or authentication failure wraps source.ErrUnreachable and
//     names host:port, database, user and the cause — never the password;
//   - a missing database, without create, wraps source.ErrNotExist.
func Open(ctx context.Context, rawURL string, create bool) (*source.DB, error) {
	cfg, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	address := cfg.Addr + "/" + cfg.DBName
	db, err := connect(ctx, cfg)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == errBadDB {
		if !create {
			return nil, fmt.Errorf("mysql source %s: database %q %w", address, cfg.DBName, source.ErrNotExist)
		}
		if err := createDatabase(ctx, cfg); err != nil {
			return nil, err
		}
		db, err = connect(ctx, cfg)
	}
	if err != nil {
		return nil, unreachable(cfg, err)
	}
	return &source.DB{SQL: db, Dialect: Dialect{}, Address: address}, nil
}

// parseURL turns the URL into a driver Config. Errors never quote the URL,
// which may hold a password.
func parseURL(rawURL string) (*mysql.Config, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("mysql source URL: %v", err)
	}
	if u.Scheme != "mysql" && u.Scheme != "mariadb" {
		return nil, fmt.Errorf("mysql source URL: scheme %q, want mysql://user:pass@host:port/db", u.Scheme)
	}
	host := u.Host
	if host == "" {
		return nil, errors.New("mysql source URL: no host (want mysql://user:pass@host:port/db)")
	}
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "3306")
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	if dbName == "" {
		return nil, fmt.Errorf("mysql source URL for %s: no database name (want mysql://user:pass@%s/db)", host, host)
	}
	if strings.Contains(dbName, "/") {
		return nil, fmt.Errorf("mysql source URL for %s: database name %q contains '/'", host, dbName)
	}
	// The address and the driver parameters go through the driver's own
	// parser; the credentials are set on the Config afterwards.
	cfg, err := mysql.ParseDSN("tcp(" + host + ")/?" + u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("mysql source URL for %s: parameters: %v", host, err)
	}
	cfg.DBName = dbName
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DialTimeout
	}
	return cfg, nil
}

// connect opens a pool for cfg and checks it with a ping.
func connect(ctx context.Context, cfg *mysql.Config) (*sql.DB, error) {
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	db.SetConnMaxLifetime(5 * time.Minute)
	db.SetConnMaxIdleTime(time.Minute)
	db.SetMaxIdleConns(4)
	pctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return db, nil
}

func unreachable(cfg *mysql.Config, cause error) error {
	return fmt.Errorf("mysql source %s (database %q, user %q): %w: %w", cfg.Addr, cfg.DBName, cfg.User, source.ErrUnreachable, cause)
}

// createDatabase creates cfg.DBName through a connection without a
// default database.
func createDatabase(ctx context.Context, cfg *mysql.Config) error {
	if !validDatabase.MatchString(cfg.DBName) {
		return fmt.Errorf("mysql source %s: cannot create database %q: name must match %s", cfg.Addr, cfg.DBName, validDatabase)
	}
	server := cfg.Clone()
	server.DBName = ""
	db, err := connect(ctx, server)
	if err != nil {
		return unreachable(cfg, err)
	}
	defer db.Close()
	// The name was validated above; identifiers cannot be parameters.
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+cfg.DBName+"` CHARACTER SET utf8mb4"); err != nil {
		return fmt.Errorf("mysql source %s: create database %q: %w", cfg.Addr, cfg.DBName, err)
	}
	return nil
}
