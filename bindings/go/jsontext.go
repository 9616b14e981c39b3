//go:build cgo

package raindrop

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/raindrop-dspy/raindrop-dspy/bindings/go/internal/jsonscan"
)

// defaultMaxTextChars is the core's default text cap (max_text_field_chars).
const defaultMaxTextChars = 1_000_000

// pooledText is an input or output rendered for the core. When it was encoded
// here, buf is the pooled buffer that holds it: the text is valid until
// release, which comes right after the core has copied it.
type pooledText struct {
	text string
	buf  *[]byte
	// noUsageKeys: the value was a map whose keys were all seen, none of them
	// one usageFromOutputs reads (so it need not look them up).
	noUsageKeys bool
	// clean: long strings of the value found to need no escaping (cleanSet).
	clean cleanSet
}

// cleanSet holds up to two strings of at least cleanMin bytes that a writer
// found to need no escaping (printable ASCII without '"' or '\\'). A Go
// string's bytes never change, and the set keeps the string alive: a string
// with the same data pointer and length is the same text, so the writer of a
// nested call's inputs, a span's, or a call's outputs copies it without
// scanning it again (the same question and answer pass through every level).
type cleanSet [2]string

// cleanMin: below this, scanning a string costs about what the check does.
const cleanMin = 128

// textBufs recycles encoding buffers: a wrapped call encodes a few KB of
// inputs and outputs, and allocating them anew was a third of the Go binding's
// cost per call (allocation and the garbage collector's share of it).
var textBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledBuf keeps one huge input from pinning its buffer in the pool.
const maxPooledBuf = 64 << 10

// release gives the buffer back, once the core has copied the text: to the
// node to (its idle buffer, when it has none), else to textBufs.
func (t pooledText) release(to *node) {
	if t.buf == nil || cap(*t.buf) > maxPooledBuf {
		return
	}
	*t.buf = (*t.buf)[:0]
	if to != nil && to.idle.CompareAndSwap(nil, t.buf) {
		return
	}
	textBufs.Put(t.buf)
}

// takeBuf returns an empty text buffer: the idle one of n or of its parent
// (node.idle: buffers are lent down the tree of calls, so a nested call and
// its spans rarely need textBufs, whose Get and Put cost more), else one from
// textBufs.
func takeBuf(n *node) *[]byte {
	for i := 0; n != nil && i < 2; n, i = n.parent, i+1 {
		if n.idle.Load() != nil {
			if b := n.idle.Swap(nil); b != nil {
				return b
			}
		}
	}
	return textBufs.Get().(*[]byte)
}

// textJSON renders an input or output for the core: a string as is, anything
// else as JSON, both cut just past the client's text cap. nil (also a nil map,
// slice or pointer) is "" (absent), never "null".
func (c *Client) textJSON(v any, hint *keyHint, known *node) pooledText {
	switch x := v.(type) {
	case map[string]any:
		return c.textMap(x, hint, known)
	case string:
		return pooledText{text: capChars(x, c.maxText+1)}
	}
	if isNil(v) {
		return pooledText{}
	}
	buf := takeBuf(known)
	e := jsonWriter{buf: (*buf)[:0], keys: &c.keys, hint: hint, known: known}
	e.encode(v, c.maxText)
	*buf = e.buf
	return pooledText{text: unsafe.String(unsafe.SliceData(*buf), len(*buf)), buf: buf, noUsageKeys: e.noUsageKeys,
		clean: e.seen}
}

