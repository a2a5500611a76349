package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// OwnedBy returns a client filter for Proxy.BlackholeFrom that picks the
// connections whose client end is a socket of one of nodes' processes (Linux:
// the socket's inode from /proc/net/tcp, looked up in each process's file
// descriptors). All processes here dial from 127.0.0.1, so the address alone
// cannot tell two clusters apart.
func OwnedBy(nodes ...*Node) func(client net.Addr) bool {
	return func(client net.Addr) bool {
		ta, ok := client.(*net.TCPAddr)
		if !ok {
			return false
		}
		inode, ok := socketInode(ta.Port)
		if !ok {
			return false
		}
		want := fmt.Sprintf("socket:[%s]", inode)
		for _, nd := range nodes {
			pid := nd.Pid()
			if pid == 0 {
				continue
			}
			fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
			for _, fd := range fds {
				if link, err := os.Readlink(fd); err == nil && link == want {
					return true
				}
			}
		}
		return false
	}
}

// socketInode finds the inode of the TCP socket bound locally to
// 127.0.0.1:port (IPv4, or IPv4-mapped in the IPv6 table).
func socketInode(port int) (string, bool) {
	suffix := fmt.Sprintf("0100007F:%04X", port)
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) > 9 && strings.HasSuffix(fields[1], suffix) && fields[9] != "0" {
				f.Close()
				return fields[9], true
			}
		}
		f.Close()
	}
	return "", false
}
