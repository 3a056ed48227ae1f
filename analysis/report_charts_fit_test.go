package analysis

import (
	"context"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// fitProbe, appended to a test's copy of a report (the report itself has
// no script), measures in the browser every text of every chart against
// its SVG's box, and every legend entry against the page, and writes what
// sticks out into the body's data-clipped attribute: the check that would
// have caught "vs Belac" and the sweep's cut "1600".
const fitProbe = `<script>
(function(){
  var out = [];
  document.querySelectorAll("svg[id^=chart-]").forEach(function(svg){
    var b = svg.getBoundingClientRect();
    svg.querySelectorAll("text").forEach(function(t){
      var r = t.getBoundingClientRect();
      if (r.width > 0 && (r.left < b.left-0.5 || r.right > b.right+0.5 || r.top < b.top-0.5 || r.bottom > b.bottom+0.5))
        out.push(svg.id + ": " + t.textContent + " [" + [r.left-b.left, b.right-r.right, r.top-b.top, b.bottom-r.bottom].map(function(x){return x.toFixed(1)}).join(",") + "]");
    });
  });
  var w = document.documentElement.clientWidth;
  document.querySelectorAll(".legend li").forEach(function(li){
    if (li.getBoundingClientRect().right > w+0.5) out.push("legend: " + li.textContent);
  });
  document.body.setAttribute("data-clipped", out.join(" | "));
  document.body.setAttribute("data-checked", String(document.querySelectorAll("svg[id^=chart-] text").length));
})();
</script>`

// chartsReport is a comparison whose charts once clipped: eight workers
// (queue heat strips), a doubling cache sweep (log axis, ticks at the
// values), competitive ratios near 1 (the fitted axis), long labels.
func chartsReport(t *testing.T) *Report {
	t.Helper()
	tr, st := sampleTrace(t)
	sw, err := ParseSweep("cache_blocks=250,500,1000,2000,4000")
	if err != nil {
		t.Fatal(err)
	}
	es := entries(t, "lbgr+rlt;workers=8", "cache_aware:preset=sglang-0.4.6+lru;workers=8")
	cmp, err := Compare(context.Background(), tr, es, CompareOptions{Seeds: 1, Points: 60, Sweep: &sw})
	if err != nil {
		t.Fatal(err)
	}
	return &Report{Command: "kvscope compare sample", Version: "test", Stats: st, Comparison: cmp}
}

// TestReportChartsFitChromium: at a wide and a narrow window, no text of
// any chart lies outside its SVG and no legend entry outside the page.
func TestReportChartsFitChromium(t *testing.T) {
	page := string(render(t, chartsReport(t), FormatHTML))
	// The probe must see clipping: a chart with a text pushed out.
	bad := strings.Replace(page, "</body>", `<svg id="chart-probe" width="100" height="50" viewBox="0 0 100 50"><text x="80" y="20">far too long to fit</text></svg>`+fitProbe+"</body>", 1)
	_, dom := chromiumRenderAt(t, []byte(bad), 1000)
	if !strings.Contains(dom, "chart-probe: far too long to fit") {
		t.Fatalf("the probe misses a clipped text: %q", attr(dom, "data-clipped"))
	}
	for _, width := range []int{1200, 480} {
		_, dom := chromiumRenderAt(t, []byte(strings.Replace(page, "</body>", fitProbe+"</body>", 1)), width)
		n, _ := strconv.Atoi(attr(dom, "data-checked"))
		if n < 100 {
			t.Fatalf("width %d: %d chart texts measured; the probe did not run", width, n)
		}
		if c := attr(dom, "data-clipped"); c != "" {
			t.Errorf("width %d: outside their box: %s", width, c)
		}
	}
}

func attr(dom, name string) string {
	m := regexp.MustCompile(name + `="([^"]*)"`).FindStringSubmatch(dom)
	if m == nil {
		return ""
	}
	return m[1]
}

// The charts' data-driven choices: the competitive ratio axis is fitted
// to ratios near 1 with a tick at 1 (not a log axis to 1e6), the sweep's
// x ticks are the swept values on a log axis, and eight workers' queues
// are a heat strip.
func TestReportChartChoices(t *testing.T) {
	r := chartsReport(t)
	byID := map[string]chart{}
	for _, c := range r.charts() {
		byID[c.ID] = c
	}
	c := byID["competitive"]
	if c.YMax > 100 || !containsFloat(c.YTicks, 1) {
		t.Errorf("competitive y axis %g…%g, ticks %v: want fitted to the data with 1", c.YMin, c.YMax, c.YTicks)
	}
	sw := byID["sweep-token_hit_ratio"]
	if !sw.LogX || len(sw.XTicks) != 5 || sw.XTicks[0] != 250 || sw.XTicks[4] != 4000 {
		t.Errorf("sweep x: log %v ticks %v", sw.LogX, sw.XTicks)
	}
	q := byID["queue-0"]
	if q.Heat == nil || len(q.Heat.Rows) != 8 {
		t.Errorf("8 workers' queue chart is not a heat strip of 8 rows")
	}
	for _, want := range []string{`class="legend"`, `class="sw heat"`, `class="sw ring"`} {
		if !strings.Contains(string(render(t, r, FormatHTML)), want) {
			t.Errorf("HTML lacks %s", want)
		}
	}
}

func containsFloat(xs []float64, v float64) bool {
	for _, x := range xs {
		if math.Abs(x-v) < 1e-12 {
			return true
		}
	}
	return false
}

func TestTickHelpers(t *testing.T) {
	for v, want := range map[float64]string{0: "0", math.Copysign(0, -1): "0", 16000: "16000", 1.5: "1.5", 0.123456: "0.1235", -2: "-2"} {
		if got := tickLabel(v); got != want {
			t.Errorf("tickLabel(%v) = %q, want %q", v, got, want)
		}
	}
	got := logTicks(0.9, 21)
	want := []float64{1, 1.5, 2, 3, 5, 7, 10, 15, 20}
	if len(got) != len(want) {
		t.Fatalf("logTicks(0.9, 21) = %v, want %v", got, want)
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Fatalf("logTicks(0.9, 21) = %v, want %v", got, want)
		}
	}
}
