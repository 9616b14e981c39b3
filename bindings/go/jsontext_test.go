package raindrop

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

type inner struct {
	A int    `json:"a"`
	B string `json:"b,omitempty"`
}

type Embedded struct {
	E  string
	ID int `json:"id"`
}

type sample struct {
	Name    string            `json:"name"`
	Skip    string            `json:"-"`
	Count   int               `json:",omitempty"`
	Ratio   float64           `json:"ratio"`
	Tiny    float64           `json:"tiny"`
	Big     float32           `json:"big"`
	Quoted  int               `json:"quoted,string"`
	Inner   inner             `json:"inner"`
	Ptr     *inner            `json:"ptr"`
	List    []any             `json:"list"`
	Bytes   []byte            `json:"bytes"`
	Tags    map[string]string `json:"tags"`
	IntKeys map[int]bool      `json:"int_keys"`
	When    time.Time         `json:"when"`
	Raw     json.RawMessage   `json:"raw"`
	Num     json.Number       `json:"num"`
	private int
	Embedded
	ID string // hidden by nothing: Embedded's tagged "id" is deeper, but this is "ID"
}

// TestBoundedJSONMatchesEncodingJSON: under the cap the text is byte for byte
// what encoding/json writes (without HTML escaping).
func TestBoundedJSONMatchesEncodingJSON(t *testing.T) {
	values := []any{
		"plain", `quote " back \ ctl ` + "\n\t\x01", "<html> & co", "é ü 😀 \u2028", "bad \xff utf8",
		42, -7, uint64(math.MaxUint64), 3.5, 1e-9, 1e21, 123456789.0, float32(0.1), true, false,
		map[string]any{"b": 1, "a": []any{1, "x", nil, map[string]any{}}, "c": nil},
		[]string{"x", "y"}, []int{}, map[string]int{}, [2]bool{true, false},
		sample{Name: "n", Ratio: 0.25, Tiny: 1e-7, Big: 1e22, Quoted: 12, Inner: inner{A: 1},
			Ptr: &inner{A: 2, B: "b"}, List: []any{1.5, "s"}, Bytes: []byte("hello bytes"),
			Tags: map[string]string{"z": "1", "a": "2"}, IntKeys: map[int]bool{10: true, 2: false},
			When: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Raw: json.RawMessage(`{ "x" : [1, 2] }`),
			Num: "12.50", Embedded: Embedded{E: "e", ID: 9}, ID: "top"},
		&inner{A: 3},
	}
	for _, v := range values {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if s, ok := v.(string); ok {
			want = []byte(s) // a string input goes as is
		}
		if got := boundedJSON(v, 1<<20); got != string(want) {
			t.Errorf("boundedJSON(%#v)\n got %s\nwant %s", v, got, want)
		}
	}
}

func TestBoundedJSONUnencodableValuesBecomeStrings(t *testing.T) {
	got := wholeJSON(map[string]any{"c": make(chan int), "f": math.Inf(1), "ok": 1})
	var m map[string]any
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatalf("not valid JSON: %s: %v", got, err)
	}
	if m["ok"] != 1.0 || m["f"] != "+Inf" || !strings.HasPrefix(m["c"].(string), "0x") {
		t.Errorf("got %s", got)
	}
}

// TestBoundedJSONCostIsBoundedByTheCap: a 5 MiB input costs what the cap
// costs (allocation, not time: the assertion must not depend on the machine).
func TestBoundedJSONCostIsBoundedByTheCap(t *testing.T) {
	big := strings.Repeat("é", 5<<20/2)
	const maxChars = 1000
	inputs := []any{
		map[string]any{"question": big},
		[]string{big, big},
		map[string]any{"deep": []any{map[string]any{"x": big}}},
		big,
	}
	many := make(map[string]int, 100_000)
	for i := 0; i < 100_000; i++ {
		many[strings.Repeat("k", 10)+string(rune('a'+i%26))+itoa(i)] = i
	}
	inputs = append(inputs, many)
	for i, v := range inputs {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		got := boundedJSON(v, maxChars)
		runtime.ReadMemStats(&after)
		if n := len([]rune(got)); n <= maxChars || n > maxChars+64 {
			t.Errorf("input %d: %d characters, want just past the cap %d", i, n, maxChars)
		}
		// Map iteration and the sort scratch of `many` allocate per entry; the
		// text inputs must allocate nothing near their 5 MiB.
		if alloc := after.TotalAlloc - before.TotalAlloc; i < 4 && alloc > 64<<10 {
			t.Errorf("input %d: allocated %d bytes for a %d-character cap", i, alloc, maxChars)
		}
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestWrapCapsAHugeInputBeforeEncoding(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt, func(c *Config) { c.MaxTextFieldChars = 2000 })
	m := cl.Wrap("m", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		return map[string]any{"answer": "short"}, nil
	}))
	huge := strings.Repeat("x", 5<<20)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := m.Process(context.Background(), map[string]any{"question": huge}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 512<<10 {
		t.Errorf("a 5 MiB input allocated %d bytes: it was encoded whole", alloc)
	}
	flush(t, cl)
	evs := capt.events(t)
	if len(evs) != 1 {
		t.Fatalf("want 1 event, got %d", len(evs))
	}
	in := str(path(evs[0], "ai_data", "input"))
	if len([]rune(in)) > 2000 || !strings.HasPrefix(in, `{"question":"xxx`) || !strings.HasSuffix(in, "[truncated by raindrop]") {
		t.Errorf("input: %d chars, %q...%q", len(in), in[:min(len(in), 20)], in[max(0, len(in)-30):])
	}
}

