package main

import (
	"errors"
	"reflect"
	"testing"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want [][]string
		err  error
	}{
		{"empty", "", nil, nil},
		{"blanks", "  \t ", nil, nil},
		{"one command", "get t hk sk", [][]string{{"get", "t", "hk", "sk"}}, nil},
		{"extra spaces", "  get   t  hk ", [][]string{{"get", "t", "hk"}}, nil},
		{"two commands", "set t h s v; get t h s", [][]string{{"set", "t", "h", "s", "v"}, {"get", "t", "h", "s"}}, nil},
		{"empty commands dropped", ";; nodes ;", [][]string{{"nodes"}}, nil},
		{"no space before semicolon", "nodes;tables", [][]string{{"nodes"}, {"tables"}}, nil},
		{"double quotes", `set t h s "hello world"`, [][]string{{"set", "t", "h", "s", "hello world"}}, nil},
		{"single quotes", `set t h s 'a "b" c'`, [][]string{{"set", "t", "h", "s", `a "b" c`}}, nil},
		{"semicolon in quotes", `set t h s "a;b"; get t h s`, [][]string{{"set", "t", "h", "s", "a;b"}, {"get", "t", "h", "s"}}, nil},
		{"semicolon in single quotes", `set t h s 'a;b'`, [][]string{{"set", "t", "h", "s", "a;b"}}, nil},
		{"escaped semicolon", `set t h s a\;b`, [][]string{{"set", "t", "h", "s", "a;b"}}, nil},
		{"escaped space", `get t hello\ world s`, [][]string{{"get", "t", "hello world", "s"}}, nil},
		{"escaped quote in double quotes", `"say \"hi\""`, [][]string{{`say "hi"`}}, nil},
		{"backslash literal in single quotes", `'a\nb'`, [][]string{{`a\nb`}}, nil},
		{"newline escape", `"a\nb"`, [][]string{{"a\nb"}}, nil},
		{"hex escape", `\x00\xff`, [][]string{{"\x00\xff"}}, nil},
		{"empty quoted word kept", `set t h "" v`, [][]string{{"set", "t", "h", "", "v"}}, nil},
		{"adjacent quoting joins", `a"b c"'d'`, [][]string{{"ab cd"}}, nil},
		{"unterminated double", `get "t`, nil, errUnterminatedQuote},
		{"unterminated single", `get 't`, nil, errUnterminatedQuote},
		{"trailing backslash", `get t\`, nil, errTrailingBackslash},
		{"short hex", `\x4`, nil, errTrailingBackslash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tokenize(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("tokenize(%q) error = %v, want %v", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("tokenize(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("tokenize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if _, err := tokenize(`\xzz`); err == nil {
		t.Fatal("bad hex escape accepted")
	}
}
