// Package testenv tells tests where the real services are.
//
// A service-backed test asks for its service's URL here. When the
// RECOFLOW_TEST_* variable is set, the test runs against it. When it is not,
// the test is skipped with a one-line reason — unless
// RECOFLOW_REQUIRE_SERVICES=1 (as in CI), in which case it fails: CI never
// skips a service test.
package testenv

import (
	"os"
	"testing"
)

// Variables naming each service.
const (
	// MySQLVar holds a MySQL/MariaDB server URL without a database, e.g.
	// mysql://root@127.0.0.1:3306/ . Tests create and drop their own
	// databases on it.
	MySQLVar = "RECOFLOW_TEST_MYSQL"
	// S3Var holds an S3 lake URL with endpoint options, e.g.
	// s3://recoflow-test?endpoint=http://127.0.0.1:7070&path_style=true&region=us-east-1 ;
	// credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
	// Tests create the bucket if needed and use their own prefixes.
	S3Var = "RECOFLOW_TEST_S3"
	// PostgresVar holds a plain PostgreSQL URL (no pgvector needed).
	PostgresVar = "RECOFLOW_TEST_POSTGRES"
	// PgvectorVar holds the URL of a PostgreSQL with the vector extension.
	PgvectorVar = "RECOFLOW_TEST_PGVECTOR"
	// NATSVar holds a NATS JetStream URL, e.g. nats://127.0.0.1:4222 .
	NATSVar = "RECOFLOW_TEST_NATS"
	// KinesisVar holds the endpoint URL of a Kinesis API, e.g. moto's
	// http://127.0.0.1:5000 ; any non-empty AWS credentials do for moto.
	// Tests create and delete their own streams.
	KinesisVar = "RECOFLOW_TEST_KINESIS"
	// FirehoseVar holds the endpoint URL of a Firehose API, e.g. moto at
	// http://127.0.0.1:5000 ; tests create their own delivery streams (and
	// the S3 buckets behind them) on it.
	FirehoseVar = "RECOFLOW_TEST_FIREHOSE"
	// RequireVar, when "1", turns every skip for a missing service into a
	// failure.
	RequireVar = "RECOFLOW_REQUIRE_SERVICES"
)

// URL returns the value of the service variable name, or skips (or, with
// RECOFLOW_REQUIRE_SERVICES=1, fails) the test when it is unset.
func URL(t testing.TB, name string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	if os.Getenv(RequireVar) == "1" {
		t.Fatalf("%s is not set but %s=1: this test needs its real service", name, RequireVar)
	}
	t.Skipf("set %s to run this test against a real service", name)
	return ""
}

// Require reports whether service tests must not be skipped.
func Require() bool { return os.Getenv(RequireVar) == "1" }
