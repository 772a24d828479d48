// Package mysql is the source backend for MySQL 8 and MariaDB 10.11, over
// github.com/go-sql-driver/mysql.
//
// Open takes a URL, mysql://user:pass@host:port/db?params, where params are
// the driver's DSN parameters (tls=true, timeout=5s, …). The password is
// handed to the driver in its Config, never pasted into a string, and never
// appears in an error or in DB.Address ("host:port/db").
//
// Tables are InnoDB with utf8mb4 and the classicmodels column types
// (DECIMAL(10,2) stays DECIMAL). Bulk loads stream rows with
// LOAD DATA LOCAL INFILE from an in-memory reader — no temporary file — in
// chunks of a million rows; when the server refuses local infile
// (local_infile=OFF, the MySQL 8 default) they fall back to multi-row
// prepared INSERTs in large transactions. Either way a row the server
// rejects or silently adjusts (LOAD DATA LOCAL turns duplicate keys and
// truncations into warnings) makes the load fail.
package mysql
