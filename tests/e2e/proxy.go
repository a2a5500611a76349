package e2e

import (
	"net"
	"sync"
	"testing"
	"time"
)

// proxyMode is what a Proxy does with the bytes it reads.
type proxyMode int

const (
	modePass proxyMode = iota
	modeBlackhole
	modeRefuse
)

// Proxy is a fault-injecting TCP proxy on 127.0.0.1 in front of one target
// address. It starts in pass-through; Blackhole, Refuse and Delay change what
// it does to existing and new connections until Heal.
//
// A blackholed connection behaves like one across a network that drops every
// packet: the sender's writes succeed, nothing arrives. Bytes it swallowed
// are gone, so the byte stream cannot resume: Heal closes such connections
// (as TCP would after its retransmission timeout) and new ones work again.
type Proxy struct {
	t      testing.TB
	target string
	ln     net.Listener

	mu       sync.Mutex
	mode     proxyMode
	delay    time.Duration
	accepted int
	links    map[*proxyLink]struct{}
	// from, when set, picks the clients whose connections are blackholed
	// while others pass (BlackholeFrom).
	from   func(client net.Addr) bool
	closed chan struct{}
	wg     sync.WaitGroup
}

// proxyLink is one accepted connection and, unless it was accepted while
// blackholed, its connection to the target.
type proxyLink struct {
	client, server net.Conn // server is nil when never dialed
	broken         bool     // bytes were swallowed or never forwarded
	once           sync.Once
}

func (l *proxyLink) close() {
	l.once.Do(func() {
		l.client.Close()
		if l.server != nil {
			l.server.Close()
		}
	})
}

// NewProxy starts a proxy listening on 127.0.0.1:0 that forwards to target;
// t.Cleanup closes it.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &Proxy{t: t, target: target, ln: ln, links: map[*proxyLink]struct{}{}, closed: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the address clients dial instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepted counts the connections the proxy has accepted so far.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Blackhole makes existing and new connections swallow every byte in both
// directions without forwarding it.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = modeBlackhole
}

// Refuse closes every existing connection and resets new ones at once.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	p.mode = modeRefuse
	links := p.takeLinks(func(*proxyLink) bool { return true })
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// Delay forwards again (if blackholed or refusing) with every forwarded
// chunk held for d first; order within a connection is kept.
func (p *Proxy) Delay(d time.Duration) {
	p.heal(d)
}

// Heal returns to plain pass-through: no delay, new connections work, and
// connections that lost bytes while blackholed are closed.
func (p *Proxy) Heal() {
	p.heal(0)
}

// BlackholeFrom blackholes, in both directions, the existing and new
// connections of the clients from picks (say, another cluster's processes:
// see OwnedBy) and lets every other connection pass, until Heal.
func (p *Proxy) BlackholeFrom(from func(client net.Addr) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.from = from
	for l := range p.links {
		if from(l.client.RemoteAddr()) {
			l.broken = true
		}
	}
}

func (p *Proxy) cutsFrom(client net.Addr) bool {
	p.mu.Lock()
	from := p.from
	p.mu.Unlock()
	return from != nil && from(client)
}

func (p *Proxy) heal(d time.Duration) {
	p.mu.Lock()
	p.mode, p.delay, p.from = modePass, d, nil
	links := p.takeLinks(func(l *proxyLink) bool { return l.broken })
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// takeLinks removes and returns the links that match; p.mu is held.
func (p *Proxy) takeLinks(match func(*proxyLink) bool) []*proxyLink {
	var out []*proxyLink
	for l := range p.links {
		if match(l) {
			out = append(out, l)
			delete(p.links, l)
		}
	}
	return out
}

// Close stops listening, closes every connection and waits for the
// proxy's goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	select {
	case <-p.closed:
		p.mu.Unlock()
		return
	default:
	}
	close(p.closed)
	links := p.takeLinks(func(*proxyLink) bool { return true })
	p.mu.Unlock()
	p.ln.Close()
	for _, l := range links {
		l.close()
	}
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve connects one accepted connection to the target (unless blackholed)
// and pumps both directions until either side closes.
func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	p.mu.Lock()
	mode := p.mode
	p.accepted++
	p.mu.Unlock()
	if mode == modeRefuse {
		reset(c)
		return
	}
	l := &proxyLink{client: c}
	if mode == modeBlackhole || p.cutsFrom(c.RemoteAddr()) {
		l.broken = true
	} else {
		s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			reset(c)
			return
		}
		l.server = s
	}
	p.mu.Lock()
	select {
	case <-p.closed:
		p.mu.Unlock()
		l.close()
		return
	default:
	}
	p.links[l] = struct{}{}
	p.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.pump(l, l.client, func() net.Conn { return l.server })
	}()
	if l.server != nil {
		p.pump(l, l.server, func() net.Conn { return l.client })
	}
	wg.Wait()
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// pump reads from src and, depending on the mode at the time of each read,
// forwards the chunk to dst (after the delay) or swallows it.
func (p *Proxy) pump(l *proxyLink, src net.Conn, dst func() net.Conn) {
	defer l.close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.forward(l, buf[:n], dst()) {
			return
		}
		if err != nil {
			return
		}
	}
}

// forward sends one chunk or swallows it; false means the link is done.
func (p *Proxy) forward(l *proxyLink, chunk []byte, dst net.Conn) bool {
	p.mu.Lock()
	mode, delay := p.mode, p.delay
	if mode == modeBlackhole || dst == nil {
		l.broken = true
	}
	broken := l.broken
	p.mu.Unlock()
	if broken {
		return true
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-p.closed:
			return false
		}
		// A blackhole that started during the wait drops this chunk too.
		p.mu.Lock()
		if p.mode == modeBlackhole {
			l.broken = true
		}
		broken = l.broken
		p.mu.Unlock()
		if broken {
			return true
		}
	}
	_, err := dst.Write(chunk)
	return err == nil
}

// reset closes c with an RST instead of a FIN, as a refusing port would.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}
