package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads and parses the spec file at path (see Parse).
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read dataset spec: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes a YAML spec strictly, validates it (Validate) and fills the
// defaults (WithDefaults). file names the spec in messages. Every problem
// is reported, not only the first, as an *Error whose problems carry the
// file, the line and the key path: an unknown key with the nearest valid
// one, a value of the wrong type, a missing or invalid setting.
func Parse(data []byte, file string) (*Spec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{Problems: []Problem{{File: file, Line: yamlErrorLine(err), Msg: yamlErrorText(err)}}}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
		return nil, &Error{Problems: []Problem{{File: file, Msg: "the dataset spec is empty"}}}
	}
	root := doc.Content[0]
	o := &origin{file: file, lines: map[string]int{"": root.Line}}
	var ps problems
	walk(root, reflect.TypeFor[Spec](), "", o, &ps)
	if err := ps.err(o); err != nil {
		return nil, err
	}
	var s Spec
	if err := root.Decode(&s); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			e := &Error{}
			for _, m := range te.Errors {
				e.Problems = append(e.Problems, Problem{File: file, Line: yamlErrorLine(errors.New(m)), Msg: yamlErrorText(errors.New(m))})
			}
			return nil, e
		}
		return nil, &Error{Problems: []Problem{{File: file, Line: yamlErrorLine(err), Msg: yamlErrorText(err)}}}
	}
	s.origin = o
	if err := s.Validate(); err != nil {
		return nil, err
	}
	d := s.WithDefaults()
	return &d, nil
}

var yamlLine = regexp.MustCompile(`line (\d+): `)

// yamlErrorLine extracts the line number of a YAML library message.
func yamlErrorLine(err error) int {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// yamlErrorText is a YAML library message without its "yaml: line N: "
// prefix (the line is reported apart).
func yamlErrorText(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	if loc := yamlLine.FindStringIndex(s); loc != nil && loc[0] == 0 {
		s = s[loc[1]:]
	}
	return s
}

// walk checks node against the Go type t that it will be decoded into:
// mappings only hold keys that t's yaml tags name (an unknown key is
// reported with the nearest valid one), lists and mappings are where t
// wants them, and no key is repeated. It records the line of every key
// path in o.
func walk(n *yaml.Node, t reflect.Type, path string, o *origin, ps *problems) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if _, ok := o.lines[path]; !ok && path != "" {
		o.lines[path] = n.Line
	}
	null := n.Kind == yaml.ScalarNode && n.Tag == "!!null"
	switch t.Kind() {
	case reflect.Struct:
		if null {
			return
		}
		if n.Kind != yaml.MappingNode {
			ps.add(path, "want a mapping of keys to values, got %s", nodeKind(n))
			return
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			fields[name] = f.Type
			names = append(names, name)
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := join(path, k.Value)
			if prev, dup := seen[k.Value]; dup {
				ps.addLine(k.Line, kp, "key %q is already set on line %d", k.Value, prev)
				continue
			}
			seen[k.Value] = k.Line
			ft, ok := fields[k.Value]
			if !ok {
				o.lines[kp] = k.Line
				ps.add(kp, "unknown key%s (valid here: %s)", suggest(k.Value, names), strings.Join(names, ", "))
				continue
			}
			o.lines[kp] = k.Line
			walk(v, ft, kp, o, ps)
		}
	case reflect.Slice:
		if null {
			return
		}
		if n.Kind != yaml.SequenceNode {
			ps.add(path, "want a list, got %s", nodeKind(n))
			return
		}
		for i, e := range n.Content {
			walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), o, ps)
		}
	case reflect.Map:
		if null {
			return
		}
		if n.Kind != yaml.MappingNode {
			ps.add(path, "want a mapping, got %s", nodeKind(n))
			return
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := join(path, k.Value)
			if prev, dup := seen[k.Value]; dup {
				ps.addLine(k.Line, kp, "key %q is already set on line %d", k.Value, prev)
				continue
			}
			seen[k.Value] = k.Line
			o.lines[kp] = k.Line
			walk(v, t.Elem(), kp, o, ps)
		}
	default:
		if n.Kind != yaml.ScalarNode {
			ps.add(path, "want a single value, got %s", nodeKind(n))
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", n.Value)
	default:
		return "something else"
	}
}

// Marshal returns s as YAML, in the spec's key order, indented by two
// spaces.
func Marshal(s *Spec) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
