package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/recoflow/recoflow/dataset"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// configDataset is the config file's top-level dataset key: the path of a
// spec file (relative to the config file's directory), or the spec itself
// as an inline mapping. It is not a flag value: seed's --dataset and the
// spec file of other commands mean different things, so the key is taken
// out of the flag keys when the file is loaded.
type configDataset struct {
	line int    // the line of the dataset key
	path string // a spec file, as written; "" for an inline spec
	// inline is the config file's text with everything but the inline
	// mapping blanked out, so the spec parser's line numbers are the
	// config file's.
	inline []byte
}

// newConfigDataset reads the value of the top-level dataset key of a
// config file whose text is data; next is the line of the following
// top-level key (0 when the key is the last).
func newConfigDataset(path string, data []byte, k, v *yaml.Node, next int) (*configDataset, error) {
	if v.Kind == yaml.AliasNode {
		v = v.Alias
	}
	switch v.Kind {
	case yaml.ScalarNode:
		s, err := scalarString(v)
		if err != nil {
			return nil, fmt.Errorf("config file %s, line %d, key dataset: %w", path, k.Line, err)
		}
		if strings.TrimSpace(s) == "" {
			return nil, fmt.Errorf("config file %s, line %d, key dataset: empty; give the path of a dataset spec file, or the spec itself as a mapping", path, k.Line)
		}
		return &configDataset{line: k.Line, path: s}, nil
	case yaml.MappingNode:
		if v.Line < k.Line || v.Column < 1 {
			return nil, fmt.Errorf("config file %s, line %d, key dataset: cannot locate the inline spec", path, k.Line)
		}
		lines := strings.SplitAfter(string(data), "\n")
		var b strings.Builder
		for i, l := range lines {
			n := i + 1
			nl := ""
			if strings.HasSuffix(l, "\n") {
				nl = "\n"
			}
			switch {
			case n < v.Line || (next > 0 && n >= next):
				b.WriteString(nl)
			case n == v.Line:
				r := []rune(l)
				c := min(v.Column-1, len(r))
				b.WriteString(strings.Repeat(" ", c))
				b.WriteString(string(r[c:]))
			default:
				b.WriteString(l)
			}
		}
		return &configDataset{line: k.Line, inline: []byte(b.String())}, nil
	default:
		return nil, fmt.Errorf("config file %s, line %d, key dataset: want the path of a dataset spec file, or the spec itself as a mapping, got a %s", path, k.Line, kindName(v.Kind))
	}
}

// specFrom says where a command's dataset spec came from.
type specFrom struct {
	// builtIn is true for the built-in classicmodels spec.
	builtIn bool
	// file is the spec file given on the command line (or through the
	// flag's environment variable or config key), or "".
	file string
	// config is the config file whose dataset key gave the spec, or "".
	config string
	line   int
}

func (f specFrom) String() string {
	switch {
	case f.file != "":
		return "the spec file " + f.file
	case f.config != "":
		return fmt.Sprintf("the dataset key of config file %s (line %d)", f.config, f.line)
	default:
		return "the built-in classicmodels spec"
	}
}

// datasetSpec returns the dataset spec a command runs on: the spec file
// file when it is not "" (a --dataset flag's value), else the config
// file's top-level dataset key (a spec file's path, relative to the config
// file, or an inline spec), else the built-in classicmodels spec. A spec
// that does not parse or validate is a usage error (exit code 2) naming
// the file, the line and the key of each problem; for the config's key, the
// config file and its line.
func (a *app) datasetSpec(cmd *cobra.Command, file string) (*dataset.Spec, error) {
	s, _, err := a.resolveDataset(cmd, file)
	return s, err
}

// resolveDataset is datasetSpec, also saying where the spec came from.
func (a *app) resolveDataset(_ *cobra.Command, file string) (*dataset.Spec, specFrom, error) {
	if file != "" {
		s, err := dataset.Load(file)
		if err != nil {
			var se *dataset.Error
			if errors.As(err, &se) {
				return nil, specFrom{}, &ExitError{Code: ExitUsage, Err: err}
			}
			return nil, specFrom{}, usageError("--dataset: %v", err)
		}
		return s, specFrom{file: file}, nil
	}
	cf, err := loadConfigFile(a.configFile)
	if err != nil {
		return nil, specFrom{}, &ExitError{Code: ExitUsage, Err: err}
	}
	d := cf.dataset
	if d == nil {
		s := dataset.Classic()
		return &s, specFrom{builtIn: true}, nil
	}
	from := specFrom{config: cf.path, line: d.line}
	if d.path != "" {
		p := d.path
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(cf.path), p)
		}
		s, err := dataset.Load(p)
		if err != nil {
			return nil, from, &ExitError{Code: ExitUsage, Err: fmt.Errorf("config file %s, line %d, key dataset: %w", cf.path, d.line, err)}
		}
		return s, from, nil
	}
	s, err := dataset.Parse(d.inline, cf.path)
	if err != nil {
		var se *dataset.Error
		if errors.As(err, &se) {
			return nil, from, &ExitError{Code: ExitUsage, Err: &inlineSpecError{config: cf.path, err: se}}
		}
		return nil, from, &ExitError{Code: ExitUsage, Err: fmt.Errorf("config file %s, line %d, key dataset: %w", cf.path, d.line, err)}
	}
	return s, from, nil
}

// inlineSpecError reports the problems of a spec written inline in a
// config file the way other config errors read: the file, the line, and the
// key path under dataset.
type inlineSpecError struct {
	config string
	err    *dataset.Error
}

func (e *inlineSpecError) Error() string {
	one := func(p dataset.Problem) string {
		var b strings.Builder
		if p.Line > 0 {
			fmt.Fprintf(&b, "line %d, ", p.Line)
		}
		b.WriteString("key dataset")
		if p.Path != "" {
			b.WriteString("." + p.Path)
		}
		return b.String() + ": " + p.Msg
	}
	ps := e.err.Problems
	if len(ps) == 1 {
		return fmt.Sprintf("config file %s, %s", e.config, one(ps[0]))
	}
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = "  " + one(p)
	}
	return fmt.Sprintf("config file %s: %d problems in the dataset spec:\n%s", e.config, len(ps), strings.Join(lines, "\n"))
}

// Unwrap returns the spec's *dataset.Error.
func (e *inlineSpecError) Unwrap() error { return e.err }

// flagGiven reports whether the user gave cmd's flag name a value: on the
// command line, in its RECOFLOW_ environment variable, or in the config
// file (configure applies the last two without marking the flag changed).
func (a *app) flagGiven(cmd *cobra.Command, name string) bool {
	if cmd.Flags().Changed(name) {
		return true
	}
	if _, ok := a.opts.Getenv("RECOFLOW_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); ok {
		return true
	}
	cf, err := loadConfigFile(a.configFile)
	if err != nil {
		return false
	}
	_, ok := cf.lookup(cmd, name)
	return ok
}
