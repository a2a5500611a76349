package client

import "go.uber.org/zap"

// Typed log fields used across the package, so retries log alike.
func zapMethod(m string) zap.Field { return zap.String("method", m) }
func zapAddr(a string) zap.Field   { return zap.String("addr", a) }
func zapErr(err error) zap.Field   { return zap.Error(err) }
