package main

import "github.com/tandem-kv/tandem/proto/tandempb"

// direction is how dup show names the other cluster: "to" a remote, or
// "from" the source of a duplication this cluster's table follows (the
// "following" row a chain's middle and any follower cluster show).
func direction(d *tandempb.DuplicationInfo) string {
	if d.GetState() == "following" {
		return "from"
	}
	return "to"
}
