package dataset

import (
	"fmt"
	"slices"
	"strings"

	"github.com/agnivade/levenshtein"
)

// Problem is one thing wrong with a spec: the key path it concerns (e.g.
// "items.features[2].kind"), the line of the spec file that holds it when
// the spec came from a file, and what is wrong.
type Problem struct {
	File string
	Line int
	Path string
	Msg  string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error lists every problem found in a spec, in file order. Parse,
// Validate and Check return it.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0].String()
	}
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = "  " + p.String()
	}
	return fmt.Sprintf("%d problems in the dataset spec:\n%s", len(e.Problems), strings.Join(lines, "\n"))
}

// problems collects Problems while a spec is examined.
type problems struct {
	list []Problem
}

func (ps *problems) add(path, format string, args ...any) {
	ps.list = append(ps.list, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (ps *problems) addLine(line int, path, format string, args ...any) {
	ps.list = append(ps.list, Problem{Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// err returns nil or an *Error holding the problems, located with o and
// sorted by line (then path).
func (ps *problems) err(o *origin) error {
	if len(ps.list) == 0 {
		return nil
	}
	out := slices.Clone(ps.list)
	for i := range out {
		file, line := o.locate(out[i].Path)
		out[i].File = file
		if out[i].Line == 0 {
			out[i].Line = line
		}
	}
	slices.SortStableFunc(out, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return 0
	})
	return &Error{Problems: out}
}

// origin remembers where a parsed spec came from: its file name and the
// line of each key path.
type origin struct {
	file  string
	lines map[string]int
}

// locate returns the file and the line of path, or of its nearest parent
// that has one.
func (o *origin) locate(path string) (string, int) {
	if o == nil {
		return "", 0
	}
	for p := path; ; {
		if l, ok := o.lines[p]; ok {
			return o.file, l
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			return o.file, o.lines[""]
		}
		p = p[:i]
	}
}

// suggest returns `; did you mean "x"?` for the candidate nearest to s by
// edit distance, when it is near enough to be a likely typo, or "".
func suggest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := levenshtein.ComputeDistance(strings.ToLower(s), strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	if bestD > max(2, len(s)/2) {
		// Not a typo; perhaps an abbreviation ("int" for "integer").
		best = ""
		for _, c := range candidates {
			if len(s) >= 2 && strings.HasPrefix(strings.ToLower(c), strings.ToLower(s)) {
				best = c
				break
			}
		}
		if best == "" {
			return ""
		}
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// oneOf formats a list of valid values for a message: "a, b or c".
func oneOf(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = fmt.Sprintf("%q", v)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
