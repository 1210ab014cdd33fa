package redisstore

import (
	"cmp"
	"context"
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// mgetBatcher coalesces the MGETs of concurrent callers into one pipeline:
// one write and one read on one connection for the whole batch, where each
// MGET alone costs a round trip's system calls on both sides. It serves
// TokenUser, which every request of the Graph-style API makes.
//
// The first caller to find no batch forming leads: it yields the processor
// once (runtime.Gosched), so that callers already runnable join its batch,
// then sends the batch and hands each caller its reply. A caller alone
// yields to nobody and sends its MGET at once, so batching adds no wait.
// Batches do not wait for each other: while one is in flight the next
// caller leads a new one.
//
// Deadlines: a follower returns its context's error as soon as its context
// ends, whatever the batch does. The batch runs under the latest deadline
// of its callers (none if one of them has none; the client's hook then
// bounds it), so it never outlives all of them and never fails a caller
// before that caller's own deadline. The leader sends the batch itself and
// so returns when it ends: past its own deadline by at most the spread of
// its batch's deadlines, which joined within one yield of the processor.
type mgetBatcher struct {
	rdb redis.UniversalClient
	// yield lets other callers join a forming batch; nil means
	// runtime.Gosched. Tests set it to wait for a known batch.
	yield func()

	mu      sync.Mutex
	forming []*mgetCall
}

var errNoReply = errors.New("redisstore: no reply to a batched MGET")

type mgetCall struct {
	ctx  context.Context
	keys []string
	vals []any
	err  error
	done chan struct{}
}

// mget returns MGET keys..., batched with concurrent calls.
func (b *mgetBatcher) mget(ctx context.Context, keys ...string) ([]any, error) {
	c := &mgetCall{ctx: ctx, keys: keys, done: make(chan struct{})}
	b.mu.Lock()
	b.forming = append(b.forming, c)
	lead := len(b.forming) == 1
	b.mu.Unlock()
	if !lead {
		select {
		case <-c.done:
			return c.vals, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if b.yield != nil {
		b.yield()
	} else {
		runtime.Gosched()
	}
	b.mu.Lock()
	batch := b.forming
	b.forming = nil
	b.mu.Unlock()
	bctx, cancel := batchContext(ctx, batch)
	defer cancel()
	b.send(bctx, batch)
	return c.vals, c.err
}

// batchContext returns the context a batch led from ctx runs under: ctx's
// values, no cancellation (the batch serves other callers too, so the
// leader's cancellation must not fail theirs), and the latest deadline of
// the batch's callers, or none if one of them has none.
func batchContext(ctx context.Context, batch []*mgetCall) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, c := range batch {
		d, ok := c.ctx.Deadline()
		if !ok {
			return context.WithoutCancel(ctx), func() {}
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.WithoutCancel(ctx), latest)
}

func (b *mgetBatcher) send(ctx context.Context, batch []*mgetCall) {
	defer func() {
		for _, c := range batch {
			if c.vals == nil && c.err == nil { // the send panicked
				c.err = errNoReply
			}
			close(c.done)
		}
	}()
	if len(batch) == 1 {
		c := batch[0]
		c.vals, c.err = b.rdb.MGet(ctx, c.keys...).Result()
		return
	}
	cmds := make([]*redis.SliceCmd, len(batch))
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range batch {
			cmds[i] = p.MGet(ctx, c.keys...)
		}
		return nil
	})
	for i, c := range batch {
		// A failed pipeline sets its error on every command; a reply
		// missing without one would still be a failure, never a miss.
		if c.vals, c.err = cmds[i].Result(); c.err == nil && c.vals == nil {
			c.err = cmp.Or(err, errNoReply)
		}
	}
}