// TestStrMatchesEncodingJSON: the string encoder (runs found by
// internal/jsonscan, escapes written here) against encoding/json without HTML
// escaping, for every byte value and for random texts mixing plain runs,
// escapes, multi-byte and invalid UTF-8; and the characters it charges to the
// budget are those of its output.
func TestStrMatchesEncodingJSON(t *testing.T) {
	check := func(s string) {
		t.Helper()
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		const budget = 1 << 30
		e := jsonWriter{left: budget}
		e.str(s)
		if !bytes.Equal(e.buf, want) {
			t.Fatalf("%q:\n got %s\nwant %s", s, e.buf, want)
		}
		if used := budget - e.left; used != utf8.RuneCount(want) {
			t.Fatalf("%q: charged %d characters for %d", s, used, utf8.RuneCount(want))
		}
	}
	for c := 0; c < 256; c++ {
		for _, pre := range []string{"", "x", strings.Repeat("y", 40)} {
			check(pre + string([]byte{byte(c)}) + "z")
			check(pre + string([]byte{byte(c)}))
		}
	}
	pieces := []string{"a", `"`, `\`, "\n", "\t", "\b", "\f", "\r", "\x01", "\x1f", "\x7f", "é", "😀",
		"\u2028", "\u2029", "\u2027", "\xff", "\xe2\x80", "\xed\xa0\x80", "<&>", strings.Repeat("b", 17),
		strings.Repeat("c", 33)}
	r := rand.New(rand.NewSource(9))
	for k := 0; k < 20000; k++ {
		var sb strings.Builder
		for n := r.Intn(12); n > 0; n-- {
			sb.WriteString(pieces[r.Intn(len(pieces))])
		}
		check(sb.String())
	}
}

// TestKnownKeysMatchIterating: maps encoded through a key cache (keycache.go:
// their entries read by lookups once a map with the same keys was seen) give
// the text a writer without it gives, byte for byte, whatever the budget, and
// encoding/json's text when nothing is cut; the same for noUsageKeys. The maps
// share lengths and keys in every way a lookup could be fooled by.
func TestKnownKeysMatchIterating(t *testing.T) {
	keys := []string{"question", "answer", "a", "b", `quo"te`, "é", "\u2028", "model", "usage", "", "context", strings.Repeat("k", 70)}
	vals := []any{"v", `s"x`, 1, 2.5, nil, true, []any{"x"}, map[string]any{"question": "nested", "b": 1}, strings.Repeat("z", 300),
		strings.Repeat("y", 200) + "\n" + strings.Repeat("é", 20), "line\nbreak", "\u2028"}
	cl := &Client{}
	r := rand.New(rand.NewSource(3))
	var cache keyCache
	var hints [3]keyHint
	for k := 0; k < 4000; k++ {
		m := map[string]any{}
		for n := 1 + r.Intn(4); len(m) < n; {
			if r.Intn(8) == 0 && len(m) < 3 { // a few shapes come back often
				m[keys[len(m)]] = vals[r.Intn(len(vals))]
				continue
			}
			m[keys[r.Intn(len(keys))]] = vals[r.Intn(len(vals))]
		}
		budget := 1 << 20
		if r.Intn(3) == 0 {
			budget = r.Intn(60) - 1 // -1: a cap of 0 characters
		}
		plain := jsonWriter{left: budget + 1}
		plain.smallStringMap(m, 0)
		cached := jsonWriter{left: budget + 1, keys: &cache, hint: &hints[r.Intn(len(hints))]}
		if len(m) != 1 || !cached.hintedEntry(m) { // as textMap does
			cached.smallStringMap(m, 0)
		}
		if !bytes.Equal(cached.buf, plain.buf) || cached.noUsageKeys != plain.noUsageKeys || cached.left != plain.left {
			t.Fatalf("%#v budget %d:\ncached %s (%v, left %d)\n plain %s (%v, left %d)", m, budget,
				cached.buf, cached.noUsageKeys, cached.left, plain.buf, plain.noUsageKeys, plain.left)
		}
		// textMap (textOne for one string entry) as a client encodes an input
		cl.maxText = budget
		if got := cl.textMap(m, &hints[r.Intn(len(hints))], nil); got.text != string(plain.buf) || got.noUsageKeys != plain.noUsageKeys {
			t.Fatalf("%#v budget %d:\ntextMap %s (%v)\n  plain %s (%v)", m, budget, got.text, got.noUsageKeys, plain.buf, plain.noUsageKeys)
		} else {
			got.release(nil)
		}
		if budget == 1<<20 {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(m); err != nil {
				t.Fatal(err)
			}
			if got := string(cached.buf) + "\n"; got != want.String() {
				t.Fatalf("%#v:\n got %s\nwant %s", m, got, want.String())
			}
		}
	}
	// one string entry at every budget around its length (textOne's bound)
	var hint keyHint
	for _, v := range []string{"v", `s"x`, "line\nbreak", strings.Repeat("z", 300), strings.Repeat("y", 130) + "\u2028"} {
		for _, k := range []string{"question", `quo"te`, "é"} {
			m := map[string]any{k: v}
			whole, _ := json.Marshal(m)
			for budget := 0; budget <= len(whole)+8; budget++ {
				plain := jsonWriter{left: budget + 1}
				plain.smallStringMap(m, 0)
				cl.maxText = budget
				for pass := 0; pass < 2; pass++ { // the second with the hint set
					if got := cl.textMap(m, &hint, nil); got.text != string(plain.buf) {
						t.Fatalf("%q budget %d pass %d:\ntextMap %s\n  plain %s", m, budget, pass, got.text, plain.buf)
					}
				}
			}
		}
	}
	hits := 0
	for i := range cache.slots {
		if cache.slots[i].Load() != nil {
			hits++
		}
	}
	if hits == 0 {
		t.Fatal("the cache never stored a key set: the test compared nothing")
	}
}

// TestKnownCleanStringsMatchScanning: a string a node found clean (cleanSet)
// is copied without a scan when a later text holds that very string; the text
// is the same as a writer without the memo writes, at every budget, and only
// that string (same data and length) is taken as known.
func TestKnownCleanStringsMatchScanning(t *testing.T) {
	clean := strings.Repeat("q", 300)
	dirty := strings.Repeat("d", 200) + `"` + strings.Repeat("d", 100)
	uni := strings.Repeat("é", 150)
	copyOf := string([]byte(clean)) // the same text at another address: scanned
	var parent node
	first := jsonWriter{left: 1 << 20}
	first.smallStringMap(map[string]any{"a": clean, "b": dirty, "c": uni, "d": clean[:200]}, 0)
	parent.inClean = first.seen
	if !parent.inClean.has(clean) || parent.inClean.has(dirty) || parent.inClean.has(uni) || parent.inClean.has(copyOf) {
		t.Fatalf("seen: %q", parent.inClean)
	}
	var kid node
	kid.outClean = cleanSet{strings.Repeat("o", 500)}
	parent.kidOut.Store(&kid)
	values := []map[string]any{
		{"question": clean}, {"x": copyOf, "y": clean}, {"q": clean[:250]}, {"q": clean[1:]},
		{"a": dirty, "b": clean}, {"o": kid.outClean[0]}, {"n": map[string]any{"deep": clean}},
	}
	for _, m := range values {
		for _, budget := range []int{1 << 20, 0, 1, 5, 12, 150, 299, 300, 301, 302, 303, 320} {
			plain := jsonWriter{left: budget + 1}
			plain.smallStringMap(m, 0)
			memo := jsonWriter{left: budget + 1, known: &parent}
			memo.smallStringMap(m, 0)
			if !bytes.Equal(memo.buf, plain.buf) || memo.left != plain.left {
				t.Fatalf("%v budget %d:\n memo %s (left %d)\nplain %s (left %d)", m, budget, memo.buf, memo.left, plain.buf, plain.left)
			}
			if budget == 1<<20 && memo.seen != plain.seen {
				t.Fatalf("%v: seen %q, want %q", m, memo.seen, plain.seen)
			}
		}
	}
	if !parent.cleanKnown(clean) || !parent.cleanKnown(kid.outClean[0]) || parent.cleanKnown(copyOf) ||
		!parent.cleanKnown(clean[:200]) || parent.cleanKnown(clean[:250]) || (*node)(nil).cleanKnown(clean) {
		t.Fatal("cleanKnown")
	}
}

// TestNestedLongTextsAsEncodingJSON: the inputs and outputs of nested calls and
// spans that pass the same long strings on (the case the clean memo serves)
// reach the collector as encoding/json writes them.
func TestNestedLongTextsAsEncodingJSON(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt, func(c *Config) { c.TracingEnabled = Bool(true) })
	q := strings.Repeat("why ", 100)
	a := strings.Repeat("because ", 50) + `"quoted"` + strings.Repeat(" so", 60)
	plainOut := map[string]any{"answer": strings.Repeat("b", 400), "note": a}
	lm := cl.Wrap("inner", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		_, span := StartSpan(ctx, KindLM, "lm", in)
		span.End(SpanResult{Output: plainOut, Model: "m"})
		return plainOut, nil
	}))
	top := cl.Wrap("top", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		out, err := lm.Process(ctx, in)
		if err != nil {
			return nil, err
		}
		return map[string]any{"final": out["answer"], "q": in["question"]}, nil
	}))
	in := map[string]any{"question": q}
	for i := 0; i < 3; i++ {
		if _, err := top.Process(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, cl)
	enc := func(v any) string {
		var b bytes.Buffer
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(false)
		if err := e.Encode(v); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSuffix(b.String(), "\n")
	}
	evs := capt.events(t)
	if len(evs) != 3 {
		t.Fatalf("%d events", len(evs))
	}
	wantOut := enc(map[string]any{"final": plainOut["answer"], "q": q})
	for _, ev := range evs {
		if got := str(path(ev, "ai_data", "input")); got != enc(in) {
			t.Errorf("input %q", got)
		}
		if got := str(path(ev, "ai_data", "output")); got != wantOut {
			t.Errorf("output %q, want %q", got, wantOut)
		}
	}
	spans := capt.spans(t)
	if len(spans) != 9 {
		t.Fatalf("%d spans", len(spans))
	}
	for _, s := range spans {
		in, out := spanText(s, "input"), spanText(s, "output")
		switch str(s["name"]) {
		case "inner", "lm":
			if in != enc(map[string]any{"question": q}) || out != enc(plainOut) {
				t.Errorf("%s: %q -> %q", s["name"], in, out)
			}
		}
	}
}

