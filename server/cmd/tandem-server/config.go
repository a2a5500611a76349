package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	// errUnknownKey is returned for a config-file key that names no flag.
	errUnknownKey = errors.New("unknown key")
	// errBadValue is returned for a config-file value its flag refuses, or
	// one of the wrong shape (a list where a word belongs).
	errBadValue = errors.New("bad value")
	// errBadConfigFile is returned for a file that is no YAML mapping of
	// keys to values.
	errBadConfigFile = errors.New("bad config file")
)

// configError places an error at a line of the config file, and names the
// key when there is one.
type configError struct {
	File string
	Line int
	Key  string
	Err  error
}

func (e *configError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Key, e.Err)
}

func (e *configError) Unwrap() error { return e.Err }

// applyConfigFile sets every flag of fs that the YAML file at path names,
// except those in given (set on the command line, which wins). The file is
// a mapping of flag names to values; see docs/config.md.
func applyConfigFile(fs *flag.FlagSet, path string, given map[string]bool) error {
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".toml" {
		return fmt.Errorf("%s: %w: TOML is not read; write the same keys in YAML", path, errBadConfigFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	root, err := parseConfigYAML(path, b)
	if err != nil || root == nil {
		return err
	}
	// Every value is checked, also those the command line overrides: a
	// file is valid or refused whole, whatever flags come with it.
	c := fileApplier{fs: fs, check: newFlagSet(defaultOptions()), path: path, given: given, seen: map[string]int{}}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if err := c.apply(root.Content[i], root.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// fileApplier sets the flags of one config file.
type fileApplier struct {
	fs    *flag.FlagSet   // the flags being set
	check *flag.FlagSet   // a scratch set that checks every value
	path  string          // the file, for errors
	given map[string]bool // flags set on the command line: left as they are
	seen  map[string]int  // keys read so far, with their lines
}

// parseConfigYAML returns the file's top-level mapping, nil for an empty
// file.
func parseConfigYAML(path string, b []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: %w: %v", path, errBadConfigFile, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &configError{File: path, Line: extra.Line, Err: fmt.Errorf("%w: a second YAML document; want one", errBadConfigFile)}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &configError{File: path, Line: root.Line, Err: fmt.Errorf("%w: want a mapping of option names to values", errBadConfigFile)}
	}
	return root, nil
}

// apply checks one key of the file and sets its flag.
func (c *fileApplier) apply(k, v *yaml.Node) error {
	at := func(line int, err error) error { return &configError{File: c.path, Line: line, Key: k.Value, Err: err} }
	if k.Kind != yaml.ScalarNode {
		return &configError{File: c.path, Line: k.Line, Err: fmt.Errorf("%w: a key must be a word", errBadConfigFile)}
	}
	if prev, ok := c.seen[k.Value]; ok {
		return at(k.Line, fmt.Errorf("%w: repeated (first at line %d)", errBadConfigFile, prev))
	}
	c.seen[k.Value] = k.Line
	if c.fs.Lookup(k.Value) == nil || k.Value == configFlag {
		return at(k.Line, fmt.Errorf("%w (the keys are tandem-server's flag names, listed in docs/config.md)", errUnknownKey))
	}
	s, err := scalarText(k.Value, v)
	if err != nil {
		return at(v.Line, err)
	}
	if err := c.check.Set(k.Value, s); err != nil {
		return at(v.Line, fmt.Errorf("%w %q: %w", errBadValue, s, err))
	}
	if c.given[k.Value] {
		return nil
	}
	return c.fs.Set(k.Value, s)
}

// scalarText returns a value as its flag reads it. Only --peers takes a
// list or a mapping (id: address), joined as on the command line.
func scalarText(key string, v *yaml.Node) (string, error) {
	switch {
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
		return "", fmt.Errorf("%w: no value (write \"\" for an empty one)", errBadValue)
	case v.Kind == yaml.ScalarNode:
		return v.Value, nil
	case key == "peers" && v.Kind == yaml.SequenceNode:
		return joinPeers(v, false)
	case key == "peers" && v.Kind == yaml.MappingNode:
		return joinPeers(v, true)
	}
	return "", fmt.Errorf("%w: want a single value, not a list or mapping", errBadValue)
}

// joinPeers turns a list of ID=HOST:PORT or a mapping of ID: HOST:PORT
// into the command line's comma-separated form.
func joinPeers(v *yaml.Node, mapping bool) (string, error) {
	var parts []string
	for i := 0; i < len(v.Content); i++ {
		c := v.Content[i]
		if c.Kind != yaml.ScalarNode {
			return "", fmt.Errorf("%w: line %d: want ID=HOST:PORT items or ID: HOST:PORT pairs", errBadValue, c.Line)
		}
		if mapping {
			i++
			if v.Content[i].Kind != yaml.ScalarNode {
				return "", fmt.Errorf("%w: line %d: want ID: HOST:PORT", errBadValue, v.Content[i].Line)
			}
			parts = append(parts, c.Value+"="+v.Content[i].Value)
			continue
		}
		parts = append(parts, c.Value)
	}
	return strings.Join(parts, ","), nil
}
