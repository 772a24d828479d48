package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/recoflow/recoflow/source"
	sqlitedriver "modernc.org/sqlite"
)

// BusyTimeout is how long a statement waits for a lock held by another
// connection before failing.
const BusyTimeout = 10 * time.Second

// Open opens the SQLite database at path, creating it (and its parent
// directories) when create is true. Without create, a missing file is an
// error wrapping source.ErrNotExist that names the path. The file is
// checked to be a readable SQLite database before Open returns.
func Open(ctx context.Context, path string, create bool) (*source.DB, error) {
	if path == "" {
		return nil, errors.New("sqlite source: empty file path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite source %s: %w", path, err)
	}
	switch st, err := os.Stat(abs); {
	case errors.Is(err, fs.ErrNotExist) && !create:
		return nil, fmt.Errorf("sqlite source %s: file %w", path, source.ErrNotExist)
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			return nil, fmt.Errorf("sqlite source %s: create directory: %w", path, err)
		}
	case err != nil:
		return nil, fmt.Errorf("sqlite source %s: %w", path, err)
	case st.IsDir():
		return nil, fmt.Errorf("sqlite source %s: is a directory, not a database file", path)
	}

	mode := "rw"
	if create {
		mode = "rwc"
	}
	q := url.Values{}
	q.Set("mode", mode)
	q.Set("_txlock", "immediate")
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	dsn := (&url.URL{Scheme: "file", OmitHost: true, Path: abs, RawQuery: q.Encode()}).String()
	connector, err := sqlitedriver.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite source %s: %w", path, err)
	}
	db := sql.OpenDB(connector)
	// A cheap read of the header: fails now, not at first use, when the
	// file is not a SQLite database.
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_schema").Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite source %s: %w", path, err)
	}
	return &source.DB{SQL: db, Dialect: Dialect{}, Address: path}, nil
}

// Dialect is the SQLite source dialect.
type Dialect struct{}

// Name returns "sqlite".
func (Dialect) Name() string { return "sqlite" }

