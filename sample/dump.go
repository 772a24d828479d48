package sample

import (
	"bytes"
	"fmt"
	"strconv"
)

// Table is the data one MySQL dump holds for one table: the column names of
// its INSERT statements and every row, in file order.
//
// A row has one value per column: nil for NULL, a string for a quoted
// literal (escapes decoded), an int64 for an integer literal, or a float64
// for any other unquoted number. The classicmodels dump quotes its DECIMAL
// values ('21000.00'), so they arrive as exact strings.
type Table struct {
	Name    string
	Columns []string
	Rows    [][]any
}

// Column returns the index of the named column, or -1.
func (t *Table) Column(name string) int {
	for i, c := range t.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// SyntaxError reports where a dump could not be parsed.
type SyntaxError struct {
	Line, Col int // 1-based position of the problem
	Msg       string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("dump line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// ParseDump extracts the data of every `INSERT INTO t (cols) VALUES (…),(…);`
// statement of a MySQL dump, as written by mysqldump or SQLyog. Other
// statements (CREATE, DROP, SET, USE) and comments — including executable
// /*!…*/ comments — are skipped. Tables come back in the order of their first
// INSERT; several INSERTs into one table are concatenated.
//
// The grammar understood is what dumps use: single- or double-quoted strings
// with backslash escapes (\0 \b \n \r \t \Z \\ \' \"; \% and \_ keep their
// backslash, as in MySQL) and doubled quotes, NULL, signed integers and
// decimals with an optional exponent, backquoted or bare identifiers, any
// whitespace (CRLF included). An INSERT without a column list, a row whose
// width differs from its column list, or an unterminated literal is an error.
func ParseDump(src []byte) ([]Table, error) {
	p := &dumpParser{src: src}
	var tables []Table
	index := map[string]int{}
	for {
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if p.eof() {
			return tables, nil
		}
		if !p.keyword("insert") {
			if err := p.skipStatement(); err != nil {
				return nil, err
			}
			continue
		}
		t, err := p.insert()
		if err != nil {
			return nil, err
		}
		i, ok := index[t.Name]
		if !ok {
			index[t.Name] = len(tables)
			tables = append(tables, t)
			continue
		}
		if !equalStrings(tables[i].Columns, t.Columns) {
			return nil, fmt.Errorf("table %s: INSERT statements with different column lists", t.Name)
		}
		tables[i].Rows = append(tables[i].Rows, t.Rows...)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

type dumpParser struct {
	src []byte
	pos int
}

func (p *dumpParser) eof() bool { return p.pos >= len(p.src) }

func (p *dumpParser) errorAt(pos int, format string, args ...any) error {
	pos = min(pos, len(p.src))
	line := 1 + bytes.Count(p.src[:pos], []byte{'\n'})
	col := pos - bytes.LastIndexByte(p.src[:pos], '\n')
	return &SyntaxError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// skipSpace skips whitespace and comments: /* … */ (executable ones too),
// "-- " to the end of the line, and "#" to the end of the line.
func (p *dumpParser) skipSpace() error {
	for !p.eof() {
		c := p.src[p.pos]
		switch {
		case isSpace(c):
			p.pos++
		case c == '/' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '*':
			end := bytes.Index(p.src[p.pos+2:], []byte("*/"))
			if end < 0 {
				return p.errorAt(p.pos, "unterminated /* comment")
			}
			p.pos += 2 + end + 2
		case c == '#' || c == '-' && p.pos+2 < len(p.src) && p.src[p.pos+1] == '-' && isSpace(p.src[p.pos+2]):
			end := bytes.IndexByte(p.src[p.pos:], '\n')
			if end < 0 {
				p.pos = len(p.src)
			} else {
				p.pos += end + 1
			}
		default:
			return nil
		}
	}
	return nil
}

// keyword consumes the case-insensitive word w if it comes next and is not
// the prefix of a longer identifier.
func (p *dumpParser) keyword(w string) bool {
	end := p.pos + len(w)
	if end > len(p.src) || !bytes.EqualFold(p.src[p.pos:end], []byte(w)) {
		return false
	}
	if end < len(p.src) && isIdentByte(p.src[end]) {
		return false
	}
	p.pos = end
	return true
}

// skipStatement moves past the next ';' that is outside quotes and comments.
func (p *dumpParser) skipStatement() error {
	for !p.eof() {
		if err := p.skipSpace(); err != nil {
			return err
		}
		if p.eof() {
			return nil
		}
		switch c := p.src[p.pos]; c {
		case ';':
			p.pos++
			return nil
		case '\'', '"':
			if _, err := p.quoted(c); err != nil {
				return err
			}
		case '`':
			if _, err := p.backquoted(); err != nil {
				return err
			}
		default:
			p.pos++
		}
	}
	return nil
}

// expect consumes the byte c after optional space, or fails naming what.
func (p *dumpParser) expect(c byte, what string) error {
	if err := p.skipSpace(); err != nil {
		return err
	}
	if p.eof() || p.src[p.pos] != c {
		return p.errorAt(p.pos, "want %s", what)
	}
	p.pos++
	return nil
}

// insert parses an INSERT statement whose keyword has been consumed.
func (p *dumpParser) insert() (Table, error) {
	var t Table
	if err := p.skipSpace(); err != nil {
		return t, err
	}
	for _, mod := range []string{"low_priority", "delayed", "high_priority", "ignore"} {
		if p.keyword(mod) {
			if err := p.skipSpace(); err != nil {
				return t, err
			}
		}
	}
	p.keyword("into")
	name, err := p.qualifiedName()
	if err != nil {
		return t, err
	}
	t.Name = name
	if err := p.expect('(', "'(' and the column list after INSERT INTO "+name); err != nil {
		return t, err
	}
	seen := map[string]bool{}
	for {
		if err := p.skipSpace(); err != nil {
			return t, err
		}
		colPos := p.pos
		col, err := p.identifier()
		if err != nil {
			return t, err
		}
		if seen[col] {
			return t, p.errorAt(colPos, "column %s listed twice", col)
		}
		seen[col] = true
		t.Columns = append(t.Columns, col)
		if err := p.skipSpace(); err != nil {
			return t, err
		}
		if !p.eof() && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if err := p.expect(')', "',' or ')' in the column list"); err != nil {
			return t, err
		}
		break
	}
	if err := p.skipSpace(); err != nil {
		return t, err
	}
	if !p.keyword("values") && !p.keyword("value") {
		return t, p.errorAt(p.pos, "want VALUES in INSERT INTO %s", name)
	}
	for {
		row, err := p.tuple(len(t.Columns))
		if err != nil {
			return t, err
		}
		t.Rows = append(t.Rows, row)
		if err := p.skipSpace(); err != nil {
			return t, err
		}
		if p.eof() {
			return t, nil
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case ';':
			p.pos++
			return t, nil
		default:
			return t, p.errorAt(p.pos, "want ',' or ';' after a row of %s", name)
		}
	}
}

// qualifiedName reads a table name, possibly qualified by a database name,
// and returns the table part.
func (p *dumpParser) qualifiedName() (string, error) {
	if err := p.skipSpace(); err != nil {
		return "", err
	}
	name, err := p.identifier()
	if err != nil {
		return "", err
	}
	if !p.eof() && p.src[p.pos] == '.' {
		p.pos++
		return p.identifier()
	}
	return name, nil
}

// identifier reads a backquoted or bare identifier.
func (p *dumpParser) identifier() (string, error) {
	if p.eof() {
		return "", p.errorAt(p.pos, "want an identifier, got end of input")
	}
	if p.src[p.pos] == '`' {
		return p.backquoted()
	}
	start := p.pos
	for !p.eof() && isIdentByte(p.src[p.pos]) {
		p.pos++
	}
	if p.pos == start {
		return "", p.errorAt(p.pos, "want an identifier, got %q", p.src[p.pos])
	}
	return string(p.src[start:p.pos]), nil
}

// backquoted reads a `quoted` identifier; a doubled backquote stands for one.
func (p *dumpParser) backquoted() (string, error) {
	start := p.pos
	p.pos++
	var b []byte
	for {
		i := bytes.IndexByte(p.src[p.pos:], '`')
		if i < 0 {
			return "", p.errorAt(start, "unterminated `identifier`")
		}
		b = append(b, p.src[p.pos:p.pos+i]...)
		p.pos += i + 1
		if p.pos < len(p.src) && p.src[p.pos] == '`' {
			b = append(b, '`')
			p.pos++
			continue
		}
		if len(b) == 0 {
			return "", p.errorAt(start, "empty `identifier`")
		}
		return string(b), nil
	}
}

// tuple reads one parenthesised row of exactly n values.
func (p *dumpParser) tuple(n int) ([]any, error) {
	if err := p.expect('(', "'(' starting a row"); err != nil {
		return nil, err
	}
	row := make([]any, 0, n)
	for {
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		row = append(row, v)
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if !p.eof() && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if err := p.expect(')', "',' or ')' in a row"); err != nil {
			return nil, err
		}
		if len(row) != n {
			return nil, p.errorAt(p.pos-1, "row has %d values for %d columns", len(row), n)
		}
		return row, nil
	}
}

// value reads a literal: a quoted string, NULL or a number.
func (p *dumpParser) value() (any, error) {
	if p.eof() {
		return nil, p.errorAt(p.pos, "want a value, got end of input")
	}
	c := p.src[p.pos]
	switch {
	case c == '\'' || c == '"':
		return p.quoted(c)
	case c == 'n' || c == 'N':
		if p.keyword("null") {
			return nil, nil
		}
	case c == '-' || c == '+' || c == '.' || c >= '0' && c <= '9':
		return p.number()
	}
	return nil, p.errorAt(p.pos, "want a quoted string, NULL or a number")
}

// number reads [+-]digits[.digits][e[+-]digits].
func (p *dumpParser) number() (any, error) {
	start := p.pos
	if c := p.src[p.pos]; c == '-' || c == '+' {
		p.pos++
	}
	digits := p.digits()
	isInt := true
	if !p.eof() && p.src[p.pos] == '.' {
		p.pos++
		isInt = false
		digits += p.digits()
	}
	if digits == 0 {
		return nil, p.errorAt(start, "malformed number")
	}
	if !p.eof() && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		p.pos++
		isInt = false
		if !p.eof() && (p.src[p.pos] == '-' || p.src[p.pos] == '+') {
			p.pos++
		}
		if p.digits() == 0 {
			return nil, p.errorAt(start, "malformed number exponent")
		}
	}
	if !p.eof() && isIdentByte(p.src[p.pos]) {
		return nil, p.errorAt(start, "malformed number")
	}
	text := string(p.src[start:p.pos])
	if isInt {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return n, nil
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return nil, p.errorAt(start, "number %s out of range", text)
	}
	return f, nil
}

func (p *dumpParser) digits() int {
	start := p.pos
	for !p.eof() && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
	}
	return p.pos - start
}

// quoted reads a string literal delimited by q.
func (p *dumpParser) quoted(q byte) (string, error) {
	start := p.pos
	p.pos++
	var b []byte
	for {
		// Copy the run up to the next quote or backslash at once.
		i := p.pos
		for i < len(p.src) && p.src[i] != q && p.src[i] != '\\' {
			i++
		}
		b = append(b, p.src[p.pos:i]...)
		p.pos = i
		if p.eof() {
			return "", p.errorAt(start, "unterminated string")
		}
		if p.src[p.pos] == q {
			p.pos++
			if !p.eof() && p.src[p.pos] == q { // doubled quote
				b = append(b, q)
				p.pos++
				continue
			}
			return string(b), nil
		}
		// Backslash escape.
		if p.pos+1 >= len(p.src) {
			return "", p.errorAt(start, "unterminated string")
		}
		e := p.src[p.pos+1]
		p.pos += 2
		switch e {
		case '0':
			b = append(b, 0)
		case 'b':
			b = append(b, '\b')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'Z':
			b = append(b, 0x1a)
		case '%', '_':
			b = append(b, '\\', e)
		default:
			b = append(b, e)
		}
	}
}
