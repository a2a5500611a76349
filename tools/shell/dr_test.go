package main

import (
	"errors"
	"testing"
)

func TestPromoteForceFlagTakesNoValue(t *testing.T) {
	cmd, _, rest, err := lookup(commandTable(), []string{"dup", "promote", "t", "--force"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := parseArgs(cmd, rest)
	if err != nil || a.arg(0) != "t" || !a.boolFlag("force") {
		t.Fatalf("dup promote t --force: %+v %v", a, err)
	}
	if a, err = parseArgs(cmd, []string{"t"}); err != nil || a.boolFlag("force") {
		t.Fatalf("dup promote t: %+v %v", a, err)
	}
	if _, err = parseArgs(cmd, []string{"t", "--forse"}); !errors.Is(err, errUsage) {
		t.Fatalf("unknown flag: %v", err)
	}
}
