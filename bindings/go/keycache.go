//go:build cgo

package raindrop

import "sync/atomic"

// keySet is the sorted keys of a small map encoded before, with each key's
// JSON text (`"key":`) written once. It is published whole and never changed
// afterwards, so goroutines read it without a lock.
//
// A later map of the same length that holds every one of these keys has
// exactly these keys: its entries are then read by lookups, in order, without
// iterating the map (the runtime's iterator, with its random start, costs
// several lookups of a small map), sorting the entries or escaping the keys.
// Only len and lookups are used: the output is the same as from iterating.
type keySet struct {
	n     int
	usage bool // one of the keys is a usage key (isUsageKey)
	keys  [smallMap]string
	// enc[i] is keys[i] as a JSON string followed by ':', as str and raw write
	// it with a budget large enough; chars[i] is what str charges for it.
	enc   [smallMap]string
	chars [smallMap]int
}

// keyCacheSlots is how many key sets a client remembers: the inputs and
// outputs of its usual modules and spans.
const keyCacheSlots = 8

// keyCache holds the key sets of the small maps a client encoded recently. A
// hit only reads it; a miss stores its map's key set now and then (the first
// miss, then every keyCacheEvery-th), in the slots in turn, so maps whose keys
// vary all the time cost an allocation only every few calls.
type keyCache struct {
	slots  [keyCacheSlots]atomic.Pointer[keySet]
	misses atomic.Uint32
}

const keyCacheEvery = 4

// keyHint is the key set a call site encoded last (a wrapped module's inputs,
// its outputs, a span's input, its output): tried before the cache's slots, so
// the usual map costs one lookup per key. Written only when it changes.
type keyHint = atomic.Pointer[keySet]

// findKeys returns the key set of m (1 to smallMap entries) when hint or a
// slot holds it, with m's values in vals, in the order of its keys.
func findKeys[V any](c *keyCache, hint *keyHint, m map[string]V, vals *[smallMap]V) *keySet {
	var tried *keySet
	if hint != nil {
		if tried = hint.Load(); tried != nil && hasKeys(tried, m, vals) {
			return tried
		}
	}
	for i := range c.slots {
		if ks := c.slots[i].Load(); ks != nil && ks != tried && hasKeys(ks, m, vals) {
			if hint != nil {
				hint.Store(ks)
			}
			return ks
		}
	}
	return nil
}

// hasKeys reports whether m has exactly the keys of ks, its values then in vals.
func hasKeys[V any](ks *keySet, m map[string]V, vals *[smallMap]V) bool {
	if ks.n != len(m) {
		return false
	}
	for j := 0; j < ks.n; j++ {
		v, ok := m[ks.keys[j]]
		if !ok {
			return false
		}
		vals[j] = v
	}
	return true
}

// remember stores the sorted keys of a map that missed (see keyCache), and
// makes them hint's.
func (c *keyCache) remember(hint *keyHint, keys []string) {
	k := c.misses.Add(1) - 1
	if k%keyCacheEvery != 0 {
		return
	}
	ks := &keySet{n: len(keys)}
	for i, key := range keys {
		ks.keys[i] = key
		ks.usage = ks.usage || isUsageKey(key)
		e := jsonWriter{left: 1 << 30}
		e.str(key)
		ks.chars[i] = 1<<30 - e.left
		e.buf = append(e.buf, ':')
		ks.enc[i] = string(e.buf)
	}
	c.slots[(k/keyCacheEvery)%keyCacheSlots].Store(ks)
	if hint != nil {
		hint.Store(ks)
	}
}

// key writes the i-th key of ks and its ':' as str and raw would.
func (e *jsonWriter) key(ks *keySet, i int) {
	if e.left >= ks.chars[i] {
		e.buf = append(e.buf, ks.enc[i]...)
		e.left -= ks.chars[i] + 1
		return
	}
	e.str(ks.keys[i]) // cut by the budget
	e.raw(":")
}
