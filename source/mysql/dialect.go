package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"
	"github.com/recoflow/recoflow/source"
)

// Dialect is the MySQL/MariaDB source dialect.
type Dialect struct{}

// Name returns "mysql".
func (Dialect) Name() string { return "mysql" }

func quote(ident string) string { return "`" + strings.ReplaceAll(ident, "`", "``") + "`" }

func quoteList(idents []string) string {
	q := make([]string, len(idents))
	for i, s := range idents {
		q[i] = quote(s)
	}
	return strings.Join(q, ",")
}

func columnType(c source.Column) string {
	switch c.Type {
	case source.Int:
		return "INT"
	case source.SmallInt:
		return "SMALLINT"
	case source.VarChar:
		return fmt.Sprintf("VARCHAR(%d)", c.Size)
	case source.Text:
		return "TEXT"
	case source.MediumText:
		return "MEDIUMTEXT"
	case source.Decimal:
		return fmt.Sprintf("DECIMAL(%d,%d)", c.Size, c.Scale)
	case source.Date:
		return "DATE"
	case source.Blob:
		return "MEDIUMBLOB"
	default:
		panic(fmt.Sprintf("mysql: column %s has unknown type %d", c.Name, c.Type))
	}
}

// CreateTable returns one CREATE TABLE statement for t, with its keys and
// foreign keys, as in the classicmodels dump (InnoDB, utf8mb4).
func (Dialect) CreateTable(t *source.Table) []string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (\n", quote(t.Name))
	for _, c := range t.Columns {
		fmt.Fprintf(&b, "  %s %s", quote(c.Name), columnType(c))
		if c.Nullable {
			b.WriteString(" DEFAULT NULL")
		} else {
			b.WriteString(" NOT NULL")
		}
		b.WriteString(",\n")
	}
	fmt.Fprintf(&b, "  PRIMARY KEY (%s)", quoteList(t.PrimaryKey))
	for _, idx := range t.Indexes {
		fmt.Fprintf(&b, ",\n  KEY %s (%s)", quote(strings.Join(idx, "_")), quoteList(idx))
	}
	for _, fk := range t.ForeignKeys {
		fmt.Fprintf(&b, ",\n  FOREIGN KEY (%s) REFERENCES %s (%s)", quoteList(fk.Columns), quote(fk.Ref), quoteList(fk.RefColumns))
	}
	b.WriteString("\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
	return []string{b.String()}
}

// TablesQuery lists the base tables of the connection's database.
func (Dialect) TablesQuery() string {
	return "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'"
}

// Load tuning.
const (
	// maxRowsPerInsert bounds a multi-row INSERT (the protocol allows
	// 65,535 placeholders per statement).
	maxRowsPerInsert = 1000
	// rowsPerInsertTx is the number of rows per transaction on the INSERT
	// path.
	rowsPerInsertTx = 50_000
)

// rowsPerInfile is the number of rows per LOAD DATA statement (one
// transaction each): large enough to amortise the statement, small enough to
// keep InnoDB's undo log modest. A variable so tests can cross chunk
// boundaries cheaply.
var rowsPerInfile int64 = 1_000_000

// infileDisabled makes Load take the INSERT path, for tests.
var infileDisabled bool

// Load streams rows with LOAD DATA LOCAL INFILE, or with multi-row INSERTs
// when the server does not allow local infile.
func (Dialect) Load(ctx context.Context, db *sql.DB, t *source.Table, rows source.Rows) (int64, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var localInfile bool
	if err := conn.QueryRowContext(ctx, "SELECT @@local_infile").Scan(&localInfile); err != nil {
		return 0, fmt.Errorf("read local_infile: %w", err)
	}
	next, stop := iter.Pull2(iter.Seq2[[]any, error](rows))
	defer stop()
	src := &rowSource{next: next, ncol: len(t.Columns)}
	if localInfile && !infileDisabled {
		n, err := loadInfile(ctx, conn, t, src)
		var me *mysql.MySQLError
		refused := errors.As(err, &me) && (me.Number == errNotAllowedCommand || me.Number == errLocalFilesDisabled)
		if !refused || src.pulled > 0 {
			return n, err
		}
	}
	return loadInsert(ctx, conn, t, src)
}

// rowSource pulls rows one at a time and checks their width.
type rowSource struct {
	next   func() ([]any, error, bool)
	ncol   int
	pulled int64
	ended  bool
}

// row returns the next row, or nil at the end.
func (s *rowSource) row() ([]any, error) {
	if s.ended {
		return nil, nil
	}
	row, err, ok := s.next()
	if !ok {
		s.ended = true
		return nil, nil
	}
	if err != nil {
		s.ended = true
		return nil, err
	}
	s.pulled++
	if len(row) != s.ncol {
		s.ended = true
		return nil, fmt.Errorf("row %d has %d values for %d columns", s.pulled, len(row), s.ncol)
	}
	return row, nil
}

var readerSeq atomic.Uint64

// loadInfile runs LOAD DATA statements of up to rowsPerInfile rows until
// the source is exhausted.
func loadInfile(ctx context.Context, conn *sql.Conn, t *source.Table, src *rowSource) (int64, error) {
	var total int64
	for !src.ended {
		name := fmt.Sprintf("recoflow-%s-%d", t.Name, readerSeq.Add(1))
		r := &infileReader{ctx: ctx, src: src, limit: rowsPerInfile, first: src.pulled + 1}
		// The reader name and identifiers are generated here, not input;
		// the data travels outside the statement.
		stmt := fmt.Sprintf("LOAD DATA LOCAL INFILE 'Reader::%s' INTO TABLE %s CHARACTER SET utf8mb4 "+
			`FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n' (%s)`,
			name, quote(t.Name), quoteList(t.ColumnNames()))
		n, err := loadChunk(ctx, conn, name, stmt, r)
		if err != nil {
			if r.err != nil {
				// The driver ends the transfer early when the reader fails.
				err = r.err
			}
			return total, err
		}
		total += n
	}
	return total, nil
}

// loadChunk runs one LOAD DATA statement in a transaction, committed only
// when the server stored every row sent, unchanged.
func loadChunk(ctx context.Context, conn *sql.Conn, name, stmt string, r *infileReader) (int64, error) {
	mysql.RegisterReaderHandler(name, func() io.Reader { return r })
	defer mysql.DeregisterReaderHandler(name)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, stmt)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if err := checkWarnings(ctx, tx, n, r.rows); err != nil {
		return 0, fmt.Errorf("rows %d-%d: %w", r.first, r.first+r.rows-1, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return n, nil
}

// checkWarnings fails when LOAD DATA LOCAL stored fewer rows than it was
// sent (duplicates are skipped with a warning) or adjusted any value.
func checkWarnings(ctx context.Context, tx *sql.Tx, stored, sent int64) error {
	var warnings int64
	if err := tx.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&warnings); err != nil {
		return fmt.Errorf("read warning count: %w", err)
	}
	if stored == sent && warnings == 0 {
		return nil
	}
	var msgs []string
	if warnings > 0 {
		rows, err := tx.QueryContext(ctx, "SHOW WARNINGS LIMIT 3")
		if err == nil {
			for rows.Next() {
				var level, msg string
				var code int
				if rows.Scan(&level, &code, &msg) == nil {
					msgs = append(msgs, msg)
				}
			}
			rows.Close()
		}
	}
	return fmt.Errorf("server stored %d of %d rows with %d warnings: %s", stored, sent, warnings, strings.Join(msgs, "; "))
}

// infileReader encodes rows in LOAD DATA's default text format: fields
// separated by tabs, lines by newlines, backslash escapes, \N for NULL.
type infileReader struct {
	ctx   context.Context
	src   *rowSource
	limit int64
	first int64 // number of the first row of this chunk
	rows  int64 // rows encoded by this reader
	buf   []byte
	off   int
	err   error
}

func (r *infileReader) Read(p []byte) (int, error) {
	if r.off == len(r.buf) {
		if err := r.fill(len(p)); err != nil {
			r.err = err
			return 0, err
		}
		if len(r.buf) == 0 {
			return 0, io.EOF
		}
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

// fill encodes rows until about want bytes are buffered, the chunk limit
// is reached, or the rows end.
func (r *infileReader) fill(want int) error {
	r.buf, r.off = r.buf[:0], 0
	want = max(want, 64<<10)
	for len(r.buf) < want && r.rows < r.limit {
		if r.rows%4096 == 0 {
			if err := r.ctx.Err(); err != nil {
				return err
			}
		}
		row, err := r.src.row()
		if err != nil {
			return err
		}
		if row == nil {
			return nil
		}
		for i, v := range row {
			if i > 0 {
				r.buf = append(r.buf, '\t')
			}
			if r.buf, err = appendField(r.buf, v); err != nil {
				return fmt.Errorf("row %d, column %d: %w", r.src.pulled, i+1, err)
			}
		}
		r.buf = append(r.buf, '\n')
		r.rows++
	}
	return nil
}

// appendField appends v in LOAD DATA's escaped text form.
func appendField(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, '\\', 'N'), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case float64:
		return strconv.AppendFloat(b, v, 'g', -1, 64), nil
	case string:
		return appendEscaped(b, v), nil
	case []byte:
		return appendEscaped(b, v), nil
	default:
		return b, fmt.Errorf("unsupported value type %T", v)
	}
}

func appendEscaped[S string | []byte](b []byte, s S) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case 0:
			b = append(b, '\\', '0')
		default:
			b = append(b, c)
		}
	}
	return b
}

