package live

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCausesOnTheFirstLine: with the cache size given (no /metrics needed),
// a worker that cannot be reached fails every request, and each reason, the
// later "no healthy worker" ones included, names the worker's URL and the
// underlying error instead of a bare "no healthy worker".
func TestCausesOnTheFirstLine(t *testing.T) {
	tlsSrv := httptest.NewUnstartedServer(newFake())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	plain := httptest.NewServer(newFake())
	defer plain.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused

	for _, tc := range []struct {
		name, url, cause string
		tls              *tls.Config
	}{
		{"unknown CA", tlsSrv.URL, "certificate", nil},
		{"https spoken to an http server", strings.Replace(plain.URL, "http:", "https:", 1), "HTTP response to HTTPS client", nil},
		{"refused port", closed, "connection refused", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := smallTrace(t, 6)
			res := liveRun(t, tr, []string{tc.url}, Config{Concurrency: 1, CacheBlocks: 100, Retries: 1, Client: ClientConfig{Model: "m", TLS: tc.tls}})
			if res.Completed != 0 {
				t.Fatalf("%d completed", res.Completed)
			}
			for _, r := range res.Records {
				first, _, _ := strings.Cut(r.Reason, "\n")
				if !strings.Contains(first, tc.cause) {
					t.Fatalf("request %d: reason %q lacks %q", r.Index, r.Reason, tc.cause)
				}
				if strings.Contains(first, "no healthy worker") && !strings.Contains(first, tc.url) {
					t.Fatalf("request %d: reason %q does not name the worker's URL %s", r.Index, r.Reason, tc.url)
				}
			}
		})
	}
}

func TestSecretCheck(t *testing.T) {
	for _, tc := range []struct {
		key, want string
	}{
		{"sk-abc123\n", ""},
		{"  sk-abc123  ", ""},
		{"sk-abc\nsk-def\n", "2 lines"},
		{"sk abc", "space or control character at byte 3"},
		{"sk\tabc", "space or control character"},
	} {
		err := NewSecret(tc.key).Check()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%q: %v, want %q", tc.key, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "abc") {
			t.Errorf("%q: the message shows the key: %v", tc.key, err)
		}
	}
}
