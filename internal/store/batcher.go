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
	tasks   chan *task

	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup
}

// NewBatcher starts a batcher. flush writes the batch in one transaction and
// sets each Pending's Result; an error it returns fails every insert of the
// batch. observe, when not nil, is told each commit's size and duration.
func NewBatcher(max int, flush func([]*Pending) error, observe func(size int, took time.Duration)) *Batcher {
	b := &Batcher{flush: flush, observe: observe, max: max, queue: make(chan *Pending, max), tasks: make(chan *task)}
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

// task is a write other than an insert, run on the writer goroutine.
type task struct {
	fn   func() error
	err  error
	done chan struct{}
}

// Exclusive runs fn on the writer goroutine, between group commits. Long
// writes (a purge's batches, an erasure) go through here so that they take
// turns with ingest instead of starving it or being starved by it.
func (b *Batcher) Exclusive(ctx context.Context, fn func() error) error {
	t := &task{fn: fn, done: make(chan struct{})}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrClosed
	}
	select {
	case b.tasks <- t:
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	b.mu.RUnlock()
	<-t.done // the task has started: wait for it to end, whatever ctx says
	return t.err
}

func (b *Batcher) run() {
	defer b.wg.Done()
	batch := make([]*Pending, 0, b.max)
	for {
		select {
		case t := <-b.tasks:
			t.err = t.fn()
			close(t.done)
		case first, ok := <-b.queue:
			if !ok {
				return
			}
			b.commit(append(batch[:0], first))
		}
	}
}

// commit fills batch with whatever else is waiting, writes it and answers.
func (b *Batcher) commit(batch []*Pending) {
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
