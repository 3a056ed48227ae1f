package analysis

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/internal/testenv"
	"github.com/kvscope/kvscope/replay/kvcache"
)

// chromiumRender loads page (an HTML report) in headless Chromium, as a
// reader's browser would, and returns the path of a screenshot and the DOM
// after its scripts ran. It fails the test on any console message, after
// proving on a probe page that such a message would be seen.
func chromiumRender(t *testing.T, page []byte) (shot, dom string) {
	t.Helper()
	return chromiumRenderAt(t, page, 1400)
}

// chromiumRenderAt is chromiumRender in a window width CSS pixels wide.
func chromiumRenderAt(t *testing.T, page []byte, width int) (shot, dom string) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		bin, err = exec.LookPath("chromium-browser")
	}
	testenv.Require(t, "chromium (apt-get install chromium)", err == nil)
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, page, 0o644); err != nil {
		t.Fatal(err)
	}
	chrome := func(url string, extra ...string) (stdout, stderr string) {
		t.Helper()
		args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir=" + t.TempDir(), fmt.Sprintf("--window-size=%d,4000", width)}, extra...)
		args = append(args, url)
		// A hang guard only: Chromium's start-up, not a speed check.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", extra, err, e.String())
		}
		return o.String(), e.String()
	}
	consoleLines := func(logs string) []string {
		var out []string
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, "CONSOLE") || strings.Contains(line, "Uncaught") {
				out = append(out, line)
			}
		}
		return out
	}
	// The detector sees console output: a page that logs an error is caught.
	probe := filepath.Join(dir, "probe.html")
	if err := os.WriteFile(probe, []byte(`<html><body>x<script>console.error("kvscope-probe")</script></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, logs := chrome("file://"+probe, "--screenshot="+filepath.Join(dir, "probe.png"), "--enable-logging=stderr", "--v=0")
	if got := consoleLines(logs); len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), "kvscope-probe") {
		t.Fatalf("console detector missed the probe's error; chromium said:\n%s", logs)
	}
	shot = filepath.Join(dir, "shot.png")
	_, logs = chrome("file://"+file, "--screenshot="+shot, "--enable-logging=stderr", "--v=0")
	for _, line := range consoleLines(logs) {
		t.Errorf("console message: %s", line)
	}
	dom, _ = chrome("file://"+file, "--dump-dom")
	return shot, dom
}

// checkScreenshot fails unless the PNG at path is at least w×h and not
// blank (many distinct colours: tables, highlighted cells, text, charts).
func checkScreenshot(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < w || b.Dy() < h {
		t.Fatalf("screenshot %v, want at least %dx%d", b, w, h)
	}
	colours := map[[3]uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			colours[[3]uint32{cr >> 8, cg >> 8, cb >> 8}] = true
		}
	}
	if len(colours) < 20 {
		t.Fatalf("screenshot looks blank: %d distinct colours", len(colours))
	}
}

// TestCurveHTMLChromium renders the capacity-planning report in headless
// Chromium: no console message, a non-blank page, and the curve chart in
// the DOM with its lines, the GPU marks and the knees drawn.
func TestCurveHTMLChromium(t *testing.T) {
	r, err := NewCurveReport(context.Background(), curveSample(t), curveCfg(kvcache.Blocks), CurveOptions{
		Model: "llama-3.1-8b", OptAt: []int64{1000, 4000}, RLTAt: []int64{1000}, Seeds: 3})
	if err != nil {
		t.Fatal(err)
	}
	page := renderCurve(t, r, FormatHTML)
	shot, dom := chromiumRender(t, page)
	checkScreenshot(t, shot, 1000, 1000)
	if !strings.Contains(dom, `id="chart-curve"`) {
		t.Fatal("DOM lacks the curve chart")
	}
	if n, want := strings.Count(dom, "<svg "), strings.Count(string(page), "<svg "); n != want || n == 0 {
		t.Fatalf("DOM has %d SVG charts, want %d", n, want)
	}
	// Lines, axes and labels in the SVG; the legend (HTML) under it.
	if strings.Count(dom, "<path") < 5 || strings.Count(dom, "<text") < 6 || strings.Count(dom, `<li><span class="sw`) < 4 {
		t.Fatalf("curve chart looks empty: %d paths, %d texts, %d legend entries", strings.Count(dom, "<path"), strings.Count(dom, "<text"), strings.Count(dom, `<li><span class="sw`))
	}
	// Nothing of the chart or its legend sticks out (the legend was cut
	// at the right edge when gonum drew it), wide and narrow.
	for _, width := range []int{1200, 480} {
		_, dom := chromiumRenderAt(t, []byte(strings.Replace(string(page), "</body>", fitProbe+"</body>", 1)), width)
		if c := attr(dom, "data-clipped"); c != "" || attr(dom, "data-checked") == "0" {
			t.Errorf("width %d: outside their box: %q (%s texts measured)", width, c, attr(dom, "data-checked"))
		}
	}
}
