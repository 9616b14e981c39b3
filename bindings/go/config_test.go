package raindrop

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// CAFile and TLSRoots reach the core: it reads the bundle (or refuses it) at New.
func TestTLSSettingsReachTheCore(t *testing.T) {
	t.Setenv("SSL_CERT_FILE", "") // it would win over TLSRoots
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("no certificate here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cfg  Config
		want string // in the core's message
	}{
		{Config{CAFile: filepath.Join(dir, "missing.pem")}, "ca_file (or SSL_CERT_FILE) cannot be read"},
		{Config{CAFile: notPEM}, "ca_file (or SSL_CERT_FILE) holds no PEM certificate"},
		{Config{TLSRoots: "none"}, `tls_roots must be "webpki" or "platform"`},
	} {
		c.cfg.APIKey, c.cfg.Endpoint = "k", "http://127.0.0.1:1/v1/"
		_, err := New(c.cfg)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want ErrInvalidConfig with %q", c.cfg, err, c.want)
		}
	}
	for _, roots := range []string{"webpki", "platform"} {
		cl, err := New(Config{APIKey: "k", Endpoint: "http://127.0.0.1:1/v1/", TLSRoots: roots})
		if err != nil {
			t.Errorf("TLSRoots %q: %v", roots, err)
			continue
		}
		_ = cl.Shutdown(context.Background())
	}
}

// MaxOpenCallBytes reaches the core: a call whose input is over it is refused at begin (the
// module still runs) and counted; the same call with the default bound is recorded.
func TestMaxOpenCallBytesRefusalsAreCounted(t *testing.T) {
	capt := newCapture(t)
	big := map[string]any{"question": strings.Repeat("x", 4096)}
	for _, bound := range []int{0, 1024} {
		cl := newTestClient(t, capt, func(c *Config) { c.MaxOpenCallBytes = bound })
		out, err := cl.Wrap("m", echoModule()).Process(context.Background(), big)
		if err != nil || !strings.HasPrefix(out["answer"].(string), "re: ") {
			t.Fatalf("bound %d: the module must run: %v %v", bound, out, err)
		}
		flush(t, cl)
		st, err := cl.Stats()
		if err != nil {
			t.Fatal(err)
		}
		want := uint64(0)
		if bound != 0 {
			want = 1
		}
		if st.CallsRefused != want {
			t.Errorf("bound %d: CallsRefused = %d, want %d", bound, st.CallsRefused, want)
		}
	}
	if n := len(capt.events(t)); n != 1 {
		t.Errorf("%d events, want 1 (the call under the default bound)", n)
	}
}

// ServiceName reaches the core: the traces' resource carries it.
func TestServiceNameReachesTheTraces(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt, func(c *Config) { c.ServiceName = "checkout-bot"; c.TracingEnabled = Bool(true) })
	if _, err := cl.Wrap("m", echoModule()).Process(context.Background(), map[string]any{"question": "q"}); err != nil {
		t.Fatal(err)
	}
	flush(t, cl)
	var names []string
	for _, req := range capt.items(t, "/traces") {
		for _, rs := range asList(req["resourceSpans"]) {
			for _, a := range asList(asMap(asMap(rs)["resource"])["attributes"]) {
				if asMap(a)["key"] == "service.name" {
					names = append(names, str(asMap(asMap(a)["value"])["stringValue"]))
				}
			}
		}
	}
	if len(names) == 0 || names[0] != "checkout-bot" {
		t.Errorf("service.name = %v, want checkout-bot", names)
	}
}