// textMap is textJSON for a map[string]any, a wrapped module's inputs and
// outputs. hint (may be nil) is the call site's (keyHint); known, the node
// whose clean strings it may repeat (jsonWriter.known) and whose idle buffer it
// may take (takeBuf).
func (c *Client) textMap(m map[string]any, hint *keyHint, known *node) pooledText {
	if m == nil {
		return pooledText{}
	}
	if len(m) == 1 && hint != nil {
		if t, ok := c.textOne(m, hint, known); ok {
			return t
		}
	}
	buf := takeBuf(known)
	e := jsonWriter{buf: (*buf)[:0], keys: &c.keys, hint: hint, known: known}
	if len(m) <= smallMap { // what encode would do, without its type switches
		e.left = c.maxText + 1
		if len(m) != 1 || !e.hintedEntry(m) {
			e.smallStringMap(m, 0)
		}
	} else {
		e.encode(m, c.maxText)
	}
	*buf = e.buf
	return pooledText{text: unsafe.String(unsafe.SliceData(*buf), len(*buf)), buf: buf, noUsageKeys: e.noUsageKeys,
		clean: e.seen}
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	if m, ok := v.(map[string]any); ok { // the usual inputs and outputs
		return m == nil
	}
	switch r := reflect.ValueOf(v); r.Kind() {
	case reflect.Map, reflect.Slice, reflect.Pointer, reflect.Interface:
		return r.IsNil()
	}
	return false
}

// boundedJSON renders v as JSON text for an event's input or output, writing
// at most a little more than maxChars characters: the core cuts the text to
// its cap anyway, so encoding past it would only cost time. The cost is bounded
// by the cap, not by the size of v (a 5 MiB string costs what the cap costs).
//
// The text is what encoding/json produces with SetEscapeHTML(false) (same
// escaping except that <, > and & stay as they are, same float format, sorted
// map keys, struct tags) up to where it is cut. Values encoding/json cannot
// encode (a channel, a func, NaN) are written as the JSON string of their %v,
// so recording never fails. Two exceptions keep the cost bounded: a map with
// more entries than the budget left is written in map order, and the output of
// a json.Marshaler is taken as it comes.
func boundedJSON(v any, maxChars int) string {
	if s, ok := v.(string); ok {
		return capChars(s, maxChars+1)
	}
	return string(appendBoundedJSON(nil, v, maxChars))
}

// appendBoundedJSON is boundedJSON appending to dst (a non-string v).
func appendBoundedJSON(dst []byte, v any, maxChars int) []byte {
	e := jsonWriter{buf: dst}
	e.encode(v, maxChars)
	return e.buf
}

// encode is appendBoundedJSON appending to e.buf.
func (e *jsonWriter) encode(v any, maxChars int) {
	e.left = maxChars + 1
	if m, ok := v.(map[string]any); ok && len(m) > smallMap {
		e.grow(min(sizeHint(m), maxChars)) // one allocation at most for the usual input
	}
	e.anyValue(v, 0)
}

// wholeJSON is boundedJSON without a cap: always valid JSON, for the span and
// call properties the core parses (it bounds them itself).
func wholeJSON(v any) string {
	return boundedJSON(v, math.MaxInt-1)
}

// sizeHint guesses the JSON size of a flat map of strings.
func sizeHint(m map[string]any) int {
	n := 2
	for k, v := range m {
		n += len(k) + 4
		if s, ok := v.(string); ok {
			n += len(s) + 2
		} else {
			n += 16
		}
	}
	return n
}

