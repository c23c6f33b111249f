// sqlitedays measures a "one SQLite table per UTC day" design for
// surveyguard's embedded store against the current single responses table,
// with the store's pragmas, on seeded copies of a database (issue 16: a
// purge of 100,000 rows a second). A measuring program, not product code:
// docs/benchmarks.md ("SQLite tables per day, measured") has what it found
// and how it was run. Build it with go build -o dayproto ./hack/sqlitedays.
//
//	dayproto seed     -scenario A|B|C -design day|single -out FILE
//	dayproto purge    -template FILE -work FILE [step options]
//	dayproto baseline -template FILE -work FILE -scenario A|B|C
//	dayproto ingest   -template FILE -work FILE -design day|single -sync none|fdatasync -dur 10s
//
// Every command prints one JSON line of results on stdout.
package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "modernc.org/sqlite"
)

const (
	dayRows      = 100000
	benchSubs    = 5000 // BenchmarkPurge's respondents (i % 5000)
	insertChunk  = 200  // the store's rows per INSERT
	subjChunk    = 250  // the store's respondents per statement
	ballastPages = 20000
)

// fill reads the ballast on c: its page cache is full afterwards.
func fill(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) {
	var n int64
	must(q.QueryRowContext(ctx, `SELECT sum(length(b)) FROM ballast`).Scan(&n))
}

// The project's pragmas (internal/store/sqlite/sqlite.go).
var pragmas = []string{"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(10000)", "foreign_keys(1)",
	"cache_size(-65536)", "temp_store(MEMORY)", "journal_size_limit(4194304)", "secure_delete(ON)"}

func dsn(path string, cacheKiB int, ro bool, extra ...string) string {
	params := url.Values{}
	for _, p := range pragmas {
		if strings.HasPrefix(p, "cache_size(") {
			p = fmt.Sprintf("cache_size(-%d)", cacheKiB)
		}
		params.Add("_pragma", p)
	}
	for _, e := range extra {
		params.Add("_pragma", e)
	}
	s := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + params.Encode()
	if ro {
		return s + "&mode=ro"
	}
	return s + "&_txlock=immediate"
}

const responseCols = `id TEXT PRIMARY KEY,
		idempotency_key TEXT%s,
		received_at INTEGER NOT NULL,
		score INTEGER NOT NULL CHECK (score BETWEEN 0 AND 10),
		segments TEXT NOT NULL,
		key_id TEXT,
		email BLOB,
		customer_id BLOB,
		comment BLOB,
		subject_customer TEXT,
		subject_email TEXT,
		anonymized INTEGER NOT NULL DEFAULT 0`

var common = []string{
	`CREATE TABLE subjects (pseudonym TEXT PRIMARY KEY, refs INTEGER NOT NULL) WITHOUT ROWID`,
	`CREATE TABLE counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID`,
	`CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID`,
}

func singleSchema() []string {
	return append([]string{
		`CREATE TABLE responses (` + fmt.Sprintf(responseCols, " UNIQUE") + `) WITHOUT ROWID`,
		`CREATE INDEX responses_raw_age ON responses (anonymized, received_at, id)`,
	}, common...)
}

func daySchema() []string {
	return append([]string{`CREATE TABLE idempotency (k TEXT PRIMARY KEY, id TEXT NOT NULL) WITHOUT ROWID`}, common...)
}

func dayTable(n int) string {
	return `CREATE TABLE responses_d` + strconv.Itoa(n) + ` (` + fmt.Sprintf(responseCols, "") + `) WITHOUT ROWID`
}

const insCols = `(id, idempotency_key, received_at, score, segments, key_id, email, customer_id, comment, subject_customer, subject_email)`

func repeated(item string, n int) string {
	return strings.TrimSuffix(strings.Repeat(item+", ", n), ", ")
}

// pseudo is a pseudonym as crypto.Keyring.Pseudonym makes one: 128 bits of
// HMAC, base64url, 22 characters.
func pseudo(r *rand.Rand) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], r.Uint64())
	binary.LittleEndian.PutUint64(b[8:], r.Uint64())
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newID is store.NewID: 48 bits of milliseconds and 80 random bits, hex.
func newID(at time.Time, r *rand.Rand) string {
	var b [16]byte
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(at.UnixMilli()))
	copy(b[:6], ms[2:])
	binary.LittleEndian.PutUint64(b[6:14], r.Uint64())
	binary.LittleEndian.PutUint16(b[14:], uint16(r.Uint64())) //nolint:gosec // G115: random bits, truncated on purpose
	return hex.EncodeToString(b[:])
}

var blob = make([]byte, 64) // the benchmark's ciphertexts: 64 zero bytes

type row struct {
	id, key    string
	at         int64
	score      int
	subC, subE string
}

func (r row) args() []any {
	return []any{r.id, r.key, r.at, r.score, `{"plan":"pro"}`, "k1", blob, blob[:40], append(append([]byte{}, blob...), blob...), r.subC, r.subE}
}

