package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
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
//
// With a sync function (BatcherOptions.Sync) the commit is pipelined: flush
// commits without waiting for the disk, and a second goroutine makes the
// commits durable with sync and only then answers their callers, while the
// writer already builds the next group. One sync covers every group
// committed before it started.
type Batcher struct {
	flush   func([]*Pending) error
	sync    func() error
	observe func(size int, took time.Duration)
	max     int
	queue   chan *Pending
	tasks   chan *task
	// durable carries committed work to the sync goroutine, in commit order.
	durable chan committed

	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup

	// failed is set once a sync fails: nothing committed since can be
	// trusted to be on disk, so every later write fails with it.
	failMu sync.Mutex
	failed error
}

// committed is work the writer committed and the sync goroutine must make
// durable before answering: a group of inserts, or a task's done channel.
type committed struct {
	batch []*Pending
	task  *task
}

// BatcherOptions tune a Batcher.
type BatcherOptions struct {
	// Max is the most inserts one group commit takes.
	Max int
	// Sync, when set, makes everything committed so far durable. flush (and
	// every Exclusive task) then commits without waiting for the disk, and
	// no caller is answered before a Sync that started after its commit has
	// returned. A failed Sync fails that work and every write after it.
	Sync func() error
	// Observe, when set, is told each group commit's size and how long its
	// transaction took (not counting Sync).
	Observe func(size int, took time.Duration)
}

// ErrSyncFailed wraps the error of a failed Sync: the commits it covered
// may not be on disk, and the batcher refuses every later write.
var ErrSyncFailed = errors.New("making commits durable failed")

// NewBatcher starts a batcher. flush writes the batch in one transaction and
// sets each Pending's Result; an error it returns fails every insert of the
// batch.
func NewBatcher(flush func([]*Pending) error, o BatcherOptions) *Batcher {
	b := &Batcher{flush: flush, sync: o.Sync, observe: o.Observe, max: max(o.Max, 1),
		queue: make(chan *Pending, max(o.Max, 1)), tasks: make(chan *task)}
	if b.sync != nil {
		// Unbuffered: a group the writer committed waits, in the writer,
		// until the sync goroutine is free to take it, and meanwhile the
		// next group gathers in the queue. So at most two groups are ahead
		// of the disk (one syncing, one committed), and a group is as large
		// as what arrives while the previous one syncs: under load each
		// commit carries as many inserts as without pipelining, and a
		// commit's CPU overlaps the previous group's fsync instead of
		// adding to it.
		b.durable = make(chan committed)
		b.wg.Add(1)
		go b.syncer()
	}
	b.wg.Add(1)
	go b.run()
	return b
}

// Err returns the error of a failed Sync, after which the batcher refuses
// every write, or nil.
func (b *Batcher) Err() error { return b.failure() }

func (b *Batcher) failure() error {
	b.failMu.Lock()
	defer b.failMu.Unlock()
	return b.failed
}

// Insert queues r and waits for its commit. A cancelled ctx stops the wait,
// not the write: the insert may still commit.
func (b *Batcher) Insert(ctx context.Context, r *Record) (InsertResult, error) {
	if err := b.failure(); err != nil {
		return InsertResult{}, err
	}
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

// gatherBelow is how many waiting inserts make the writer commit without
// first yielding to the goroutines that are about to queue more.
const gatherBelow = 8

// task is a write other than an insert, run on the writer goroutine.
type task struct {
	fn   func() error
	err  error
	done chan struct{}
}

// Exclusive runs fn on the writer goroutine, between group commits. Long
// writes (a purge's batches, an erasure) go through here so that they take
// turns with ingest instead of starving it or being starved by it. With a
// Sync, Exclusive returns once what fn committed is durable.
func (b *Batcher) Exclusive(ctx context.Context, fn func() error) error {
	if err := b.failure(); err != nil {
		return err
	}
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

// Durable returns once every transaction committed before it was called is
// durable, or the error of the Sync that failed to make it so. A read on
// another connection can see a commit the Sync has not covered yet; what it
// found is answered only after this. Without a Sync every commit is durable
// when it returns, and Durable waits for nothing. It must not be called on
// the writer goroutine (inside Exclusive or a flush): it waits for it.
func (b *Batcher) Durable(ctx context.Context) error {
	if b.sync == nil {
		return b.failure()
	}
	return b.Exclusive(ctx, func() error { return nil })
}

func (b *Batcher) run() {
	defer b.wg.Done()
	if b.durable != nil {
		defer close(b.durable)
	}
	for {
		select {
		case t := <-b.tasks:
			if err := b.failure(); err != nil {
				t.err = err
				close(t.done)
				continue
			}
			t.err = t.fn()
			if t.err != nil || b.durable == nil {
				close(t.done)
				continue
			}
			b.durable <- committed{task: t}
		case first, ok := <-b.queue:
			if !ok {
				return
			}
			// Few inserts are waiting: yield once, so that the handlers
			// already running (decoding, sealing) reach the queue and
			// join this group instead of making the next one. No timer
			// and no wait when nothing else is runnable: a lone insert
			// commits at once. Under load, fewer and larger group
			// commits leave more of the shared cores to the requests.
			if len(b.queue) < gatherBelow {
				runtime.Gosched()
			}
			b.commit(append(make([]*Pending, 0, b.max), first))
		}
	}
}

// commit fills batch with whatever else is waiting, writes it and answers,
// or hands it to the sync goroutine to answer.
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
	err := b.failure()
	if err == nil {
		start := time.Now()
		err = b.flush(batch)
		if b.observe != nil {
			b.observe(len(batch), time.Since(start))
		}
	}
	if err == nil && b.durable != nil {
		b.durable <- committed{batch: batch}
		return
	}
	answer(batch, err)
}

func answer(batch []*Pending, err error) {
	for _, p := range batch {
		if err != nil {
			p.Err = err
		}
		close(p.done)
	}
}

// syncer makes committed work durable and answers it: it takes everything
// committed so far, syncs once, and answers all of it. The writer meanwhile
// commits the next groups, which the next sync covers.
func (b *Batcher) syncer() {
	defer b.wg.Done()
	var work []committed
	for c := range b.durable {
		work = append(work[:0], c)
	drain:
		for {
			select {
			case more, ok := <-b.durable:
				if !ok {
					break drain
				}
				work = append(work, more)
			default:
				break drain
			}
		}
		err := b.failure()
		if err == nil {
			if err = b.sync(); err != nil {
				err = fmt.Errorf("%w: %w", ErrSyncFailed, err)
				b.failMu.Lock()
				b.failed = err
				b.failMu.Unlock()
			}
		}
		for _, w := range work {
			if w.task != nil {
				w.task.err = err
				close(w.task.done)
				continue
			}
			answer(w.batch, err)
		}
	}
}

// Close stops accepting inserts, commits the ones already queued and waits
// for the last commit (and its sync).
func (b *Batcher) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	b.wg.Wait()
}
