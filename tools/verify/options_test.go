package main

import (
	"errors"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		argv    []string
		want    options
		wantErr string
	}{
		{name: "defaults", argv: []string{"--source", "a:1", "--target", "b:2", "--table", "t"},
			want: options{source: []string{"a:1"}, target: []string{"b:2"}, table: "t", timeout: 5 * time.Minute, maxDiffs: 20}},
		{name: "everything", argv: []string{"--source", "a:1, a:2,", "--target", "b:2,b:3", "--table", "t", "--json", "--timeout", "30s", "--max-diffs", "0"},
			want: options{source: []string{"a:1", "a:2"}, target: []string{"b:2", "b:3"}, table: "t", json: true, timeout: 30 * time.Second}},
		{name: "no source", argv: []string{"--target", "b:2", "--table", "t"}, wantErr: "--source is required"},
		{name: "blank target", argv: []string{"--source", "a:1", "--target", " , ", "--table", "t"}, wantErr: "--target is required"},
		{name: "no table", argv: []string{"--source", "a:1", "--target", "b:2"}, wantErr: "--table is required"},
		{name: "bad timeout", argv: []string{"--source", "a:1", "--target", "b:2", "--table", "t", "--timeout", "0s"}, wantErr: "--timeout must be positive"},
		{name: "bad max-diffs", argv: []string{"--source", "a:1", "--target", "b:2", "--table", "t", "--max-diffs", "-1"}, wantErr: "--max-diffs must not be negative"},
		{name: "stray argument", argv: []string{"--source", "a:1", "--target", "b:2", "--table", "t", "extra"}, wantErr: "unexpected arguments"},
		{name: "unknown flag", argv: []string{"--nope"}, wantErr: "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseOptions(tt.argv, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("options = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseOptionsHelp(t *testing.T) {
	var usage strings.Builder
	_, err := parseOptions([]string{"-h"}, &usage)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, f := range []string{"-source", "-target", "-table", "-json", "-timeout", "-max-diffs"} {
		if !strings.Contains(usage.String(), f) {
			t.Errorf("usage lacks %s:\n%s", f, usage.String())
		}
	}
}

func TestRunUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		code int
	}{
		{"help", []string{"-h"}, exitIdentical},
		{"missing flags", nil, exitError},
		{"unreachable source", []string{"--source", "127.0.0.1:1", "--target", "127.0.0.1:1", "--table", "t", "--timeout", "200ms"}, exitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut strings.Builder
			if code := run(tt.argv, &out, &errOut); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.code, errOut.String())
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q, want none", out.String())
			}
		})
	}
}
