package progress

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSize(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {999, "999 B"}, {1000, "1.0 KB"}, {4096, "4.1 KB"}, {78_200, "78 KB"}, {999_400, "999 KB"},
		{999_600, "1.0 MB"}, {1_327_884, "1.3 MB"}, {45_000_000, "45 MB"}, {3_400_000_000, "3.4 GB"}, {5_000_000_000_000_000, "5000 TB"}} {
		if got := Size(c.n); got != c.want {
			t.Errorf("Size(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

func TestCountPercentRate(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 40000: "40,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
	if got := Percent(999, 1000); got != " (99%)" {
		t.Errorf("Percent(999, 1000) = %q: 100%% before the end", got)
	}
	if got := Percent(1000, 1000); got != " (100%)" {
		t.Errorf("Percent(1000, 1000) = %q", got)
	}
	if Percent(5, 0) != "" {
		t.Error("a percentage without a total")
	}
	if got := Rate(5_000_000, 2*time.Second, "B"); got != "2.5 MB/s" {
		t.Errorf("Rate bytes = %q", got)
	}
	if got := Rate(10240, 2*time.Second, "requests"); got != "5,120 requests/s" {
		t.Errorf("Rate requests = %q", got)
	}
	if got := Rate(3, time.Minute, "runs"); got != "0.05 runs/s" {
		t.Errorf("Rate runs = %q", got)
	}
	if Rate(1, time.Millisecond, "B") != "" {
		t.Error("a rate over a millisecond")
	}
}

// TestPrinterThrottles: updates closer than MinInterval are dropped (the
// work's callbacks drive the line; the clock only thins it), the first is
// drawn, and Clear erases what is on screen.
func TestPrinterThrottles(t *testing.T) {
	var b bytes.Buffer
	p := New(&b, Always, false)
	now := time.Unix(0, 0)
	p.Now = func() time.Time { return now }
	calls := 0
	for i := range 25 {
		p.Update(func() string { calls++; return "step " + Count(int64(i)) })
		now = now.Add(10 * time.Millisecond)
	}
	// 250 ms of updates every 10 ms: drawn at 0, 100 and 200 ms.
	if got := strings.Count(b.String(), "\r\x1b[K"); got != 3 || calls != 3 {
		t.Errorf("%d lines drawn, %d formatted, want 3: %q", got, calls, b.String())
	}
	if !strings.HasSuffix(b.String(), "\r\x1b[Kstep 20") {
		t.Errorf("last line %q", b.String())
	}
	p.Final(func() string { return "done" })
	if !strings.HasSuffix(b.String(), "step 20\r\x1b[Kdone") {
		t.Errorf("Final was throttled: %q", b.String())
	}
	p.Clear()
	if !strings.HasSuffix(b.String(), "done\r\x1b[K") {
		t.Errorf("not cleared: %q", b.String())
	}
	n := b.Len()
	p.Clear()
	if b.Len() != n {
		t.Error("a second Clear wrote again")
	}
}

// TestPrinterModes: Auto draws nothing on a non-terminal, Never never,
// quiet silences the wrote line too; the wrote line needs no terminal.
func TestPrinterModes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, make([]byte, 78_000), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mode  Mode
		quiet bool
		want  string
	}{
		{Auto, false, "wrote " + path + " (78 KB)\n"},
		{Never, false, "wrote " + path + " (78 KB)\n"},
		{Always, false, "\r\x1b[Kworking\r\x1b[Kwrote " + path + " (78 KB)\n"},
		{Always, true, ""},
	} {
		var b bytes.Buffer
		p := New(&b, c.mode, c.quiet)
		p.Update(func() string { return "working" })
		p.Wrote(path)
		p.Wrote("-")
		if b.String() != c.want {
			t.Errorf("%v quiet=%v: %q, want %q", c.mode, c.quiet, b.String(), c.want)
		}
	}
	var b bytes.Buffer
	New(&b, Never, false).Wrote(path, "300 requests", "native")
	if want := "wrote " + path + " (78 KB, 300 requests, native)\n"; b.String() != want {
		t.Errorf("with details: %q, want %q", b.String(), want)
	}
	for _, s := range []string{"auto", "always", "never"} {
		if m, err := ParseMode(s); err != nil || m.String() != s {
			t.Errorf("ParseMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseMode("sometimes"); err == nil {
		t.Error("ParseMode accepted sometimes")
	}
}

// TestReader: every byte is counted, in reads of at most chunk bytes, and
// the callback sees the running count and the total.
func TestReader(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 100_000)
	var seen []int64
	r := NewReader(bytes.NewReader(data), int64(len(data)), func(n, total int64) {
		if total != int64(len(data)) {
			t.Errorf("total %d", total)
		}
		seen = append(seen, n)
	})
	got, err := io.ReadAll(r)
	if err != nil || len(got) != len(data) || r.N() != int64(len(data)) {
		t.Fatalf("read %d bytes, counted %d, err %v", len(got), r.N(), err)
	}
	if len(seen) < len(data)/chunk || seen[len(seen)-1] != int64(len(data)) {
		t.Errorf("callbacks %v", seen)
	}
	var out bytes.Buffer
	w := NewWriter(&out)
	io.WriteString(w, "hello")
	if w.N() != 5 || out.String() != "hello" {
		t.Errorf("writer counted %d", w.N())
	}
}
