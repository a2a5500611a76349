package client

import (
	"errors"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	valid := DefaultConfig()
	valid.Addrs = []string{"127.0.0.1:7100"}
	tests := []struct {
		name   string
		modify func(*Config)
		ok     bool
	}{
		{"defaults with an address", func(*Config) {}, true},
		{"lazy dial", func(c *Config) { c.DialTimeout = 0 }, true},
		{"nil logger", func(c *Config) { c.Logger = nil }, true},
		{"no addresses", func(c *Config) { c.Addrs = nil }, false},
		{"empty address", func(c *Config) { c.Addrs = []string{"a:1", ""} }, false},
		{"negative dial timeout", func(c *Config) { c.DialTimeout = -time.Second }, false},
		{"zero request timeout", func(c *Config) { c.RequestTimeout = 0 }, false},
		{"zero initial backoff", func(c *Config) { c.InitialBackoff = 0 }, false},
		{"max below initial", func(c *Config) { c.MaxBackoff = c.InitialBackoff / 2 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.modify(&cfg)
			err := cfg.Validate()
			if tt.ok && err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("Validate() = %v, want ErrInvalidArgument", err)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.RequestTimeout != 10*time.Second || c.InitialBackoff != 10*time.Millisecond || c.MaxBackoff != 250*time.Millisecond {
		t.Fatalf("DefaultConfig() = %+v", c)
	}
}

func TestTTLSeconds(t *testing.T) {
	tests := []struct {
		name string
		in   time.Duration
		want uint32
		ok   bool
	}{
		{"one nanosecond rounds up", time.Nanosecond, 1, true},
		{"whole second", time.Second, 1, true},
		{"just over a second", time.Second + time.Millisecond, 2, true},
		{"an hour", time.Hour, 3600, true},
		{"zero", 0, 0, false},
		{"negative", -time.Second, 0, false},
		{"too long", time.Duration(1<<32) * time.Second, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ttlSeconds(tt.in)
			if tt.ok != (err == nil) {
				t.Fatalf("ttlSeconds(%v) error = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("ttlSeconds(%v) = %v, want ErrInvalidArgument", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ttlSeconds(%v) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestWithTTL(t *testing.T) {
	o := applyWriteOptions([]WriteOption{WithTTL(1500 * time.Millisecond)})
	if o.err != nil || o.ttlSeconds != 2 {
		t.Fatalf("WithTTL(1.5s) = %+v, want 2s", o)
	}
	o = applyWriteOptions([]WriteOption{WithTTL(0), WithTTL(time.Second)})
	if !errors.Is(o.err, ErrInvalidArgument) {
		t.Fatalf("an invalid TTL was forgotten: %+v", o)
	}
	if o = applyWriteOptions(nil); o.ttlSeconds != 0 || o.err != nil {
		t.Fatalf("no options = %+v", o)
	}
}

func TestBackoffBounds(t *testing.T) {
	const initial, max = 10 * time.Millisecond, 500 * time.Millisecond
	tests := []struct {
		attempt int
		lo, hi  time.Duration
	}{
		{0, initial / 2, initial},
		{1, initial, 2 * initial},
		{3, 4 * initial, 8 * initial},
		{6, max / 2, max},
		{100, max / 2, max},
	}
	for _, tt := range tests {
		for range 200 {
			if d := backoff(initial, max, tt.attempt); d < tt.lo || d > tt.hi {
				t.Fatalf("backoff(attempt %d) = %v, want in [%v, %v]", tt.attempt, d, tt.lo, tt.hi)
			}
		}
	}
}

func TestPageLimit(t *testing.T) {
	tests := []struct {
		limit, have int
		want        uint32
	}{
		{0, 0, maxScanPage}, {0, 5000, maxScanPage}, {10, 0, 10}, {10, 4, 6}, {2500, 1000, maxScanPage}, {2500, 2000, 500},
	}
	for _, tt := range tests {
		if got := pageLimit(tt.limit, tt.have); got != tt.want {
			t.Errorf("pageLimit(%d, %d) = %d, want %d", tt.limit, tt.have, got, tt.want)
		}
	}
}