func quote(ident string) string { return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"` }

func quoteList(idents []string) string {
	q := make([]string, len(idents))
	for i, s := range idents {
		q[i] = quote(s)
	}
	return strings.Join(q, ", ")
}

func columnType(c source.Column) string {
	switch c.Type {
	case source.Int, source.SmallInt:
		return "INTEGER"
	case source.VarChar:
		return fmt.Sprintf("VARCHAR(%d)", c.Size)
	case source.Text, source.MediumText:
		return "TEXT"
	case source.Decimal:
		// TEXT affinity keeps "21000.00" as written; DECIMAL would have
		// NUMERIC affinity and store 21000.
		return fmt.Sprintf("TEXT /* DECIMAL(%d,%d) */", c.Size, c.Scale)
	case source.Date:
		return "TEXT /* DATE */"
	case source.Blob:
		return "BLOB"
	default:
		panic(fmt.Sprintf("sqlite: column %s has unknown type %d", c.Name, c.Type))
	}
}

// CreateTable returns CREATE TABLE and CREATE INDEX statements for t.
func (Dialect) CreateTable(t *source.Table) []string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (\n", quote(t.Name))
	for _, c := range t.Columns {
		fmt.Fprintf(&b, "  %s %s", quote(c.Name), columnType(c))
		if !c.Nullable {
			b.WriteString(" NOT NULL")
		}
		b.WriteString(",\n")
	}
	fmt.Fprintf(&b, "  PRIMARY KEY (%s)", quoteList(t.PrimaryKey))
	for _, fk := range t.ForeignKeys {
		fmt.Fprintf(&b, ",\n  FOREIGN KEY (%s) REFERENCES %s (%s)", quoteList(fk.Columns), quote(fk.Ref), quoteList(fk.RefColumns))
	}
	b.WriteString("\n)")
	if len(t.PrimaryKey) > 1 && len(t.Indexes) == 0 && len(t.ForeignKeys) == 0 {
		// A small row clustered on a composite key (ratings): store it in
		// the key's B-tree instead of a rowid table plus an index.
		b.WriteString(" WITHOUT ROWID")
	}
	stmts := []string{b.String()}
	for _, idx := range t.Indexes {
		name := t.Name + "_" + strings.Join(idx, "_")
		stmts = append(stmts, fmt.Sprintf("CREATE INDEX %s ON %s (%s)", quote(name), quote(t.Name), quoteList(idx)))
	}
	return stmts
}

// TablesQuery lists the user tables of the database.
func (Dialect) TablesQuery() string {
	return "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
}

// Load tuning: rows per INSERT statement (bounded by SQLite's limit of
// 32766 parameters) and rows per transaction.
const (
	maxRowsPerStatement = 256
	rowsPerTransaction  = 100_000
)

// Load inserts rows with multi-row prepared INSERT statements, committing
// every 100,000 rows.
func (Dialect) Load(ctx context.Context, db *sql.DB, t *source.Table, rows source.Rows) (int64, error) {
	ncol := len(t.Columns)
	perStmt := max(1, min(maxRowsPerStatement, 32766/ncol))
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()

	l := &loader{ctx: ctx, conn: conn, t: t, perStmt: perStmt, stmts: map[int]*sql.Stmt{}}
	defer l.closeStmts()
	args := make([]any, 0, perStmt*ncol)
	pending := 0
	for row, err := range rows {
		if err != nil {
			l.rollback()
			return l.done, err
		}
		if len(row) != ncol {
			l.rollback()
			return l.done, fmt.Errorf("row %d has %d values for %d columns", l.done+int64(pending)+1, len(row), ncol)
		}
		for _, v := range row {
			args = append(args, copyValue(v))
		}
		pending++
		if pending == perStmt {
			if err := l.insert(pending, args); err != nil {
				l.rollback()
				return l.done, err
			}
			args, pending = args[:0], 0
		}
	}
	if pending > 0 {
		if err := l.insert(pending, args); err != nil {
			l.rollback()
			return l.done, err
		}
	}
	if err := l.commit(); err != nil {
		return l.done - l.inTx, err
	}
	return l.done, nil
}

// copyValue detaches a []byte from the producer's buffer, which may be
// reused after yield returns.
func copyValue(v any) any {
	if b, ok := v.([]byte); ok {
		return append([]byte(nil), b...)
	}
	return v
}

type loader struct {
	ctx     context.Context
	conn    *sql.Conn
	t       *source.Table
	perStmt int
	tx      *sql.Tx
	stmts   map[int]*sql.Stmt // by rows per statement, prepared on tx
	done    int64             // rows inserted, committed or not
	inTx    int64             // rows inserted in the open transaction
}

func (l *loader) insertSQL(nrows int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", quote(l.t.Name), quoteList(l.t.ColumnNames()))
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?,", len(l.t.Columns)), ",") + ")"
	for i := range nrows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(tuple)
	}
	return b.String()
}

func (l *loader) insert(nrows int, args []any) error {
	if l.tx == nil {
		tx, err := l.conn.BeginTx(l.ctx, nil)
		if err != nil {
			return err
		}
		l.tx = tx
	}
	stmt := l.stmts[nrows]
	if stmt == nil {
		var err error
		if stmt, err = l.tx.PrepareContext(l.ctx, l.insertSQL(nrows)); err != nil {
			return err
		}
		l.stmts[nrows] = stmt
	}
	if _, err := stmt.ExecContext(l.ctx, args...); err != nil {
		return fmt.Errorf("insert rows %d-%d: %w", l.done+1, l.done+int64(nrows), err)
	}
	l.done += int64(nrows)
	l.inTx += int64(nrows)
	if l.inTx >= rowsPerTransaction {
		return l.commit()
	}
	return nil
}

func (l *loader) commit() error {
	if l.tx == nil {
		return nil
	}
	l.closeStmts()
	err := l.tx.Commit()
	l.tx = nil
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	l.inTx = 0
	return nil
}

func (l *loader) rollback() {
	if l.tx == nil {
		return
	}
	l.closeStmts()
	_ = l.tx.Rollback()
	l.tx = nil
	l.done -= l.inTx
	l.inTx = 0
}

func (l *loader) closeStmts() {
	for k, s := range l.stmts {
		s.Close()
		delete(l.stmts, k)
	}
}
