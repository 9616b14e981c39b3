package raindrop

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
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

// Every key the core's configuration accepts (src/config.rs, RawConfig) has a typed Config
// field: a Config with every field set writes exactly those keys.
func TestConfigCoversEveryCoreKey(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "src", "config.rs"))
	if err != nil {
		t.Fatal(err)
	}
	body := regexp.MustCompile(`(?s)struct RawConfig \{(.*?)\n\}`).FindSubmatch(src)
	if body == nil {
		t.Fatal("struct RawConfig not found in src/config.rs")
	}
	core := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*([a-z_]+):`).FindAllSubmatch(body[1], -1) {
		core[string(m[1])] = true
	}
	if len(core) < 30 {
		t.Fatalf("read only %d keys from RawConfig: %v", len(core), core)
	}
	var cfg Config
	v := reflect.ValueOf(&cfg).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Int, reflect.Int64:
			f.SetInt(1) // time.Duration too: 1 ns rounds to 0 ms, set below
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Pointer:
			if f.Type().Elem().Kind() == reflect.Bool {
				f.Set(reflect.ValueOf(Bool(true)))
			}
		}
		if f.Type() == reflect.TypeOf(time.Duration(0)) {
			f.SetInt(int64(time.Second))
		}
	}
	b, err := cfg.toJSON()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for k := range core {
		if _, ok := got[k]; !ok {
			t.Errorf("the core's key %q has no Config field", k)
		}
	}
	for k := range got {
		if !core[k] {
			t.Errorf("Config writes %q, which the core does not accept", k)
		}
	}
}
