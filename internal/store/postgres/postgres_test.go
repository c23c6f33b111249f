package postgres_test

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/user"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for the recount

	"github.com/surveyguard/surveyguard/internal/store"
	"github.com/surveyguard/surveyguard/internal/store/postgres"
	"github.com/surveyguard/surveyguard/internal/store/sqlstore"
	"github.com/surveyguard/surveyguard/internal/store/storetest"
	"github.com/surveyguard/surveyguard/internal/testenv"
)

var pg *testenv.Postgres

func TestMain(m *testing.M) {
	var err error
	pg, err = testenv.StartPostgres()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := pg.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping PostgreSQL:", err)
	}
	os.Exit(code)
}

var dbs atomic.Int64

// newDatabase creates a database of its own for a test, named from prefix,
// and returns its DSN.
func newDatabase(t *testing.T, prefix string) string {
	t.Helper()
	dsn, err := pg.CreateDatabase(fmt.Sprintf("%s_%d", prefix, dbs.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// opener opens the store of dsn, failing the test on an error.
func opener(dsn string) func(*testing.T) store.Store {
	return func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), dsn, sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, func(*testing.T) store.Store) {
		dsn := newDatabase(t, "contract")
		open := opener(dsn)
		return open(t), open
	})
}

// TestNoSpace fills a 4 MiB file system: see storetest.RunNoSpace. The
// store's tables and indexes live in a tablespace on a tmpfs (the
// database's default_tablespace), so it is the store's files that cannot
// grow; the catalog and the server's WAL stay on the server's disk.
func TestNoSpace(t *testing.T) {
	storetest.RunNoSpace(t, func(t *testing.T) (store.Store, func(*testing.T) store.Store) {
		dir := storetest.Tmpfs(t, "4m", serverOwner()...)
		name := fmt.Sprintf("full_%d", dbs.Add(1))
		admin(t, "CREATE TABLESPACE "+name+" LOCATION '"+dir+"'")
		t.Cleanup(func() { admin(t, "DROP TABLESPACE "+name) })
		dsn, err := pg.CreateDatabase(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin(t, "DROP DATABASE "+name+" WITH (FORCE)") })
		admin(t, "ALTER DATABASE "+name+" SET default_tablespace = "+name)
		open := opener(dsn)
		return open(t), open
	})
}

// serverOwner is the tmpfs mount options that give it to the user the test
// server runs as: "postgres" when the tests run as root (testenv).
func serverOwner() []string {
	u, err := user.Lookup("postgres")
	if os.Geteuid() != 0 || err != nil {
		return nil // not root: Tmpfs skips the test
	}
	return []string{"uid=" + u.Uid, "gid=" + u.Gid, "mode=0700"}
}

