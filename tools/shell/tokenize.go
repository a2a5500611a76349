package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The tokenizer's errors.
var (
	// errUnterminatedQuote is returned for a quote that is never closed.
	errUnterminatedQuote = errors.New("shell: unterminated quote")
	// errTrailingBackslash is returned for a line ending in a lone backslash.
	errTrailingBackslash = errors.New("shell: trailing backslash")
)

// tokenizer splits a line into commands (separated by ';') and each command
// into words, the way a POSIX shell would, with one difference: a backslash
// also starts the escapes \n \t \r \0 and \xHH (outside single quotes), so
// binary keys and values can be typed.
type tokenizer struct {
	cmds    [][]string
	words   []string
	word    strings.Builder
	inWord  bool // a word has started, possibly empty ("")
	quote   rune // the open quote, 0 outside quotes
	escaped bool // the previous rune was an unquoted or double-quoted backslash
	hex     []rune
}

// tokenize splits line into commands of words. Empty commands (";;") are
// dropped.
func tokenize(line string) ([][]string, error) {
	var t tokenizer
	for _, r := range line {
		if err := t.feed(r); err != nil {
			return nil, err
		}
	}
	switch {
	case t.quote != 0:
		return nil, fmt.Errorf("%w %c", errUnterminatedQuote, t.quote)
	case t.escaped || t.hex != nil:
		return nil, errTrailingBackslash
	}
	t.endCommand()
	return t.cmds, nil
}

// feed consumes one rune.
func (t *tokenizer) feed(r rune) error {
	switch {
	case t.hex != nil:
		return t.feedHex(r)
	case t.escaped:
		t.escaped = false
		return t.feedEscape(r)
	case t.quote == '\'':
		if r == '\'' {
			t.quote = 0
		} else {
			t.word.WriteRune(r)
		}
	case r == '\\':
		t.escaped, t.inWord = true, true
	case t.quote == '"':
		if r == '"' {
			t.quote = 0
		} else {
			t.word.WriteRune(r)
		}
	case r == '\'' || r == '"':
		t.quote, t.inWord = r, true
	case r == ';':
		t.endCommand()
	case r == ' ' || r == '\t' || r == '\n' || r == '\r':
		t.endWord()
	default:
		t.word.WriteRune(r)
		t.inWord = true
	}
	return nil
}

// feedEscape handles the rune after a backslash.
func (t *tokenizer) feedEscape(r rune) error {
	switch r {
	case 'n':
		t.word.WriteByte('\n')
	case 't':
		t.word.WriteByte('\t')
	case 'r':
		t.word.WriteByte('\r')
	case '0':
		t.word.WriteByte(0)
	case 'x':
		t.hex = []rune{}
	default:
		t.word.WriteRune(r)
	}
	return nil
}

// feedHex collects the two hex digits of \xHH.
func (t *tokenizer) feedHex(r rune) error {
	if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
		return fmt.Errorf("shell: bad escape \\x%s%c: want two hex digits", string(t.hex), r)
	}
	t.hex = append(t.hex, r)
	if len(t.hex) == 2 {
		b, _ := strconv.ParseUint(string(t.hex), 16, 8) // digits checked above
		t.word.WriteByte(byte(b))
		t.hex = nil
	}
	return nil
}

// endWord closes the current word, if one has started.
func (t *tokenizer) endWord() {
	if !t.inWord {
		return
	}
	t.words = append(t.words, t.word.String())
	t.word.Reset()
	t.inWord = false
}

// endCommand closes the current command, if it has words.
func (t *tokenizer) endCommand() {
	t.endWord()
	if len(t.words) > 0 {
		t.cmds = append(t.cmds, t.words)
	}
	t.words = nil
}