// loadInsert is the fallback: multi-row prepared INSERT statements,
// committed every rowsPerInsertTx rows.
func loadInsert(ctx context.Context, conn *sql.Conn, t *source.Table, src *rowSource) (int64, error) {
	ncol := len(t.Columns)
	perStmt := max(1, min(maxRowsPerInsert, 65535/ncol))
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?,", ncol), ",") + ")"
	insertSQL := func(n int) string {
		return fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", quote(t.Name), quoteList(t.ColumnNames()),
			strings.TrimSuffix(strings.Repeat(tuple+",", n), ","))
	}
	var committed, inTx int64
	var tx *sql.Tx
	var full *sql.Stmt
	rollback := func() {
		if tx != nil {
			_ = tx.Rollback()
			tx, full = nil, nil
		}
	}
	defer rollback()
	exec := func(n int, args []any) error {
		if tx == nil {
			var err error
			if tx, err = conn.BeginTx(ctx, nil); err != nil {
				return err
			}
		}
		var err error
		if n == perStmt {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, insertSQL(n)); err != nil {
					return err
				}
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, insertSQL(n), args...)
		}
		if err != nil {
			return fmt.Errorf("insert rows %d-%d: %w", committed+inTx+1, committed+inTx+int64(n), err)
		}
		inTx += int64(n)
		if inTx >= rowsPerInsertTx {
			if full != nil {
				full.Close()
			}
			err := tx.Commit()
			tx, full = nil, nil
			if err != nil {
				return fmt.Errorf("commit: %w", err)
			}
			committed += inTx
			inTx = 0
		}
		return nil
	}
	args := make([]any, 0, perStmt*ncol)
	pending := 0
	for {
		row, err := src.row()
		if err != nil {
			return committed, err
		}
		if row == nil {
			break
		}
		for _, v := range row {
			if b, ok := v.([]byte); ok {
				v = append([]byte(nil), b...)
			}
			args = append(args, v)
		}
		pending++
		if pending == perStmt {
			if err := exec(pending, args); err != nil {
				return committed, err
			}
			args, pending = args[:0], 0
		}
	}
	if pending > 0 {
		if err := exec(pending, args); err != nil {
			return committed, err
		}
	}
	if tx != nil {
		if full != nil {
			full.Close()
		}
		err := tx.Commit()
		tx, full = nil, nil
		if err != nil {
			return committed, fmt.Errorf("commit: %w", err)
		}
		committed += inTx
	}
	return committed, nil
}