// spanText is a span's input or output text: a module span's entity
// attribute, an LM span's prompt or response.
func spanText(s map[string]any, which string) string {
	if v := attr(s, "traceloop.entity."+which); v != "" {
		return v
	}
	if which == "input" {
		return attr(s, "ai.prompt")
	}
	return attr(s, "ai.response.text")
}

// TestLentBuffersKeepEveryText: text buffers lent down the tree of calls
// (node.idle) while goroutines run nested calls and spans under one call at
// once: every input and output reaches the collector intact.
func TestLentBuffersKeepEveryText(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt, func(c *Config) { c.TracingEnabled = Bool(true) })
	text := func(tag string, i int) string { return strings.Repeat(tag+strconv.Itoa(i)+" ", 40) }
	inner := cl.Wrap("inner", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		i := in["i"].(int)
		_, span := StartSpan(ctx, KindLM, "lm"+strconv.Itoa(i), map[string]any{"prompt": text("p", i)})
		span.End(SpanResult{Output: map[string]any{"completion": text("c", i)}})
		return map[string]any{"answer": text("a", i)}, nil
	}))
	const n = 16
	outer := cl.Wrap("outer", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, _ = inner.Process(ctx, map[string]any{"i": i, "q": text("q", i)})
			}(i)
		}
		wg.Wait()
		return map[string]any{"done": text("d", 0)}, nil
	}))
	for k := 0; k < 3; k++ {
		if _, err := outer.Process(context.Background(), map[string]any{"question": text("top", k)}); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, cl)
	enc := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	checked := 0
	for _, s := range capt.spans(t) {
		name := str(s["name"])
		var i int
		switch {
		case strings.HasPrefix(name, "lm"):
			i, _ = strconv.Atoi(name[2:])
			if in, out := spanText(s, "input"), spanText(s, "output"); in != enc(map[string]any{"prompt": text("p", i)}) ||
				out != enc(map[string]any{"completion": text("c", i)}) {
				t.Errorf("%s: %q -> %q", name, in, out)
			}
			checked++
		case name == "inner":
			var m map[string]any
			if err := json.Unmarshal([]byte(spanText(s, "input")), &m); err != nil {
				t.Fatalf("inner input: %v", err)
			}
			i = int(m["i"].(float64))
			if in, out := spanText(s, "input"), spanText(s, "output"); in != enc(map[string]any{"i": i, "q": text("q", i)}) ||
				out != enc(map[string]any{"answer": text("a", i)}) {
				t.Errorf("inner %d: %q -> %q", i, in, out)
			}
			checked++
		}
	}
	if checked != 3*2*n {
		t.Errorf("checked %d spans, want %d", checked, 3*2*n)
	}
}
