// Package netaddr holds address checks shared by the server and the SDK.
package netaddr

import "net"

// Loopback reports whether hostport (host:port) names a loopback address:
// localhost or an IP on a loopback interface.
func Loopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
