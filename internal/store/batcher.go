package store

import (
	"context"
	"sync"
	"time"
)

// Pending is one insert waiting for a group commit.
type Pending struct {
	Record *Record
	Result InsertResult
	Err    error
	done   chan struct{}
}

// Batcher turns concurrent inserts into group commits: one goroutine takes
// whatever inserts are waiting (up to Max), writes them in one transaction
// through flush, and only then answers each caller. Under load many inserts
// share one fsync; alone, an insert commits at once.
type Batcher struct {
	flush   func([]*Pending) error
	observe func(size int, took time.Duration)
	max     int
	queue   chan *Pending

	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup
}

// NewBatcher starts a batcher. flush writes the batch in one transaction and
// sets each Pending's Result; an error it returns fails every insert of the
// batch. observe, when not nil, is told each commit's size and duration.
func NewBatcher(max int, flush func([]*Pending) error, observe func(size int, took time.Duration)) *Batcher {
	b := &Batcher{flush: flush, observe: observe, max: max, queue: make(chan *Pending, max)}
	b.wg.Add(1)
	go b.run()
	return b
}

// Insert queues r and waits for its commit. A cancelled ctx stops the wait,
// not the write: the insert may still commit.
func (b *Batcher) Insert(ctx context.Context, r *Record) (InsertResult, error) {
	p := &Pending{Record: r, done: make(chan struct{})}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return InsertResult{}, ErrClosed
	}
	select {
	case b.queue <- p:
	case <-ctx.Done():
		b.mu.RUnlock()
		return InsertResult{}, ctx.Err()
	}
	b.mu.RUnlock()
	select {
	case <-p.done:
		return p.Result, p.Err
	case <-ctx.Done():
		return InsertResult{}, ctx.Err()
	}
}

func (b *Batcher) run() {
	defer b.wg.Done()
	batch := make([]*Pending, 0, b.max)
	for first := range b.queue {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < b.max {
			select {
			case p, ok := <-b.queue:
				if !ok {
					break fill
				}
				batch = append(batch, p)
			default:
				break fill
			}
		}
		start := time.Now()
		err := b.flush(batch)
		if b.observe != nil {
			b.observe(len(batch), time.Since(start))
		}
		for _, p := range batch {
			if err != nil {
				p.Err = err
			}
			close(p.done)
		}
	}
}

// Close stops accepting inserts, commits the ones already queued and waits
// for the last commit.
func (b *Batcher) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	b.wg.Wait()
}
