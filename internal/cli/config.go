package cli

import (
	"fmt"
	"os"
	"sort"
	"strconv"

	"github.com/agnivade/levenshtein"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// configFile holds the values of a YAML config file. Top-level scalar keys
// apply to every command; a top-level mapping named after a command applies
// to that command (and to its subcommands) and wins over the top level.
//
// The top-level key dataset is the exception: it is the dataset spec (a
// spec file's path, or the spec inline) that every command runs on, not
// the value of the --dataset flags (see datasetflag.go). Inside a
// section, dataset is that command's flag as usual.
type configFile struct {
	path     string
	top      map[string]configValue
	sections map[string]map[string]configValue
	// sectionLines maps a section's name to the line that opens it.
	sectionLines map[string]int
	// dataset is the top-level dataset key, or nil.
	dataset *configDataset
}

// configDatasetKey is the top-level key holding the dataset spec.
const configDatasetKey = "dataset"

// configValue is one scalar of the file and the line it is on.
type configValue struct {
	value string
	line  int
}

func loadConfigFile(path string) (configFile, error) {
	cf := configFile{
		path:         path,
		top:          map[string]configValue{},
		sections:     map[string]map[string]configValue{},
		sectionLines: map[string]int{},
	}
	if path == "" {
		return cf, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cf, fmt.Errorf("read config file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return cf, fmt.Errorf("config file %s: %w", path, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 { // empty file
		return cf, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" { // only comments
		return cf, nil
	}
	if root.Kind != yaml.MappingNode {
		return cf, fmt.Errorf("config file %s, line %d: want a mapping of flag names to values (and sections named after commands)", path, root.Line)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if prev, dup := cf.sectionLines[k.Value]; dup {
			return cf, fmt.Errorf("config file %s, line %d: section %q is already defined on line %d", path, k.Line, k.Value, prev)
		}
		if prev, dup := cf.top[k.Value]; dup {
			return cf, fmt.Errorf("config file %s, line %d: key %q is already defined on line %d", path, k.Line, k.Value, prev.line)
		}
		if k.Value == configDatasetKey {
			if cf.dataset != nil {
				return cf, fmt.Errorf("config file %s, line %d: key %q is already defined on line %d", path, k.Line, k.Value, cf.dataset.line)
			}
			next := 0
			if i+2 < len(root.Content) {
				next = root.Content[i+2].Line
			}
			d, err := newConfigDataset(path, data, k, v, next)
			if err != nil {
				return cf, err
			}
			cf.dataset = d
			continue
		}
		if v.Kind == yaml.MappingNode {
			sec := map[string]configValue{}
			for j := 0; j+1 < len(v.Content); j += 2 {
				sk, sv := v.Content[j], v.Content[j+1]
				if prev, dup := sec[sk.Value]; dup {
					return cf, fmt.Errorf("config file %s, line %d: key %s.%s is already defined on line %d", path, sk.Line, k.Value, sk.Value, prev.line)
				}
				s, err := scalarString(sv)
				if err != nil {
					return cf, fmt.Errorf("config file %s, line %d, key %s.%s: %w", path, sk.Line, k.Value, sk.Value, err)
				}
				sec[sk.Value] = configValue{s, sk.Line}
			}
			cf.sections[k.Value] = sec
			cf.sectionLines[k.Value] = k.Line
			continue
		}
		s, err := scalarString(v)
		if err != nil {
			return cf, fmt.Errorf("config file %s, line %d, key %s: %w", path, k.Line, k.Value, err)
		}
		cf.top[k.Value] = configValue{s, k.Line}
	}
	return cf, nil
}

// scalarString turns a scalar node into the text a flag's Set takes.
func scalarString(n *yaml.Node) (string, error) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("want a scalar value, got a %s", kindName(n.Kind))
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return "", err
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case nil:
		return "", nil
	default:
		return n.Value, nil // timestamps and other tagged scalars: as written
	}
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	default:
		return "non-scalar"
	}
}

// lookup finds key for cmd: in the section named after cmd, then in the
// sections of its parent commands (a "vectors" section applies to
// "vectors load"), then at the top level.
func (c configFile) lookup(cmd *cobra.Command, key string) (configValue, bool) {
	for p := cmd; p != nil && p.HasParent(); p = p.Parent() {
		if sec, ok := c.sections[p.Name()]; ok {
			if v, ok := sec[key]; ok {
				return v, true
			}
		}
	}
	v, ok := c.top[key]
	return v, ok
}

// validate rejects keys that no command reads: a top-level key must name a
// flag of some command, a section a command, and a key inside a section a
// flag of that command or of its subcommands. The error names the file, the
// line and the nearest valid key.
func (c configFile) validate(root *cobra.Command) error {
	all := map[string]bool{}
	perCommand := map[string]map[string]bool{}
	var walk func(cmd *cobra.Command) map[string]bool
	walk = func(cmd *cobra.Command) map[string]bool {
		own := map[string]bool{}
		add := func(f *pflag.Flag) {
			if f.Name != "help" && f.Name != "config" {
				own[f.Name] = true
				all[f.Name] = true
			}
		}
		cmd.LocalFlags().VisitAll(add)
		cmd.InheritedFlags().VisitAll(add)
		for _, sub := range cmd.Commands() {
			if sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			for k := range walk(sub) {
				own[k] = true
			}
		}
		if cmd.HasParent() {
			if perCommand[cmd.Name()] == nil {
				perCommand[cmd.Name()] = map[string]bool{}
			}
			for k := range own {
				perCommand[cmd.Name()][k] = true
			}
		}
		return own
	}
	walk(root)

	// Report the first problem in file order.
	type problem struct {
		line int
		msg  string
	}
	var problems []problem
	for k, v := range c.top {
		if !all[k] {
			problems = append(problems, problem{v.line, fmt.Sprintf("unknown key %q%s", k, suggest(k, all))})
		}
	}
	for name, sec := range c.sections {
		valid, ok := perCommand[name]
		if !ok {
			cmds := map[string]bool{}
			for n := range perCommand {
				cmds[n] = true
			}
			problems = append(problems, problem{c.sectionLines[name], fmt.Sprintf("unknown section %q: no command has that name%s", name, suggest(name, cmds))})
			continue
		}
		for k, v := range sec {
			if !valid[k] {
				problems = append(problems, problem{v.line, fmt.Sprintf("unknown key %q in section %q: %s has no flag --%s%s", k, name, name, k, suggest(k, valid))})
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Slice(problems, func(i, j int) bool { return problems[i].line < problems[j].line })
	p := problems[0]
	more := ""
	if len(problems) > 1 {
		more = fmt.Sprintf(" (and %d more unknown keys)", len(problems)-1)
	}
	return fmt.Errorf("config file %s, line %d: %s%s", c.path, p.line, p.msg, more)
}

// suggest returns `; did you mean "x"?` for the valid name nearest to key
// by edit distance, or "" when there is none.
func suggest(key string, valid map[string]bool) string {
	best, bestD := "", -1
	for v := range valid {
		d := levenshtein.ComputeDistance(key, v)
		if bestD < 0 || d < bestD || (d == bestD && v < best) {
			best, bestD = v, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}