// admin runs one statement as the test server's superuser.
func admin(t *testing.T, stmt string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close(ctx) }()
	if _, err := c.Exec(ctx, stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// TestReplicasShareCounters runs three stores (three collector replicas) on
// one database: concurrent inserts of the same respondents and a purge from
// another replica must leave counters that agree with a recount.
func TestReplicasShareCounters(t *testing.T) {
	dsn := newDatabase(t, "replicas")
	ctx := context.Background()
	var replicas []store.Store
	for range 3 {
		s, err := postgres.Open(ctx, dsn, sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, s)
	}
	defer func() {
		for _, s := range replicas {
			_ = s.Close()
		}
	}()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const perReplica = 300
	var wg sync.WaitGroup
	for i, s := range replicas {
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range perReplica / 8 {
					n := i*perReplica + w*100 + j
					r := &store.Record{
						ID: fmt.Sprintf("%s-%d", store.NewID(base), n), ReceivedAt: base.Add(time.Duration(j) * time.Minute),
						Score: n % 11, KeyID: "k1", CustomerID: []byte("ct"),
						SubjectCustomerID: fmt.Sprintf("cust-%d", n%50), // 50 people, answering on every replica
					}
					if _, err := s.Insert(ctx, r); err != nil {
						t.Errorf("replica %d: %v", i, err)
						return
					}
				}
			}()
		}
	}
	// Purges from two replicas at once, beside every replica's ingest
	// (their own included: a purge's transactions run beside the group
	// commits): the two race for the same rows.
	for _, s := range replicas[:2] {
		wg.Go(func() {
			if _, err := s.Purge(ctx, store.PurgeRequest{Cutoff: base.Add(5 * time.Minute), Action: store.ActionDelete, BatchSize: 7}); err != nil {
				t.Errorf("purge: %v", err)
			}
		})
	}
	wg.Wait()

	st, err := replicas[1].Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	var total, promoters, customers, subjects int64
	if err := db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE score >= 9), count(DISTINCT subject_customer),
		(SELECT count(*) FROM subjects) FROM responses`).Scan(&total, &promoters, &customers, &subjects); err != nil {
		t.Fatal(err)
	}
	if st.Counts.Total() != total || st.Counts.Promoters != promoters || st.DistinctCustomers != customers || subjects != customers ||
		st.KeyIDs["k1"] != total {
		t.Errorf("counters disagree with a recount: counters %+v customers %d (%d pseudonyms kept) k1 %d; recount total %d promoters %d customers %d",
			st.Counts, st.DistinctCustomers, subjects, st.KeyIDs["k1"], total, promoters, customers)
	}
	if total == 0 || total == 3*perReplica {
		t.Errorf("recount %d: want some, not all, responses purged", total)
	}
}

// TestReplicasEraseOnce: three replicas asked for the same erasure at once
// (an operator retrying while the first answer was lost) erase once; the
// others answer that erasure's receipt, replayed.
func TestReplicasEraseOnce(t *testing.T) {
	dsn := newDatabase(t, "erase_once")
	ctx := context.Background()
	var replicas []store.Store
	for range 3 {
		replicas = append(replicas, opener(dsn)(t))
	}
	defer func() {
		for _, s := range replicas {
			_ = s.Close()
		}
	}()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 40 {
		r := &store.Record{ID: fmt.Sprintf("%s-%02d", store.NewID(base), i), ReceivedAt: base, Score: i % 11,
			KeyID: "k1", CustomerID: []byte("ct"), SubjectCustomerID: fmt.Sprintf("cust-%d", i%2)}
		if _, err := replicas[i%3].Insert(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	req := store.EraseRequest{Subjects: []string{"cust-0"}, RequestID: "8a1f0e2c-race"}
	receipts := make([]store.EraseReceipt, 3*len(replicas))
	var wg sync.WaitGroup
	for i := range receipts {
		wg.Go(func() {
			var err error
			if receipts[i], err = replicas[i%len(replicas)].Erase(ctx, req); err != nil {
				t.Errorf("replica %d: %v", i%len(replicas), err)
			}
		})
	}
	wg.Wait()
	erased := 0
	for _, rc := range receipts {
		if !rc.Replayed {
			erased++
		}
		if rc.Erased != 20 || rc.Digest != receipts[0].Digest || !rc.FinishedAt.Equal(receipts[0].FinishedAt) {
			t.Errorf("receipt %+v; want every call to answer the one erasure of 20 responses", rc)
		}
	}
	if erased != 1 {
		t.Errorf("%d of %d calls erased, want 1 (the others replayed)", erased, len(receipts))
	}
	st, err := replicas[0].Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Counts.Total() != 20 || st.DistinctCustomers != 1 {
		t.Errorf("after the erasure: %d responses, %d customers; want 20 and 1", st.Counts.Total(), st.DistinctCustomers)
	}
}

// TestSilentServerTimesOut: a server that takes the connection and never
// answers (a proxy in front of a database that is gone) fails the open
// after the default connect timeout, naming where it connected, instead
// of holding the collector's start.
func TestSilentServerTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	t.Cleanup(postgres.SetConnectTimeout(300 * time.Millisecond))
	addr := l.Addr().(*net.TCPAddr)
	dsn := fmt.Sprintf("postgres://collector:secret@127.0.0.1:%d/nps?sslmode=disable", addr.Port)
	done := make(chan error, 1)
	go func() {
		_, err := postgres.Open(context.Background(), dsn, sqlstore.Options{})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("127.0.0.1:%d/nps", addr.Port)) || strings.Contains(err.Error(), "secret") {
			t.Errorf("open: %v, want an error naming 127.0.0.1:%d/nps and not the password", err, addr.Port)
		}
	case <-time.After(time.Minute):
		t.Fatal("the open is still waiting on a silent server after a minute")
	}
}

// TestCommitsWaitForTheFlush: a database, or a DSN, that turns
// synchronous_commit off does not make the store answer responses before
// PostgreSQL has flushed them; a stronger setting is kept.
func TestCommitsWaitForTheFlush(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, database, options, want string
	}{
		{name: "the database turns it off", database: "off", want: "on"},
		{name: "the DSN turns it off", options: "-c synchronous_commit=off", want: "on"},
		{name: "a stronger setting is kept", database: "remote_apply", want: "remote_apply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := newDatabase(t, "synccommit")
			name := dsn[strings.LastIndex(dsn, "/")+1 : strings.Index(dsn, "?")]
			if tc.database != "" {
				admin, err := pgx.Connect(ctx, pg.DSN("postgres"))
				if err != nil {
					t.Fatal(err)
				}
				_, err = admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" SET synchronous_commit = "+tc.database)
				_ = admin.Close(ctx)
				if err != nil {
					t.Fatal(err)
				}
			}
			if tc.options != "" {
				dsn += "&options=" + strings.NewReplacer(" ", "%20", "=", "%3D").Replace(tc.options)
			}
			// The setting really reaches a plain connection.
			plain, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			var raw string
			err = plain.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&raw)
			_ = plain.Close(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := cmp.Or(tc.database, "off"); raw != want {
				t.Fatalf("a plain connection has synchronous_commit %q, want %q: the test does not set what it means to", raw, want)
			}
			db, err := postgres.OpenDB(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = db.Close() }()
			// Every connection of the pool, not only the first.
			conns := make([]*sql.Conn, 3)
			for i := range conns {
				if conns[i], err = db.Conn(ctx); err != nil {
					t.Fatal(err)
				}
				defer func() { _ = conns[i].Close() }()
				var got, source string
				if err := conns[i].QueryRowContext(ctx, `SELECT setting, source FROM pg_settings WHERE name = 'synchronous_commit'`).Scan(&got, &source); err != nil {
					t.Fatal(err)
				}
				if got != tc.want {
					t.Errorf("connection %d of the store's pool has synchronous_commit %q, want %q", i, got, tc.want)
				}
				// Pinned for the session: a reload of the server's
				// configuration does not change it under the pool.
				if source != "session" {
					t.Errorf("connection %d's synchronous_commit comes from %q, want session", i, source)
				}
			}
		})
	}
}
