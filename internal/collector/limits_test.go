package collector

import (
	"fmt"
	"testing"
	"time"
)

// fullLimiter is a rate limiter tracking maxTrackedClients clients, each of
// which has just spent its whole burst: none can be forgotten.
func fullLimiter(tb testing.TB, now *time.Time) *rateLimiter {
	tb.Helper()
	l := newRateLimiter(10, 2, func() time.Time { return *now })
	for i := range maxTrackedClients {
		c := fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255)
		for range 2 {
			if ok, _ := l.allow(c); !ok {
				tb.Fatalf("client %s refused within its burst", c)
			}
		}
	}
	return l
}

// TestFullLimiterSweepsOncePerSecond: when every tracked client is busy,
// new clients share the overflow bucket, and the limiter looks for clients
// to forget at most once a second, not once per new client; once buckets
// have refilled, a sweep forgets their clients and new ones get their own.
func TestFullLimiterSweepsOncePerSecond(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	l := fullLimiter(t, &now)
	for i := range 1000 {
		l.allow(fmt.Sprintf("192.0.2.%d/new-%d", i%250, i))
		if i%100 == 99 {
			now = now.Add(50 * time.Millisecond) // 1000 new clients over half a second
		}
	}
	if l.sweeps > 1 {
		t.Errorf("%d sweeps for 1,000 new clients in half a second, want at most 1", l.sweeps)
	}
	if len(l.clients) != maxTrackedClients {
		t.Errorf("%d clients tracked, want %d: all were busy", len(l.clients), maxTrackedClients)
	}
	// A second later every bucket has refilled (2 tokens at 10/s): the next
	// new client's sweep forgets them all, and it is tracked on its own.
	now = now.Add(time.Second)
	if ok, _ := l.allow("198.51.100.7"); !ok {
		t.Fatal("a new client was refused after the buckets refilled")
	}
	if l.sweeps != 2 || len(l.clients) != 1 {
		t.Errorf("after the refill: %d sweeps, %d clients; want 2 and only the new one", l.sweeps, len(l.clients))
	}
}

// BenchmarkFullLimiterNewClient: what a request from a client never seen
// costs when the limiter is full of busy clients (a flood from many
// addresses).
func BenchmarkFullLimiterNewClient(b *testing.B) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	l := fullLimiter(b, &now)
	b.ResetTimer()
	for i := range b.N {
		l.allow(fmt.Sprintf("new-%d", i))
	}
}