// capChars returns s cut to at most n characters.
func capChars(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// jsonWriter appends JSON to buf until left (characters) runs out.
type jsonWriter struct {
	buf  []byte
	left int
	// noUsageKeys: the top-level value was a small map[string]any none of
	// whose keys is a usage key (isUsageKey); set as its entries are gathered.
	noUsageKeys bool
	// keys: the client's key sets of small maps (nil: none, every map is
	// iterated); hint: the call site's, for the top-level map.
	keys *keyCache
	hint *keyHint
	// known: the node whose clean strings (node.cleanKnown) this text may
	// repeat (nil: none); seen: those found (or known) clean here, whole, for
	// the caller to pass on (cleanSet).
	known *node
	seen  cleanSet
	nseen int
}

// has reports whether s is one of c's strings (the same bytes: see cleanSet).
func (c *cleanSet) has(s string) bool {
	for _, k := range c {
		if len(k) == len(s) && unsafe.StringData(k) == unsafe.StringData(s) {
			return true
		}
	}
	return false
}

// noteClean records s, a whole string of at least cleanMin bytes that needs
// no escaping, in e.seen (the first two).
func (e *jsonWriter) noteClean(s string) {
	if e.nseen < len(e.seen) {
		e.seen[e.nseen] = s
		e.nseen++
	}
}

func (e *jsonWriter) grow(n int) {
	e.buf = slices.Grow(e.buf, n)
}

// maxDepth stops self-referencing values that write nothing per level.
const maxDepth = 1000

func (e *jsonWriter) full() bool { return e.left <= 0 }

// raw appends ASCII text.
func (e *jsonWriter) raw(s string) {
	e.buf = append(e.buf, s...)
	e.left -= len(s)
}

func (e *jsonWriter) rawBytes(b []byte) {
	e.buf = append(e.buf, b...)
	e.left -= utf8.RuneCount(b)
}

// str appends s as a JSON string, cut to the budget first, escaped as
// encoding/json escapes it without its HTML part: '"', '\\' and control
// characters, U+2028 and U+2029, and each byte of invalid UTF-8 as \ufffd.
// The runs between such bytes (all of a usual text) are found by
// jsonscan.Index (16 or 32 bytes per step on amd64) and copied whole.
//
// It reports whether s was copied whole as it is (nothing escaped nor cut).
func (e *jsonWriter) str(s string) bool {
	whole := len(s)
	s = capChars(s, e.left)
	return e.strAt(s, jsonscan.Index(s), whole)
}

// strAt is str once s is cut to the budget, its first i bytes known to need
// no escaping (i = jsonscan.Index(s)); whole is its length before the cut.
func (e *jsonWriter) strAt(s string, i, whole int) bool {
	e.grow(len(s) + 2)
	e.buf = append(e.buf, '"')
	e.buf = append(e.buf, s[:i]...)
	if i == len(s) { // the common case: copied as is
		e.buf = append(e.buf, '"')
		e.left -= len(s) + 2
		return len(s) == whole
	}
	chars := i + 2 // what left counts: the characters written (quotes included)
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			n0 := len(e.buf)
			e.buf = appendASCIIEscape(e.buf, c)
			chars += len(e.buf) - n0
			i++
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				e.buf = append(e.buf, `\ufffd`...)
				chars += len(`\ufffd`)
			case r == '\u2028' || r == '\u2029':
				e.buf = append(e.buf, `\u202`...)
				e.buf = append(e.buf, hexDigits[r&0xf])
				chars += len(`\u2028`)
			default:
				e.buf = append(e.buf, s[i:i+size]...)
				chars++
			}
			i += size
		}
		n := jsonscan.Index(s[i:])
		e.buf = append(e.buf, s[i:i+n]...)
		chars += n
		i += n
	}
	e.buf = append(e.buf, '"')
	e.left -= chars
	return false
}

// strValue is str for a string value: one of at least cleanMin bytes that the
// node e.known found clean is copied without a scan (printable ASCII: its
// characters are its bytes), and one found clean is noted (cleanSet).
//
// Called as `if len(s) < cleanMin { e.str(s) } else { e.strValue(s) }`: the
// short ones, most keys and values, go straight to str.
func (e *jsonWriter) strValue(s string) {
	if !e.known.cleanKnown(s) {
		if e.str(s) {
			e.noteClean(s)
		}
		return
	}
	whole := s
	if len(s) > e.left && e.left >= 0 { // as capChars cuts it
		s = s[:e.left]
	}
	e.grow(len(s) + 2)
	e.buf = append(e.buf, '"')
	e.buf = append(e.buf, s...)
	e.buf = append(e.buf, '"')
	e.left -= len(s) + 2
	if len(s) == len(whole) {
		e.noteClean(s)
	}
}

const hexDigits = "0123456789abcdef"

