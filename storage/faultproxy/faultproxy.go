package faultproxy

import (
	"bytes"
	"net"
	"sync"
	"time"
)

// Match reports whether a chunk the client wrote is the one a rule is for.
type Match func(chunk []byte) bool

// Any matches every chunk.
func Any(chunk []byte) bool { return true }

// Contains matches chunks that contain s.
func Contains(s string) Match {
	b := []byte(s)
	return func(chunk []byte) bool { return bytes.Contains(chunk, b) }
}

type action int

const (
	delayReply action = iota + 1
	dropAfter
)

type rule struct {
	match Match
	act   action
	delay time.Duration
	left  int // chunks it still applies to
}

// Proxy forwards every connection accepted on Addr to the target address.
// Its methods are safe for concurrent use.
type Proxy struct {
	target string
	ln     net.Listener

	mu      sync.Mutex
	thawed  chan struct{} // closed while traffic flows; replaced by Freeze
	closed  chan struct{}
	rules   []*rule
	conns   map[*link]struct{}
	matched int
	wg      sync.WaitGroup
}

// link is one proxied connection: the client's side and the server's.
type link struct {
	client, server net.Conn
	once           sync.Once
	mu             sync.Mutex
	hold           time.Duration // delay for the next reply chunk
	drop           bool          // discard the next reply chunk and close
}

func (l *link) close() {
	l.once.Do(func() {
		l.client.Close()
		l.server.Close()
	})
}

// Start listens on a free loopback port and forwards to target.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	thawed := make(chan struct{})
	close(thawed)
	p := &Proxy{target: target, ln: ln, thawed: thawed, closed: make(chan struct{}), conns: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the address clients connect to (host:port).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// DelayReply holds back the first reply chunk that follows each of the next
// n client chunks matching m, by d, on that chunk's connection. The command
// reaches the server at once; only its answer is late.
func (p *Proxy) DelayReply(m Match, d time.Duration, n int) {
	p.addRule(&rule{match: m, act: delayReply, delay: d, left: n})
}

// DropAfterRequest forwards each of the next n client chunks matching m to
// the server and, when the server's reply comes, discards it and closes
// that connection on both sides: the command ran, the client never hears.
func (p *Proxy) DropAfterRequest(m Match, n int) {
	p.addRule(&rule{match: m, act: dropAfter, left: n})
}

func (p *Proxy) addRule(r *rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, r)
}

// Matched returns how many client chunks have matched a rule so far.
func (p *Proxy) Matched() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.matched
}

// ClearRules drops every rule not yet used up.
func (p *Proxy) ClearRules() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// Freeze stops all traffic in both directions, on existing and new
// connections, until Thaw: bytes are held, not lost, and connections stay
// open, as with a paused server.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
		p.thawed = make(chan struct{})
	default: // already frozen
	}
}

// Thaw lets held traffic flow again.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
	default:
		close(p.thawed)
	}
}

// DropAll closes every open connection (as a server restart does); new
// connections are accepted as before.
func (p *Proxy) DropAll() {
	p.mu.Lock()
	links := make([]*link, 0, len(p.conns))
	for l := range p.conns {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// Conns returns the number of open proxied connections.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close stops listening, closes every connection and waits for the
// proxy's goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	select {
	case <-p.closed:
		p.mu.Unlock()
		return nil
	default:
		close(p.closed)
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.DropAll()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		l := &link{client: c, server: s}
		p.mu.Lock()
		select {
		case <-p.closed:
			p.mu.Unlock()
			l.close()
			return
		default:
		}
		p.conns[l] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pump(l, true)
		go p.pump(l, false)
	}
}

// gate waits until traffic may flow; false means the proxy closed.
func (p *Proxy) gate() bool {
	p.mu.Lock()
	thawed := p.thawed
	p.mu.Unlock()
	select {
	case <-thawed:
		return true
	case <-p.closed:
		return false
	}
}

// wait sleeps for d unless the proxy closes first.
func (p *Proxy) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.closed:
		return false
	}
}

// take returns the rule a client chunk triggers, using one of its turns.
func (p *Proxy) take(chunk []byte) *rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, r := range p.rules {
		if r.match(chunk) {
			r.left--
			if r.left <= 0 {
				p.rules = append(p.rules[:i:i], p.rules[i+1:]...)
			}
			p.matched++
			return r
		}
	}
	return nil
}

// pump copies one direction of a link, applying rules to client chunks and
// delays to reply chunks.
func (p *Proxy) pump(l *link, upstream bool) {
	defer p.wg.Done()
	defer func() {
		l.close()
		p.mu.Lock()
		delete(p.conns, l)
		p.mu.Unlock()
	}()
	src, dst := l.server, l.client
	if upstream {
		src, dst = l.client, l.server
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if !p.gate() {
				return
			}
			if upstream {
				if r := p.take(chunk); r != nil {
					l.mu.Lock()
					switch r.act {
					case delayReply:
						l.hold = r.delay
					case dropAfter:
						l.drop = true
					}
					l.mu.Unlock()
				}
			} else {
				l.mu.Lock()
				d, drop := l.hold, l.drop
				l.hold, l.drop = 0, false
				l.mu.Unlock()
				if drop {
					return // the command ran; its reply is lost with the connection
				}
				if d > 0 && (!p.wait(d) || !p.gate()) {
					return
				}
			}
			if _, werr := dst.Write(chunk); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a closed link: either way this direction is done
		}
	}
}
