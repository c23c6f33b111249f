package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat: USER_HZ, which
// Linux fixes at 100 on every architecture it exports to user space.
const userHZ = 100

// cpuWatch reads, for a set of named processes, the CPU time (user and
// system, all threads) each has used, and the machine's busy time, so that
// a phase of a benchmark can say what took the cores.
type cpuWatch struct {
	pids map[string]int
}

// cpuSample is one reading: each process's CPU time, and the machine's busy
// time summed over its cores.
type cpuSample struct {
	at    time.Time
	procs map[string]time.Duration
	busy  time.Duration
}

// controlPlanePIDs finds this process's children named kube-apiserver and
// etcd: envtest's control plane.
func controlPlanePIDs(b *testing.B) map[string]int {
	b.Helper()
	out := map[string]int{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, ppid, _, err := procStat(pid)
		if err != nil || ppid != self {
			continue
		}
		if comm == "kube-apiserver" || comm == "etcd" {
			out[comm] = pid
		}
	}
	if len(out) != 2 {
		b.Fatalf("found %v of envtest's kube-apiserver and etcd among this process's children", out)
	}
	return out
}

// procStat reads a process's name, parent and CPU time from /proc/<pid>/stat.
func procStat(pid int) (comm string, ppid int, cpu time.Duration, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, 0, err
	}
	// The name is in parentheses and may hold spaces: the fields after it
	// start at the last ')'.
	s := string(raw)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return "", 0, 0, fmt.Errorf("/proc/%d/stat: no name in %q", pid, s)
	}
	fields := strings.Fields(s[closing+1:])
	// fields[0] is the state (field 3); ppid is field 4, utime and stime 14 and 15.
	if len(fields) < 13 {
		return "", 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	ppid, err = strconv.Atoi(fields[1])
	if err != nil {
		return "", 0, 0, err
	}
	var ticks int64
	for _, f := range fields[11:13] {
		t, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return "", 0, 0, err
		}
		ticks += t
	}
	return s[open+1 : closing], ppid, time.Duration(ticks) * time.Second / userHZ, nil
}

// machineBusy reads the time all cores together spent busy from /proc/stat.
func machineBusy() (time.Duration, error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	// user nice system idle iowait irq softirq steal: all but idle and
	// iowait is busy (guest time is already inside user and nice).
	var busy int64
	for i, f := range fields[1:9] {
		t, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, err
		}
		if i != 3 && i != 4 {
			busy += t
		}
	}
	return time.Duration(busy) * time.Second / userHZ, nil
}

// sample reads every watched process and the machine.
func (w cpuWatch) sample(b *testing.B) cpuSample {
	b.Helper()
	s := cpuSample{at: time.Now(), procs: map[string]time.Duration{}}
	for name, pid := range w.pids {
		_, _, cpu, err := procStat(pid)
		if err != nil {
			b.Fatalf("reading the CPU time of %s: %v", name, err)
		}
		s.procs[name] = cpu
	}
	var err error
	if s.busy, err = machineBusy(); err != nil {
		b.Fatal(err)
	}
	return s
}

// cpuPhase is what a phase between two samples cost.
type cpuPhase struct {
	wall  time.Duration
	procs map[string]time.Duration
	// cores is how many cores the machine kept busy on average, whoever
	// used them.
	cores float64
}

func (s cpuSample) since(start cpuSample) cpuPhase {
	p := cpuPhase{wall: s.at.Sub(start.at), procs: map[string]time.Duration{}}
	for name, cpu := range s.procs {
		p.procs[name] = cpu - start.procs[name]
	}
	if p.wall > 0 {
		p.cores = float64(s.busy-start.busy) / float64(p.wall)
	}
	return p
}

// String lists the processes' CPU seconds and the busy cores.
func (p cpuPhase) String() string {
	var parts []string
	for _, name := range []string{"kube-apiserver", "etcd", "manager", "benchmark"} {
		if cpu, ok := p.procs[name]; ok {
			parts = append(parts, fmt.Sprintf("%s %.1f", name, cpu.Seconds()))
		}
	}
	return fmt.Sprintf("CPU-seconds in %s: %s; the machine's cores busy: %.2f", p.wall.Round(100*time.Millisecond), strings.Join(parts, ", "), p.cores)
}

// TestProcStat checks the /proc readers on this process: its name and
// parent, and CPU time that grows while it computes.
func TestProcStat(t *testing.T) {
	comm, ppid, before, err := procStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Base(os.Args[0]); comm == "" || !strings.HasPrefix(want, comm) {
		t.Errorf("name %q, want the start of %q", comm, want)
	}
	if ppid != os.Getppid() {
		t.Errorf("parent %d, want %d", ppid, os.Getppid())
	}
	busy0, err := machineBusy()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// Compute until the kernel has counted 200ms more for this process.
	// The machine's figure is sampled at each tick, per core, while the
	// process's is its precise run time: over 30ms the two differ by a
	// tick or two, over 200ms by far less than half.
	const used = 200 * time.Millisecond
	x := uint64(1)
	for {
		for range 1 << 20 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		_, _, now, err := procStat(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if now-before >= used {
			break
		}
	}
	wall := time.Since(start)
	busy1, err := machineBusy()
	if err != nil {
		t.Fatal(err)
	}
	grew := busy1 - busy0
	if grew < used/2 {
		t.Errorf("the machine's busy time grew by %s while this process used %s (x=%d)", grew, used, x)
	}
	// All the cores together cannot be busy for longer than they ran.
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	cores := strings.Count(string(raw), "\ncpu") // cpu0, cpu1, … after the total
	if limit := time.Duration(cores)*wall + 2*time.Second/userHZ; grew > limit {
		t.Errorf("the machine's busy time grew by %s in %s on %d cores", grew, wall, cores)
	}
}