func bucket(score int) string {
	switch {
	case score >= 9:
		return "bucket:promoter"
	case score >= 7:
		return "bucket:passive"
	default:
		return "bucket:detractor"
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func exec(ctx context.Context, c *sql.Conn, q string, args ...any) sql.Result {
	res, err := c.ExecContext(ctx, q, args...)
	if err != nil {
		must(fmt.Errorf("%s: %w", firstLine(q), err))
	}
	return res
}

func firstLine(q string) string {
	if len(q) > 120 {
		q = q[:120]
	}
	return q
}

func removeDB(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		_ = os.Remove(p)
	}
}

// ---------------------------------------------------------------- seed

func seed(args []string) {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	scenario := fs.String("scenario", "A", "A (benchmark-like, 1 day), B (30 days), C (30 days, one respondent per row)")
	design := fs.String("design", "day", "day or single")
	out := fs.String("out", "", "database file")
	must(fs.Parse(args))
	ctx := context.Background()
	removeDB(*out)
	db, err := sql.Open("sqlite", dsn(*out, 1<<20, false, "synchronous(OFF)"))
	must(err)
	db.SetMaxOpenConns(1)
	c, err := db.Conn(ctx)
	must(err)
	schema := singleSchema()
	if *design == "day" {
		schema = daySchema()
	}
	for _, q := range schema {
		exec(ctx, c, q)
	}
	days := 30
	if *scenario == "A" {
		days = 1
	}
	seedNum := map[string]uint64{"A": 1, "B": 2, "C": 3}[*scenario]
	rng := rand.New(rand.NewChaCha8([32]byte{byte(seedNum)})) //nolint:gosec // G404: seeded, repeatable test data, not a secret
	const per = 100
	var insRows, insKeys, insSubs *sql.Stmt
	prep := func(q string) *sql.Stmt {
		s, err := c.PrepareContext(ctx, q)
		must(err)
		return s
	}
	insSubs = prep(`INSERT INTO subjects (pseudonym, refs) VALUES ` + repeated("(?, ?)", per) +
		` ON CONFLICT (pseudonym) DO UPDATE SET refs = subjects.refs + excluded.refs`)
	if *design == "single" {
		insRows = prep(`INSERT INTO responses ` + insCols + ` VALUES ` + repeated("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", per))
	} else {
		insKeys = prep(`INSERT INTO idempotency (k, id) VALUES ` + repeated("(?, ?)", per))
	}
	counters := map[string]int64{}
	old := time.Now().UTC().Add(-365 * 24 * time.Hour).Truncate(24 * time.Hour)
	var gi int64
	start := time.Now()
	for d := 0; d < days; d++ {
		if *design == "day" {
			exec(ctx, c, dayTable(d))
			insRows = prep(`INSERT INTO responses_d` + strconv.Itoa(d) + ` ` + insCols + ` VALUES ` + repeated("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", per))
		}
		dayStart := old.Add(time.Duration(d) * 24 * time.Hour)
		var subC, subE []string
		if *scenario != "C" {
			for j := 0; j < benchSubs; j++ {
				if *scenario == "A" { // BenchmarkPurge's record(): fmt.Sprintf("%022d", i%5000)
					subC, subE = append(subC, fmt.Sprintf("%022d", j)), append(subE, fmt.Sprintf("e%021d", j))
				} else {
					subC, subE = append(subC, pseudo(rng)), append(subE, pseudo(rng))
				}
			}
		}
		refs := map[string]int64{}
		var order []string
		exec(ctx, c, "BEGIN IMMEDIATE")
		var rowArgs, keyArgs []any
		for i := 1; i <= dayRows; i++ {
			gi++
			var at time.Time
			if *scenario == "A" {
				at = dayStart.Add(time.Duration(i) * time.Millisecond) // the benchmark's spacing
			} else {
				at = dayStart.Add(time.Duration(i) * 864 * time.Millisecond)
			}
			r := row{id: newID(at, rng) + fmt.Sprintf("%08d", gi), key: pseudo(rng), at: at.UnixMilli(), score: i % 11}
			if *scenario == "C" {
				r.subC, r.subE = pseudo(rng), pseudo(rng)
			} else {
				r.subC, r.subE = subC[i%benchSubs], subE[i%benchSubs]
			}
			if refs[r.subC] == 0 {
				order = append(order, r.subC)
			}
			refs[r.subC]++
			counters[bucket(r.score)]++
			counters["key:k1"]++
			rowArgs = append(rowArgs, r.args()...)
			if *design == "day" {
				keyArgs = append(keyArgs, r.key, r.id)
			}
			if i%per == 0 {
				if insKeys != nil {
					_, err := insKeys.ExecContext(ctx, keyArgs...)
					must(err)
				}
				_, err := insRows.ExecContext(ctx, rowArgs...)
				must(err)
				rowArgs, keyArgs = rowArgs[:0], keyArgs[:0]
			}
			if i%20000 == 0 {
				exec(ctx, c, "COMMIT")
				exec(ctx, c, "BEGIN IMMEDIATE")
			}
		}
		// the day's respondents, in the order they appeared
		var sa []any
		for _, s := range order {
			sa = append(sa, s, refs[s])
			if len(sa) == 2*per {
				_, err := insSubs.ExecContext(ctx, sa...)
				must(err)
				sa = sa[:0]
			}
		}
		if len(sa) > 0 {
			exec(ctx, c, `INSERT INTO subjects (pseudonym, refs) VALUES `+repeated("(?, ?)", len(sa)/2)+
				` ON CONFLICT (pseudonym) DO UPDATE SET refs = subjects.refs + excluded.refs`, sa...)
		}
		counters["customers"] += int64(len(order))
		exec(ctx, c, "COMMIT")
		fmt.Fprintf(os.Stderr, "day %d seeded (%s)\n", d, time.Since(start).Round(time.Second))
	}
	exec(ctx, c, "BEGIN IMMEDIATE")
	for name, n := range counters {
		exec(ctx, c, `INSERT INTO counters (name, n) VALUES (?, ?)`, name, n)
	}
	exec(ctx, c, "COMMIT")
	// ballast: 20,000 pages nobody purges, read before a measurement so that
	// the connections' page caches are full (as in a long-running
	// collector) and a page read recycles a slot instead of allocating one.
	exec(ctx, c, `CREATE TABLE ballast (n INTEGER PRIMARY KEY, b BLOB NOT NULL)`)
	exec(ctx, c, "BEGIN IMMEDIATE")
	for i := 0; i < ballastPages; i++ {
		exec(ctx, c, `INSERT INTO ballast (n, b) VALUES (?, zeroblob(3900))`, i)
	}
	exec(ctx, c, "COMMIT")
	exec(ctx, c, "PRAGMA wal_checkpoint(TRUNCATE)")
	var pages, free int64
	must(c.QueryRowContext(ctx, `SELECT (SELECT page_count FROM pragma_page_count), (SELECT freelist_count FROM pragma_freelist_count)`).Scan(&pages, &free))
	must(c.Close())
	must(db.Close())
	out2, _ := json.Marshal(map[string]any{"cmd": "seed", "scenario": *scenario, "design": *design, "pages": pages, "free": free,
		"rows": gi, "seconds": time.Since(start).Seconds()})
	fmt.Println(string(out2))
}

// ---------------------------------------------------------------- measuring

type meter struct {
	wall  time.Time
	cpu   time.Duration
	wchar int64
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func wchar() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "wchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

func startMeter() meter { return meter{wall: time.Now(), cpu: cpuNow(), wchar: wchar()} }

type step struct {
	Name      string  `json:"name"`
	WallMS    float64 `json:"wall_ms"`
	CPUMS     float64 `json:"cpu_ms"`
	Txns      int     `json:"txns,omitempty"`
	MaxHoldMS float64 `json:"max_hold_ms,omitempty"`
	MedHoldMS float64 `json:"med_hold_ms,omitempty"`
	P90HoldMS float64 `json:"p90_hold_ms,omitempty"`
	Items     int     `json:"items,omitempty"` // rows, keys or respondents the step handled
	WALBytes  int64   `json:"wal_bytes"`
	WrittenMB float64 `json:"written_mb"`
	Note      string  `json:"note,omitempty"`
}

func (m meter) stop(name string, walPath string) step {
	fi, _ := os.Stat(walPath)
	var wal int64
	if fi != nil {
		wal = fi.Size()
	}
	return step{Name: name, WallMS: ms(time.Since(m.wall)), CPUMS: ms(cpuNow() - m.cpu), WALBytes: wal,
		WrittenMB: float64(wchar()-m.wchar) / (1 << 20)}
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func holds(st *step, hs []time.Duration) {
	st.Txns = len(hs)
	if len(hs) == 0 {
		return
	}
	s := append([]time.Duration{}, hs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	st.MaxHoldMS, st.MedHoldMS, st.P90HoldMS = ms(s[len(s)-1]), ms(s[len(s)/2]), ms(s[len(s)*9/10])
}

func fdatasyncFile(path string) time.Duration {
	t := time.Now()
	f, err := os.Open(path)
	must(err)
	must(syscall.Fdatasync(int(f.Fd())))
	_ = f.Close()
	return time.Since(t)
}

func copyFile(src, dst string) {
	removeDB(dst)
	in, err := os.Open(src)
	must(err)
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	must(err)
	_, err = io.Copy(out, in)
	must(err)
	// the copy's pages are on disk before anything is measured: otherwise
	// the first checkpoint's fsync of the database writes the whole copy.
	must(out.Sync())
	must(out.Close())
}

// ---------------------------------------------------------------- purge

func purge(args []string) {
	fs := flag.NewFlagSet("purge", flag.ExitOnError)
	template := fs.String("template", "", "seeded per-day database")
	work := fs.String("work", "", "working copy")
	scenario := fs.String("scenario", "", "label")
	cchunk := fs.Int("cchunk", 0, "respondents per write transaction (0: all in one)")
	dmode := fs.String("dmode", "sorted", "idempotency keys: random, sorted or insub")
	dchunk := fs.Int("dchunk", 0, "keys per write transaction (0: all in one)")
	dstmt := fs.Int("dstmt", 500, "keys per DELETE statement (random, sorted)")
	secure := fs.String("secure", "ON", "secure_delete for the DROP: ON, OFF or FAST")
	drop := fs.String("drop", "drop", "drop: DROP TABLE; or chunks: range DELETEs of -echunk rows, then DROP")
	echunk := fs.Int("echunk", 5000, "rows per range DELETE transaction (-drop chunks)")
	label := fs.String("label", "", "label")
	prof := fs.String("eprof", "", "CPU profile of step e to this file")
	autoCkpt := fs.Int("autockpt", 1000, "wal_autocheckpoint on the writer (SQLite's default 1000; 0: none, the WAL grows)")
	warm := fs.Bool("warm", false, "read the day's table on the writer before step e (untimed)")
	must(fs.Parse(args))
	ctx := context.Background()
	copyFile(*template, *work)
	defer removeDB(*work)
	wal := *work + "-wal"
	wdb, err := sql.Open("sqlite", dsn(*work, 64<<10, false))
	must(err)
	wdb.SetMaxOpenConns(1)
	w, err := wdb.Conn(ctx)
	must(err)
	rdb, err := sql.Open("sqlite", dsn(*work, 8<<10, true))
	must(err)
	rdb.SetMaxOpenConns(1)
	const day = "responses_d0"
	var steps []step
	// checkpoint empties the WAL between steps; its time is reported (it is
	// the previous step's checkpoint work when -autockpt 0).
	checkpoint := func(name string) {
		m := startMeter()
		exec(ctx, w, "PRAGMA wal_checkpoint(TRUNCATE)")
		if name != "" {
			steps = append(steps, m.stop(name, *work+"-wal"))
		}
	}
	checkpoint("")
	fill(ctx, rdb) // the reader first: its first read made the writer's cache be discarded
	fill(ctx, w)
	probe(ctx, w, "start")
	exec(ctx, w, fmt.Sprintf("PRAGMA wal_autocheckpoint(%d)", *autoCkpt))

	// a. the day's IDs in (received_at, id) order, into a SHA-256 digest
	m := startMeter()
	rows, err := rdb.QueryContext(ctx, `SELECT id FROM `+day+` ORDER BY received_at, id`)
	must(err)
	h := sha256.New()
	var ids []string
	for rows.Next() {
		var id string
		must(rows.Scan(&id))
		_, _ = io.WriteString(h, id)
		_, _ = h.Write([]byte{'\n'})
		ids = append(ids, id)
	}
	must(rows.Err())
	st := m.stop("a_ids_by_received_at", wal)
	st.Items = len(ids)
	st.Note = hex.EncodeToString(h.Sum(nil))[:12]
	steps = append(steps, st)
	n := len(ids)

	// a'. the same in primary-key order (IDs are time-sortable: no sort)
	m = startMeter()
	rows, err = rdb.QueryContext(ctx, `SELECT id FROM `+day+` ORDER BY id`)
	must(err)
	h2 := sha256.New()
	k := 0
	for rows.Next() {
		var id sql.RawBytes
		must(rows.Scan(&id))
		_, _ = h2.Write(id)
		_, _ = h2.Write([]byte{'\n'})
		k++
	}
	must(rows.Err())
	st = m.stop("a2_ids_by_pk", wal)
	st.Items = k
	st.Note = hex.EncodeToString(h2.Sum(nil))[:12]
	steps = append(steps, st)

	// b. grouped counts: by score, by key_id, count with an idempotency key (three scans, as groupGone)
	m = startMeter()
	rows, err = rdb.QueryContext(ctx, `SELECT 1, CAST(score AS TEXT), count(*) FROM `+day+` GROUP BY score
		UNION ALL SELECT 2, key_id, count(*) FROM `+day+` WHERE key_id IS NOT NULL GROUP BY key_id
		UNION ALL SELECT 3, '', count(idempotency_key) FROM `+day)
	must(err)
	counts := map[string]int64{}
	var withKey int64
	for rows.Next() {
		var kind int
		var name string
		var c int64
		must(rows.Scan(&kind, &name, &c))
		switch kind {
		case 1:
			s, _ := strconv.Atoi(name)
			counts[bucket(s)] += c
		case 2:
			counts["key:"+name] += c
		case 3:
			withKey = c
		}
	}
	must(rows.Err())
	st = m.stop("b_grouped_union3", wal)
	st.Items = int(withKey)
	steps = append(steps, st)

	// b'. the same in one scan
	m = startMeter()
	rows, err = rdb.QueryContext(ctx, `SELECT score, key_id, count(*), count(idempotency_key) FROM `+day+` GROUP BY score, key_id`)
	must(err)
	for rows.Next() {
		var s int
		var kid sql.NullString
		var c, ck int64
		must(rows.Scan(&s, &kid, &c, &ck))
	}
	must(rows.Err())
	steps = append(steps, m.stop("b2_grouped_onescan", wal))

	// c (reader). the day's respondents and how many responses each loses
	m = startMeter()
	rows, err = rdb.QueryContext(ctx, `SELECT sub, count(*) FROM (SELECT CASE WHEN subject_customer <> '' THEN subject_customer
		ELSE subject_email END AS sub FROM `+day+` WHERE anonymized = 0) AS subs WHERE sub <> '' GROUP BY sub`)
	must(err)
	var subs []string
	var subN []int64
	for rows.Next() {
		var s string
		var c int64
		must(rows.Scan(&s, &c))
		subs, subN = append(subs, s), append(subN, c)
	}
	must(rows.Err())
	st = m.stop("c_read_respondents", wal)
	st.Items = len(subs)
	steps = append(steps, st)

	// d (reader). the day's idempotency keys
	var keys []string
	if *dmode != "insub" {
		m = startMeter()
		q := `SELECT idempotency_key FROM ` + day + ` WHERE idempotency_key IS NOT NULL`
		if *dmode == "sorted" {
			q += ` ORDER BY idempotency_key`
		}
		rows, err = rdb.QueryContext(ctx, q)
		must(err)
		for rows.Next() {
			var s string
			must(rows.Scan(&s))
			keys = append(keys, s)
		}
		must(rows.Err())
		st = m.stop("d_read_keys_"+*dmode, wal)
		st.Items = len(keys)
		steps = append(steps, st)
	}
	must(rdb.Close())

	probe(ctx, w, "beforeC")
	// c (writer). lower subjects.refs, delete those at zero; chunks of -cchunk respondents per transaction
	checkpoint("")
	upd, err := w.PrepareContext(ctx, `UPDATE subjects SET refs = subjects.refs - v.column2 FROM (VALUES `+ //nolint:gosec // G202: only placeholders are joined in
		repeated("(?, CAST(? AS BIGINT))", subjChunk)+`) AS v WHERE subjects.pseudonym = v.column1`)
	must(err)
	del, err := w.PrepareContext(ctx, `DELETE FROM subjects WHERE refs <= 0 AND pseudonym IN (`+repeated("?", subjChunk)+`)`) //nolint:gosec // G202: only placeholders are joined in
	must(err)
	per := *cchunk
	if per <= 0 {
		per = len(subs)
	}
	var hs []time.Duration
	var gone int64
	m = startMeter()
	for lo := 0; lo < len(subs); lo += per {
		t := time.Now()
		exec(ctx, w, "BEGIN IMMEDIATE")
		hi := min(lo+per, len(subs))
		for s := lo; s < hi; s += subjChunk {
			pairs := make([]any, 0, 2*subjChunk)
			names := make([]any, 0, subjChunk)
			for j := s; j < min(s+subjChunk, hi); j++ {
				pairs, names = append(pairs, subs[j], subN[j]), append(names, subs[j])
			}
			for len(names) < subjChunk {
				pairs, names = append(pairs, "", 0), append(names, "")
			}
			_, err := upd.ExecContext(ctx, pairs...)
			must(err)
			res, err := del.ExecContext(ctx, names...)
			must(err)
			g, _ := res.RowsAffected()
			gone += g
		}
		exec(ctx, w, "COMMIT")
		hs = append(hs, time.Since(t))
	}
	st = m.stop("c_write_subjects", wal)
	st.Items = len(subs)
	st.Note = fmt.Sprintf("chunk=%d gone=%d", per, gone)
	holds(&st, hs)
	steps = append(steps, st)
	steps = append(steps, step{Name: "f_fsync_after_c", WallMS: ms(fdatasyncFile(wal))})

	// d (writer). free the day's idempotency keys
	checkpoint("ckpt_after_c")
	probe(ctx, w, "beforeD")
	hs = hs[:0]
	var freed int64
	m = startMeter()
	switch *dmode {
	case "random", "sorted":
		stmt, err := w.PrepareContext(ctx, `DELETE FROM idempotency WHERE k IN (`+repeated("?", *dstmt)+`)`) //nolint:gosec // G202: only placeholders are joined in
		must(err)
		per := *dchunk
		if per <= 0 {
			per = len(keys)
		}
		for lo := 0; lo < len(keys); lo += per {
			t := time.Now()
			exec(ctx, w, "BEGIN IMMEDIATE")
			hi := min(lo+per, len(keys))
			for s := lo; s < hi; s += *dstmt {
				a := make([]any, 0, *dstmt)
				for j := s; j < min(s+*dstmt, hi); j++ {
					a = append(a, keys[j])
				}
				for len(a) < *dstmt {
					a = append(a, "")
				}
				res, err := stmt.ExecContext(ctx, a...)
				must(err)
				g, _ := res.RowsAffected()
				freed += g
			}
			exec(ctx, w, "COMMIT")
			hs = append(hs, time.Since(t))
		}
	case "insub":
		per := *dchunk
		if per <= 0 || per >= n {
			t := time.Now()
			exec(ctx, w, "BEGIN IMMEDIATE")
			res := exec(ctx, w, `DELETE FROM idempotency WHERE k IN (SELECT idempotency_key FROM `+day+`)`)
			freed, _ = res.RowsAffected()
			exec(ctx, w, "COMMIT")
			hs = append(hs, time.Since(t))
		} else {
			// chunks by primary-key ranges of the day's table
			sorted := append([]string{}, ids...)
			sort.Strings(sorted)
			stmt, err := w.PrepareContext(ctx, `DELETE FROM idempotency WHERE k IN (SELECT idempotency_key FROM `+day+` WHERE id > ? AND id <= ?)`)
			must(err)
			prev := ""
			for lo := 0; lo < n; lo += per {
				last := sorted[min(lo+per, n)-1]
				t := time.Now()
				exec(ctx, w, "BEGIN IMMEDIATE")
				res, err := stmt.ExecContext(ctx, prev, last)
				must(err)
				g, _ := res.RowsAffected()
				freed += g
				exec(ctx, w, "COMMIT")
				hs = append(hs, time.Since(t))
				prev = last
			}
		}
	}
	st = m.stop("d_write_keys_"+*dmode, wal)
	st.Items = int(freed)
	st.Note = fmt.Sprintf("chunk=%d stmt=%d", *dchunk, *dstmt)
	holds(&st, hs)
	steps = append(steps, st)
	steps = append(steps, step{Name: "f_fsync_after_d", WallMS: ms(fdatasyncFile(wal))})

	// e. the day's table goes; the counters lose the day's counts
	checkpoint("ckpt_after_d")
	exec(ctx, w, "PRAGMA secure_delete("+*secure+")")
	hs = hs[:0]
	var pagesBefore int64
	must(w.QueryRowContext(ctx, `SELECT page_count - freelist_count FROM pragma_page_count, pragma_freelist_count`).Scan(&pagesBefore))
	probe(ctx, w, "beforeE")
	if *warm {
		var c int64
		must(w.QueryRowContext(ctx, `SELECT count(*), sum(length(comment)) FROM `+day).Scan(&c, new(int64)))
	}
	if *prof != "" {
		f, err := os.Create(*prof)
		must(err)
		must(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	m = startMeter()
	if *drop == "chunks" {
		sorted := append([]string{}, ids...)
		sort.Strings(sorted)
		stmt, err := w.PrepareContext(ctx, `DELETE FROM `+day+` WHERE id > ? AND id <= ?`)
		must(err)
		prev := ""
		for lo := 0; lo < n; lo += *echunk {
			last := sorted[min(lo+*echunk, n)-1]
			t := time.Now()
			exec(ctx, w, "BEGIN IMMEDIATE")
			_, err := stmt.ExecContext(ctx, prev, last)
			must(err)
			exec(ctx, w, "COMMIT")
			hs = append(hs, time.Since(t))
			prev = last
		}
	}
	t0 := time.Now()
	exec(ctx, w, "BEGIN IMMEDIATE")
	exec(ctx, w, "DROP TABLE "+day)
	tDrop := time.Since(t0)
	var ca []any
	for name, c := range counts {
		ca = append(ca, name, c)
	}
	ca = append(ca, "customers", gone)
	exec(ctx, w, `UPDATE counters SET n = counters.n - v.column2 FROM (VALUES `+repeated("(?, CAST(? AS BIGINT))", len(ca)/2)+
		`) AS v WHERE counters.name = v.column1`, ca...)
	tCounters := time.Since(t0) - tDrop
	walBeforeCommit := int64(0)
	if fi, err := os.Stat(wal); err == nil {
		walBeforeCommit = fi.Size()
	}
	exec(ctx, w, "COMMIT")
	hs = append(hs, time.Since(t0))
	st = m.stop("e_drop_"+*drop+"_secure_"+*secure, wal)
	st.Items = n
	st.Note = fmt.Sprintf("drop=%.1fms counters=%.1fms commit=%.1fms tablepages=%d walBeforeCommit=%d echunk=%d",
		ms(tDrop), ms(tCounters), ms(hs[len(hs)-1]-tDrop-tCounters), pagesBefore, walBeforeCommit, *echunk)
	holds(&st, hs)
	eIdx := len(steps)
	steps = append(steps, st)
	steps = append(steps, step{Name: "f_fsync_after_e", WallMS: ms(fdatasyncFile(wal))})
	checkpoint("ckpt_after_e")
	var pagesAfter int64
	must(w.QueryRowContext(ctx, `SELECT page_count - freelist_count FROM pragma_page_count, pragma_freelist_count`).Scan(&pagesAfter))
	steps[eIdx].Note += fmt.Sprintf(" pagesFreed=%d", pagesBefore-pagesAfter)
	must(w.Close())
	must(wdb.Close())
	out, _ := json.Marshal(map[string]any{"cmd": "purge", "scenario": *scenario, "label": *label, "rows": n, "steps": steps})
	fmt.Println(string(out))
}

// ---------------------------------------------------------------- baseline

func baseline(args []string) {
	fs := flag.NewFlagSet("baseline", flag.ExitOnError)
	template := fs.String("template", "", "seeded single-table database")
	work := fs.String("work", "", "working copy")
	scenario := fs.String("scenario", "", "label")
	must(fs.Parse(args))
	ctx := context.Background()
	copyFile(*template, *work)
	defer removeDB(*work)
	wal := *work + "-wal"
	wdb, err := sql.Open("sqlite", dsn(*work, 64<<10, false))
	must(err)
	wdb.SetMaxOpenConns(1)
	w, err := wdb.Conn(ctx)
	must(err)
	exec(ctx, w, "PRAGMA wal_checkpoint(TRUNCATE)")
	fill(ctx, w)
	var first int64
	must(w.QueryRowContext(ctx, `SELECT min(received_at) FROM responses`).Scan(&first))
	// +1: the day's last seeded row is received at the end of its day
	cutoff := time.UnixMilli(first).UTC().Truncate(24*time.Hour).Add(24*time.Hour).UnixMilli() + 1
	m := startMeter()
	t0 := time.Now()
	exec(ctx, w, "BEGIN IMMEDIATE")
	res := exec(ctx, w, `DELETE FROM responses WHERE anonymized = 0 AND received_at < ?`, cutoff)
	tDel := time.Since(t0)
	exec(ctx, w, "COMMIT")
	hold := time.Since(t0)
	st := m.stop("baseline_plain_delete", wal)
	nDel, _ := res.RowsAffected()
	st.Items = int(nDel)
	st.Note = fmt.Sprintf("delete=%.1fms commit=%.1fms", ms(tDel), ms(hold-tDel))
	holds(&st, []time.Duration{hold})
	steps := []step{st, {Name: "f_fsync_after_baseline", WallMS: ms(fdatasyncFile(wal))}}
	must(w.Close())
	must(wdb.Close())
	out, _ := json.Marshal(map[string]any{"cmd": "baseline", "scenario": *scenario, "rows": nDel, "steps": steps})
	fmt.Println(string(out))
}

// ---------------------------------------------------------------- ingest

func ingest(args []string) {
	fs := flag.NewFlagSet("ingest", flag.ExitOnError)
	template := fs.String("template", "", "seeded database (day or single design)")
	work := fs.String("work", "", "working copy")
	design := fs.String("design", "day", "day or single")
	syncMode := fs.String("sync", "none", "none or fdatasync (of the WAL after each commit)")
	dur := fs.Duration("dur", 10*time.Second, "how long")
	group := fs.Int("group", 512, "rows per group commit")
	prof := fs.String("prof", "", "CPU profile to this file")
	must(fs.Parse(args))
	if *prof != "" {
		f, err := os.Create(*prof)
		must(err)
		must(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	copyFile(*template, *work)
	defer removeDB(*work)
	wal := *work + "-wal"
	wdb, err := sql.Open("sqlite", dsn(*work, 64<<10, false))
	must(err)
	wdb.SetMaxOpenConns(1)
	w, err := wdb.Conn(ctx)
	must(err)
	exec(ctx, w, "PRAGMA wal_checkpoint(TRUNCATE)")
	fill(ctx, w)
	today := "responses_today"
	if *design == "day" {
		exec(ctx, w, strings.Replace(dayTable(0), "responses_d0", today, 1))
	}
	stmts := map[string]*sql.Stmt{}
	prep := func(key, q string) *sql.Stmt {
		if s, ok := stmts[key]; ok {
			return s
		}
		s, err := w.PrepareContext(ctx, q)
		must(err)
		stmts[key] = s
		return s
	}
	rowsSQL := func(n int) *sql.Stmt {
		if *design == "single" {
			return prep("rows"+strconv.Itoa(n), `INSERT OR IGNORE INTO responses `+insCols+` VALUES `+
				repeated("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", n)+` RETURNING id`)
		}
		return prep("rows"+strconv.Itoa(n), `INSERT INTO `+today+` `+insCols+` VALUES `+repeated("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", n))
	}
	keysSQL := func(n int) *sql.Stmt {
		return prep("keys"+strconv.Itoa(n), `INSERT OR IGNORE INTO idempotency (k, id) VALUES `+repeated("(?, ?)", n)+` RETURNING k`)
	}
	subsSQL := func(n int) *sql.Stmt {
		return prep("subs"+strconv.Itoa(n), `INSERT INTO subjects (pseudonym, refs) VALUES `+repeated("(?, ?)", n)+
			` ON CONFLICT (pseudonym) DO UPDATE SET refs = subjects.refs + excluded.refs RETURNING pseudonym, refs`)
	}
	countersSQL := func(n int) *sql.Stmt {
		return prep("counters"+strconv.Itoa(n), `INSERT INTO counters (name, n) VALUES `+repeated("(?, CAST(? AS BIGINT))", n)+
			` ON CONFLICT (name) DO UPDATE SET n = counters.n + excluded.n`)
	}
	rng := rand.New(rand.NewChaCha8([32]byte{9})) //nolint:gosec // G404: seeded, repeatable test data, not a secret
	subNames := make([]string, benchSubs)         // ingest's respondents: 5000, as BenchmarkIngest's record()
	for i := range subNames {
		subNames[i] = pseudo(rng)
	}
	var gi int64 = 1 << 40
	var total int
	var dbTime time.Duration
	var groups, syncs []time.Duration
	start := time.Now()
	for time.Since(start) < *dur {
		now := time.Now()
		batch := make([]row, *group)
		for i := range batch {
			gi++
			batch[i] = row{id: newID(now, rng) + fmt.Sprintf("%08d", gi%1e8), key: pseudo(rng), at: now.UnixMilli(),
				score: int(gi % 11), subC: subNames[gi%benchSubs], subE: subNames[(gi+1)%benchSubs]}
		}
		t := time.Now()
		exec(ctx, w, "BEGIN IMMEDIATE")
		subRefs := map[string]int64{}
		cnt := map[string]int64{}
		for lo := 0; lo < len(batch); lo += insertChunk {
			chunk := batch[lo:min(lo+insertChunk, len(batch))]
			inserted := map[string]bool{}
			if *design == "day" {
				var ka []any
				for _, r := range chunk {
					ka = append(ka, r.key, r.id)
				}
				rs, err := keysSQL(len(chunk)).QueryContext(ctx, ka...)
				must(err)
				for rs.Next() {
					var k string
					must(rs.Scan(&k))
					inserted[k] = true
				}
				must(rs.Close())
				var ra []any
				for _, r := range chunk {
					if inserted[r.key] {
						ra = append(ra, r.args()...)
					}
				}
				_, err = rowsSQL(len(ra)/11).ExecContext(ctx, ra...)
				must(err)
			} else {
				var ra []any
				for _, r := range chunk {
					ra = append(ra, r.args()...)
				}
				rs, err := rowsSQL(len(chunk)).QueryContext(ctx, ra...)
				must(err)
				for rs.Next() {
					var id string
					must(rs.Scan(&id))
					inserted[id] = true
				}
				must(rs.Close())
			}
			for _, r := range chunk {
				subRefs[r.subC]++
				cnt[bucket(r.score)]++
				cnt["key:k1"]++
			}
		}
		names := make([]string, 0, len(subRefs))
		for s := range subRefs {
			names = append(names, s)
		}
		sort.Strings(names)
		var newSubs int64
		for lo := 0; lo < len(names); lo += subjChunk {
			part := names[lo:min(lo+subjChunk, len(names))]
			var sa []any
			for _, s := range part {
				sa = append(sa, s, subRefs[s])
			}
			rs, err := subsSQL(len(part)).QueryContext(ctx, sa...)
			must(err)
			for rs.Next() {
				var s string
				var refs int64
				must(rs.Scan(&s, &refs))
				if refs == subRefs[s] {
					newSubs++
				}
			}
			must(rs.Close())
		}
		cnt["customers"] += newSubs
		cn := make([]string, 0, len(cnt))
		for c := range cnt {
			cn = append(cn, c)
		}
		sort.Strings(cn)
		var ca []any
		for _, c := range cn {
			ca = append(ca, c, cnt[c])
		}
		_, err := countersSQL(len(cn)).ExecContext(ctx, ca...)
		must(err)
		exec(ctx, w, "COMMIT")
		g := time.Since(t)
		groups = append(groups, g)
		if *syncMode == "fdatasync" {
			s := fdatasyncFile(wal)
			syncs = append(syncs, s)
			g += s
		}
		dbTime += g
		total += len(batch)
	}
	elapsed := time.Since(start)
	pct := func(d []time.Duration, p float64) float64 {
		if len(d) == 0 {
			return 0
		}
		s := append([]time.Duration{}, d...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return ms(s[min(len(s)-1, int(p*float64(len(s))))])
	}
	must(w.Close())
	must(wdb.Close())
	out, _ := json.Marshal(map[string]any{"cmd": "ingest", "design": *design, "sync": *syncMode, "rows": total,
		"rows_per_s": float64(total) / elapsed.Seconds(), "db_rows_per_s": float64(total) / dbTime.Seconds(),
		"commit_p50_ms": pct(groups, 0.5), "commit_p99_ms": pct(groups, 0.99), "commit_max_ms": pct(groups, 1),
		"sync_p50_ms": pct(syncs, 0.5), "sync_p99_ms": pct(syncs, 0.99)})
	fmt.Println(string(out))
}

// probe reads the ballast on the writer at a point PROBE names, and says how long it took.
func probe(ctx context.Context, c *sql.Conn, point string) {
	if !strings.Contains(os.Getenv("PROBE"), point) {
		return
	}
	t := time.Now()
	fill(ctx, c)
	fmt.Fprintf(os.Stderr, "probe %s: ballast read in %v\n", point, time.Since(t))
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dayproto seed|purge|baseline|ingest [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "seed":
		seed(os.Args[2:])
	case "purge":
		purge(os.Args[2:])
	case "baseline":
		baseline(os.Args[2:])
	case "ingest":
		ingest(os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}
