package cli

import (
	"fmt"
	"os"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// configFile holds the values of a YAML config file. Top-level scalar keys
// apply to every command; a top-level mapping named after a command applies
// to that command and wins over the top level.
type configFile struct {
	top      map[string]string
	sections map[string]map[string]string
}

func loadConfigFile(path string) (configFile, error) {
	cf := configFile{top: map[string]string{}, sections: map[string]map[string]string{}}
	if path == "" {
		return cf, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cf, fmt.Errorf("read config file: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return cf, fmt.Errorf("config file %s: %w", path, err)
	}
	for k, v := range raw {
		if m, ok := v.(map[string]any); ok {
			sec := map[string]string{}
			for sk, sv := range m {
				s, err := scalarString(sv)
				if err != nil {
					return cf, fmt.Errorf("config file %s, key %s.%s: %w", path, k, sk, err)
				}
				sec[sk] = s
			}
			cf.sections[k] = sec
			continue
		}
		s, err := scalarString(v)
		if err != nil {
			return cf, fmt.Errorf("config file %s, key %s: %w", path, k, err)
		}
		cf.top[k] = s
	}
	return cf, nil
}

func scalarString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case nil:
		return "", nil
	default:
		return "", fmt.Errorf("want a scalar value, got %T", v)
	}
}

func (c configFile) lookup(command, key string) (string, bool) {
	if sec, ok := c.sections[command]; ok {
		if v, ok := sec[key]; ok {
			return v, true
		}
	}
	v, ok := c.top[key]
	return v, ok
}
