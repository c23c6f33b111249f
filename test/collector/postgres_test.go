package collector

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for the recount

	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
	"github.com/surveyguard/surveyguard/internal/store/postgres"
	"github.com/surveyguard/surveyguard/internal/store/sqlstore"
	"github.com/surveyguard/surveyguard/internal/store/storetest"
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
	all := killUnderLoad(t, cfgPath)

	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	stored := storetest.VerifyAcked(t, s, db, all)
	t.Logf("%d acknowledged, %d stored, counters agree with a recount", len(all), stored)
}
