package collector

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for the recount

	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
	"github.com/surveyguard/surveyguard/internal/nps"
	"github.com/surveyguard/surveyguard/internal/store/postgres"
	"github.com/surveyguard/surveyguard/internal/store/sqlstore"
	"github.com/surveyguard/surveyguard/internal/testenv"
)

// TestPostgresReplicasNoPlaintext runs two collectors (two replicas) on one
// PostgreSQL database: both see the same figures, and a pg_dump of the
// database holds none of the personal data sent.
func TestPostgresReplicasNoPlaintext(t *testing.T) {
	pg, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	dsn, err := pg.CreateDatabase("campaign")
	if err != nil {
		t.Fatal(err)
	}
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	collectortest.WriteFile(t, dsnFile, []byte(dsn))
	usePG := func(cfg string) string {
		return replaceLine(cfg, "store:", fmt.Sprintf("store: {driver: postgres, dsnFile: %s}", dsnFile))
	}
	a := collectortest.Start(t, usePG)
	// The second replica must share the first one's keys to read its data.
	b := collectortest.Start(t, func(cfg string) string {
		return replaceLine(usePG(cfg), "keysDir:", "keysDir: "+a.KeysDir)
	})
	secrets := []string{"okapi.lyrebird@example.net", "CUST-4242-PRIVATE", "the coupon field rejected my code"}
	for i := range 12 {
		f := a
		if i%2 == 1 {
			f = b
		}
		body := fmt.Sprintf(`{"score":%d,"consent":{"given":true,"noticeVersion":"2026-01"},"email":%q,"customerID":%q,"comment":%q}`,
			i%11, secrets[0], secrets[1], secrets[2])
		if r := f.Post(t, body); r.Status != 201 {
			t.Fatalf("post to replica %d: %d %s", i%2, r.Status, r.Raw)
		}
	}
	sa, sb := a.Stats(t), b.Stats(t)
	if sa["responses"] != 12.0 || sb["responses"] != 12.0 || sa["score"] != sb["score"] {
		t.Fatalf("replicas disagree or miss responses:\nA %v\nB %v", sa, sb)
	}
	dump, err := pg.PgDump("campaign")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(dump, []byte("COPY public.responses")) {
		t.Fatalf("pg_dump has no responses table:\n%.400s", dump)
	}
	for _, s := range secrets {
		if bytes.Contains(bytes.ToLower(dump), []byte(strings.ToLower(s))) {
			t.Errorf("pg_dump contains the plaintext %q", s)
		}
	}
}

// TestKill9LosesNoAcknowledgedResponsePostgres: kill -9 of a collector on
// PostgreSQL under load, three times, loses no response it answered 201,
// and leaves counters that equal a recount. A group commit takes two round
// trips (BEGIN, the rows and the respondents; then the counters and
// COMMIT): a kill between them, or during COMMIT, leaves a transaction
// PostgreSQL rolls back when the connection drops, and nobody was answered
// for it.
func TestKill9LosesNoAcknowledgedResponsePostgres(t *testing.T) {
	pg, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	dsn, err := pg.CreateDatabase("killed")
	if err != nil {
		t.Fatal(err)
	}
	cfgPath, _ := setup(t)
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	collectortest.WriteFile(t, dsnFile, []byte(dsn))
	collectortest.WriteFile(t, cfgPath, []byte(replaceLine(string(cfg), "store:", fmt.Sprintf("store: {driver: postgres, dsnFile: %s}", dsnFile))))
	all := map[string]int{}
	for round := range 3 {
		p := launch(t, cfgPath)
		stop := make(chan struct{})
		done := make(chan map[string]int)
		go func() { done <- load(p, 32, stop) }()
		time.Sleep(time.Duration(700+300*round) * time.Millisecond)
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Wait()
		close(stop)
		acked := <-done
		if len(acked) == 0 {
			t.Fatalf("round %d: no response was acknowledged before the kill:\n%s", round, p.log)
		}
		maps.Copy(all, acked)
	}

	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	for id, score := range all {
		r, err := s.Get(ctx, id)
		if err != nil {
			t.Fatalf("acknowledged response %s is lost: %v", id, err)
		}
		if r.Score != score {
			t.Fatalf("response %s has score %d, acknowledged %d", id, r.Score, score)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	var recount nps.Counts
	var customers, stored int64
	if err := db.QueryRow(`SELECT count(*) FILTER (WHERE score >= 9), count(*) FILTER (WHERE score BETWEEN 7 AND 8),
		count(*) FILTER (WHERE score <= 6), count(DISTINCT subject_customer), count(*) FROM responses`).
		Scan(&recount.Promoters, &recount.Passives, &recount.Detractors, &customers, &stored); err != nil {
		t.Fatal(err)
	}
	if st.Counts != recount || st.DistinctCustomers != customers {
		t.Fatalf("counters %+v / %d customers disagree with a recount %+v / %d", st.Counts, st.DistinctCustomers, recount, customers)
	}
	t.Logf("%d acknowledged, %d stored, counters agree with a recount", len(all), stored)
}