// appendASCIIEscape appends the JSON text of an ASCII byte jsonscan.Index
// stopped at: '"', '\\' or a control character (short forms where
// encoding/json writes them).
func appendASCIIEscape(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

var (
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// anyValue writes the common types of module inputs and outputs without
// reflection; the rest goes through value.
func (e *jsonWriter) anyValue(v any, depth int) {
	if e.full() {
		return
	}
	switch x := v.(type) {
	case nil:
		e.raw("null")
	case string:
		if len(x) < cleanMin {
			e.str(x)
		} else {
			e.strValue(x)
		}
	case bool:
		e.raw(strconv.FormatBool(x))
	case int:
		e.raw(strconv.Itoa(x))
	case int64:
		e.raw(strconv.FormatInt(x, 10))
	case float64:
		e.float(x, 64)
	case map[string]any:
		if x == nil {
			e.raw("null")
			return
		}
		e.stringMap(x, depth)
	case []any:
		if x == nil {
			e.raw("null")
			return
		}
		e.raw("[")
		for i, el := range x {
			if e.full() {
				break
			}
			if i > 0 {
				e.raw(",")
			}
			e.anyValue(el, depth+1)
		}
		e.raw("]")
	default:
		e.value(reflect.ValueOf(v), depth)
	}
}

// stringMap is mapValue for map[string]any, the usual inputs and outputs.
func (e *jsonWriter) stringMap(m map[string]any, depth int) {
	if depth > maxDepth {
		e.raw("null")
		return
	}
	if len(m) <= smallMap {
		e.smallStringMap(m, depth)
		return
	}
	e.raw("{")
	first := true
	if len(m) > e.left/4+1 { // more entries than can fit: map order (see mapValue)
		for k, v := range m {
			if e.full() {
				break
			}
			e.anyMember(&first, k, v, depth)
		}
		e.raw("}")
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if e.full() {
			break
		}
		e.anyMember(&first, k, m[k], depth)
	}
	e.raw("}")
}

// smallMap is the most entries smallStringMap handles (on the stack).
const smallMap = 8

// smallStringMap writes a map of at most smallMap entries (the usual module
// inputs and outputs) from one pass over it: entries and a size estimate
// gathered on the stack, sorted by key, no lookups. Sorted always: 8 entries
// write at least 32 characters, which the budget may lack, and sorting them
// costs less than a lookup does.
func (e *jsonWriter) smallStringMap(m map[string]any, depth int) {
	var hint *keyHint
	if depth == 0 {
		hint = e.hint
	}
	if e.keys != nil && len(m) > 0 {
		var vals [smallMap]any
		if ks := findKeys(e.keys, hint, m, &vals); ks != nil {
			e.knownStringMap(ks, &vals, depth)
			return
		}
	}
	type entry struct {
		key string
		val any
	}
	var small [smallMap]entry
	entries := small[:0]
	size := 2
	usageKeys := false
	for k, v := range m {
		entries = append(entries, entry{k, v})
		usageKeys = usageKeys || depth == 0 && isUsageKey(k)
		size += len(k) + 4
		if s, ok := v.(string); ok {
			size += len(s) + 2
		} else {
			size += 16
		}
	}
	if depth == 0 {
		e.noUsageKeys = !usageKeys
	}
	// insertion sort: a handful of entries
	for i := 1; i < len(entries); i++ {
		for j := i; j > 0 && entries[j].key < entries[j-1].key; j-- {
			entries[j], entries[j-1] = entries[j-1], entries[j]
		}
	}
	if e.keys != nil && len(entries) > 0 {
		var keys [smallMap]string
		for i, en := range entries {
			keys[i] = en.key
		}
		e.keys.remember(hint, keys[:len(entries)])
	}
	e.grow(min(size, e.left)) // one allocation at most for the usual input
	e.raw("{")
	for i, en := range entries { // as anyMember, a string value without anyValue's type switch
		if e.full() {
			break
		}
		if i > 0 {
			e.raw(",")
		}
		e.str(en.key)
		e.raw(":")
		e.memberValue(en.val, depth+1)
	}
	e.raw("}")
}

// memberValue writes the value of a map entry whose key was just written: a
// string without anyValue's type switch, nothing when the key took the rest of
// the budget.
func (e *jsonWriter) memberValue(v any, depth int) {
	switch s, ok := v.(string); {
	case !ok:
		e.anyValue(v, depth)
	case e.full():
	case len(s) < cleanMin:
		e.str(s)
	default:
		e.strValue(s)
	}
}

// textOne is textMap for the usual input or output: one entry whose key is
// the hint's, a string value, and a text the cap does not cut. It writes
// {"key":"value"} straight into the buffer, without a jsonWriter when the value
// needs no escaping; the same text as hintedEntry (nothing is cut: every
// character is at least a byte). It reports false, having taken nothing, for
// any other map.
func (c *Client) textOne(m map[string]any, hint *keyHint, known *node) (pooledText, bool) {
	ks := hint.Load()
	if ks == nil || ks.n != 1 {
		return pooledText{}, false
	}
	v, ok := m[ks.keys[0]]
	if !ok {
		return pooledText{}, false
	}
	s, ok := v.(string)
	key := ks.enc[0] // "key":
	if !ok || 1+len(key)+len(s)+3 > c.maxText+1 {
		return pooledText{}, false
	}
	i := len(s)
	if len(s) < cleanMin || !known.cleanKnown(s) {
		i = jsonscan.Index(s)
	}
	buf := takeBuf(known)
	b := slices.Grow((*buf)[:0], 1+len(key)+len(s)+3)
	b = append(b, '{')
	b = append(b, key...)
	t := pooledText{buf: buf, noUsageKeys: !ks.usage}
	if i == len(s) {
		b = append(b, '"')
		b = append(b, s...)
		b = append(b, '"', '}')
		if len(s) >= cleanMin {
			t.clean[0] = s
		}
	} else { // escapes: str's loop, from the first byte to escape
		e := jsonWriter{buf: b, left: 1 << 30}
		e.strAt(s, i, len(s))
		b = append(e.buf, '}')
	}
	*buf = b
	t.text = unsafe.String(unsafe.SliceData(b), len(b))
	return t, true
}

// hintedEntry is knownStringMap for the usual inputs and outputs, a map of one
// entry whose key is that of the call site's hint: one lookup, none of
// findKeys' generality. It reports false, having written nothing, when the
// hint does not fit m.
func (e *jsonWriter) hintedEntry(m map[string]any) bool {
	ks := e.hint.Load()
	if ks == nil || ks.n != 1 {
		return false
	}
	v, ok := m[ks.keys[0]]
	if !ok {
		return false
	}
	e.noUsageKeys = !ks.usage
	s, isStr := v.(string)
	size := 2 + len(ks.keys[0]) + 4 + 16
	if isStr {
		size += len(s) + 2 - 16
	}
	e.grow(min(size, e.left))
	e.raw("{")
	if !e.full() {
		e.key(ks, 0)
		e.memberValue(v, 1)
	}
	e.raw("}")
	return true
}

// knownStringMap is smallStringMap for a map whose keys are those of ks, its
// values in vals (findKeys): the same text, without iterating, sorting or
// escaping the keys.
func (e *jsonWriter) knownStringMap(ks *keySet, vals *[smallMap]any, depth int) {
	if depth == 0 {
		e.noUsageKeys = !ks.usage
	}
	n := ks.n
	size := 2
	for i := 0; i < n; i++ {
		size += len(ks.keys[i]) + 4
		if s, ok := vals[i].(string); ok {
			size += len(s) + 2
		} else {
			size += 16
		}
	}
	e.grow(min(size, e.left)) // one allocation at most for the usual input
	e.raw("{")
	for i := 0; i < n; i++ {
		if e.full() {
			break
		}
		if i > 0 {
			e.raw(",")
		}
		e.key(ks, i)
		e.memberValue(vals[i], depth+1)
	}
	e.raw("}")
}

func (e *jsonWriter) anyMember(first *bool, key string, val any, depth int) {
	if !*first {
		e.raw(",")
	}
	*first = false
	e.str(key)
	e.raw(":")
	e.anyValue(val, depth+1)
}

func (e *jsonWriter) value(v reflect.Value, depth int) {
	if e.full() {
		return
	}
	if !v.IsValid() {
		e.raw("null")
		return
	}
	if depth > maxDepth {
		e.raw("null")
		return
	}
	t := v.Type()
	if v.Kind() == reflect.Interface {
		if v.IsNil() {
			e.raw("null")
			return
		}
		e.value(v.Elem(), depth+1)
		return
	}
	if t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType) {
		if v.Kind() == reflect.Pointer && v.IsNil() {
			e.raw("null")
			return
		}
		e.marshaler(v)
		return
	}
	switch v.Kind() {
	case reflect.String:
		if t == reflect.TypeFor[json.Number]() && v.String() != "" {
			e.raw(v.String())
			return
		}
		e.str(v.String())
	case reflect.Bool:
		e.raw(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.raw(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.raw(strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		e.float(v.Float(), t.Bits())
	case reflect.Pointer:
		if v.IsNil() {
			e.raw("null")
			return
		}
		e.value(v.Elem(), depth+1)
	case reflect.Map:
		e.mapValue(v, depth)
	case reflect.Slice:
		if v.IsNil() {
			e.raw("null")
			return
		}
		if t.Elem().Kind() == reflect.Uint8 && !t.Elem().Implements(jsonMarshalerType) {
			e.bytesValue(v)
			return
		}
		e.list(v, depth)
	case reflect.Array:
		e.list(v, depth)
	case reflect.Struct:
		e.structValue(v, depth)
	default: // chan, func, complex, unsafe pointer: encoding/json cannot encode them
		e.str(fmt.Sprintf("%v", v.Interface()))
	}
}

// float writes f the way encoding/json does; NaN and infinities (which it
// refuses) become strings.
func (e *jsonWriter) float(f float64, bits int) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		e.str(strconv.FormatFloat(f, 'g', -1, bits))
		return
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b := strconv.AppendFloat(nil, f, format, -1, bits)
	if format == 'e' { // clean up e-09 to e-9, as encoding/json does
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	e.rawBytes(b)
}

func (e *jsonWriter) marshaler(v reflect.Value) {
	if m, ok := v.Interface().(json.Marshaler); ok {
		b, err := m.MarshalJSON()
		var out bytes.Buffer
		if err == nil && json.Compact(&out, b) == nil {
			e.rawBytes(out.Bytes())
			return
		}
		e.str(fmt.Sprintf("%v", v.Interface()))
		return
	}
	b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
	if err != nil {
		e.str(fmt.Sprintf("%v", v.Interface()))
		return
	}
	e.str(string(b))
}

// bytesValue writes a []byte as base64, like encoding/json, from a prefix
// that fits the budget.
func (e *jsonWriter) bytesValue(v reflect.Value) {
	b := v.Bytes()
	if max := (e.left/4 + 1) * 3; len(b) > max {
		b = b[:max]
	}
	s, _ := json.Marshal(b)
	e.rawBytes(s)
}

func (e *jsonWriter) list(v reflect.Value, depth int) {
	e.raw("[")
	for i := 0; i < v.Len() && !e.full(); i++ {
		if i > 0 {
			e.raw(",")
		}
		e.value(v.Index(i), depth+1)
	}
	e.raw("]")
}

func (e *jsonWriter) mapValue(v reflect.Value, depth int) {
	if v.IsNil() {
		e.raw("null")
		return
	}
	kt := v.Type().Key()
	if kt.Kind() != reflect.String && !kt.Implements(textMarshalerType) && !isIntKind(kt.Kind()) {
		e.str(fmt.Sprintf("%v", v.Interface())) // encoding/json refuses such keys
		return
	}
	type entry struct {
		key string
		val reflect.Value
	}
	// Each entry writes at least 4 characters ("":x): with more entries than
	// the budget can hold, sorting them all would cost more than the cap, so
	// they go in map order.
	sorted := v.Len() <= e.left/4+1
	var entries []entry
	if sorted {
		entries = make([]entry, 0, v.Len())
	}
	e.raw("{")
	first := true
	for it := v.MapRange(); it.Next(); {
		en := entry{mapKey(it.Key()), it.Value()}
		if sorted {
			entries = append(entries, en)
			continue
		}
		if e.full() {
			break
		}
		e.member(&first, en.key, en.val, depth)
	}
	if sorted {
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
		for _, en := range entries {
			if e.full() {
				break
			}
			e.member(&first, en.key, en.val, depth)
		}
	}
	e.raw("}")
}

func (e *jsonWriter) member(first *bool, key string, val reflect.Value, depth int) {
	if !*first {
		e.raw(",")
	}
	*first = false
	e.str(key)
	e.raw(":")
	e.value(val, depth+1)
}

func isIntKind(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Uintptr
}

func mapKey(k reflect.Value) string {
	if k.Kind() == reflect.String {
		return k.String()
	}
	if tm, ok := k.Interface().(encoding.TextMarshaler); ok {
		b, _ := tm.MarshalText()
		return string(b)
	}
	if k.Kind() >= reflect.Uint && k.Kind() <= reflect.Uintptr {
		return strconv.FormatUint(k.Uint(), 10)
	}
	return strconv.FormatInt(k.Int(), 10)
}

func (e *jsonWriter) structValue(v reflect.Value, depth int) {
	e.raw("{")
	first := true
	for _, f := range structFields(v.Type()) {
		if e.full() {
			break
		}
		fv, ok := fieldByIndex(v, f.index)
		if !ok || f.omitEmpty && isEmptyValue(fv) {
			continue
		}
		if !first {
			e.raw(",")
		}
		first = false
		e.str(f.name)
		e.raw(":")
		if f.quoted && isScalar(fv.Kind()) {
			inner := jsonWriter{left: e.left}
			inner.value(fv, depth+1)
			e.str(string(inner.buf))
			continue
		}
		e.value(fv, depth+1)
	}
	e.raw("}")
}

func isScalar(k reflect.Kind) bool {
	return k == reflect.Bool || k == reflect.String || isIntKind(k) || k == reflect.Float32 || k == reflect.Float64
}

// fieldByIndex follows an embedded-field path; a nil embedded pointer hides
// its fields, as in encoding/json.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

type jsonField struct {
	name       string
	index      []int
	omitEmpty  bool
	quoted     bool
	tagged     bool
	depthLevel int
}

var fieldCache sync.Map // reflect.Type -> []jsonField

// structFields lists the fields encoding/json would write for t, in its
// order, with its rules for tags and embedded structs.
func structFields(t reflect.Type) []jsonField {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]jsonField)
	}
	var all []jsonField
	var walk func(t reflect.Type, index []int, level int, seen map[reflect.Type]bool)
	walk = func(t reflect.Type, index []int, level int, seen map[reflect.Type]bool) {
		if seen[t] {
			return
		}
		seen[t] = true
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := sf.Type
			if sf.Anonymous {
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if !sf.IsExported() && ft.Kind() != reflect.Struct {
					continue
				}
				if name == "" && ft.Kind() == reflect.Struct {
					walk(ft, append(slices.Clone(index), i), level+1, seen)
					continue
				}
			} else if !sf.IsExported() {
				continue
			}
			f := jsonField{name: name, index: append(slices.Clone(index), i), tagged: name != "", depthLevel: level}
			if f.name == "" {
				f.name = sf.Name
			}
			for _, o := range strings.Split(opts, ",") {
				f.omitEmpty = f.omitEmpty || o == "omitempty"
				f.quoted = f.quoted || o == "string"
			}
			all = append(all, f)
		}
	}
	walk(t, nil, 0, map[reflect.Type]bool{})
	// A name defined at several depths: the shallowest wins, a tie between
	// tagged and untagged goes to the tagged one, any other tie hides the name.
	byName := map[string][]jsonField{}
	for _, f := range all {
		byName[f.name] = append(byName[f.name], f)
	}
	var out []jsonField
	for _, f := range all {
		if dominant(byName[f.name]) == f.depthLevel && winner(byName[f.name], f) {
			out = append(out, f)
		}
	}
	slices.SortStableFunc(out, func(a, b jsonField) int { return slices.Compare(a.index, b.index) })
	fieldCache.Store(t, out)
	return out
}

func dominant(fs []jsonField) int {
	d := fs[0].depthLevel
	for _, f := range fs {
		d = min(d, f.depthLevel)
	}
	return d
}

// winner reports whether f is the one field written for its name.
func winner(fs []jsonField, f jsonField) bool {
	var top []jsonField
	for _, g := range fs {
		if g.depthLevel == f.depthLevel {
			top = append(top, g)
		}
	}
	if len(top) == 1 {
		return true
	}
	var tagged []jsonField
	for _, g := range top {
		if g.tagged {
			tagged = append(tagged, g)
		}
	}
	return len(tagged) == 1 && slices.Equal(tagged[0].index, f.index)
}
