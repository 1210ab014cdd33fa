// Package faultproxy is a TCP proxy that injects the faults a network and a
// Redis server cause, for tests: a reply held back past the client's
// timeout, a connection dropped after a command reached the server, and all
// traffic frozen (as a paused server or a partition looks to a client).
//
// It forwards bytes and never parses them: a rule matches a chunk the
// client wrote (one read from the client's socket, which for Redis is
// usually one command or one pipeline) with a predicate over its bytes.
//
//	p, _ := faultproxy.Start("127.0.0.1:6379")
//	defer p.Close()
//	// The reply to the next command that names a refresh-token key
//	// arrives 3 s late; the command itself runs at once.
//	p.DelayReply(faultproxy.Contains("refresh:"), 3*time.Second, 1)
//
// Only tests use it; it listens on loopback.
package faultproxy
