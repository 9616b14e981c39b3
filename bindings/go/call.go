package raindrop

/*
#include <stdlib.h>
#include <string.h>
#include "raindrop_dspy.h"

// The helpers below take every string as an argument and hand everything back
// in their result, by value: Go passes them no pointer to its own memory. (A
// Go variable whose address goes to C is moved to the heap: the call handle,
// the rd_error and the event id buffer were one allocation each per call; a Go
// struct holding Go pointers would need each one pinned, which costs more
// than the rest of the call.)

// rd_go_ret: a result code, and on failure the error message, malloc'd (the
// Go side frees it); NULL when the core gave none.
typedef struct {
	rd_result rc;
	char *err;
} rd_go_ret;

// rd_go_begun: rd_go_ret and the handle of the call or span begun.
typedef struct {
	rd_result rc;
	char *err;
	rd_call h;
} rd_go_begun;

// rd_go_begun_top: rd_go_begun and the top-level call's event id, NUL-terminated.
typedef struct {
	rd_result rc;
	char *err;
	rd_call h;
	char id[RD_EVENT_ID_BUF_LEN];
} rd_go_begun_top;

static char *rd_go_err_message(rd_result rc, const rd_error *e) {
	return rc != RD_OK && e->code != RD_OK ? strdup(e->message) : NULL;
}

// rd_go_begin_top begins a top-level wrapped call with its options (every
// string optional); the core writes the call's event id when want_id is set.
static rd_go_begun_top rd_go_begin_top(rd_client c, const char *name, size_t name_len,
		const char *input, size_t input_len, const char *event_id, size_t event_id_len,
		const char *user_id, size_t user_id_len, const char *convo_id, size_t convo_id_len,
		const char *event_name, size_t event_name_len, int want_id) {
	rd_go_begun_top r;
	rd_call_options o;
	rd_call none;
	rd_error e;
	memset(&o, 0, sizeof o);
	none.id = 0;
	e.code = RD_OK;
	r.h.id = 0;
	r.id[0] = 0;
	o.event_id = event_id; o.event_id_len = event_id_len;
	o.user_id = user_id; o.user_id_len = user_id_len;
	o.convo_id = convo_id; o.convo_id_len = convo_id_len;
	o.event_name = event_name; o.event_name_len = event_name_len;
	r.rc = rd_wrap_begin(c, none, name, name_len, input, input_len, &o, &r.h,
		want_id ? r.id : NULL, want_id ? sizeof r.id : 0, &e);
	r.err = rd_go_err_message(r.rc, &e);
	return r;
}

// rd_go_begin_nested begins a wrapped call nested under parent (it has its
// top-level call's event id and options).
static rd_go_begun rd_go_begin_nested(rd_client c, rd_call parent, const char *name, size_t name_len,
		const char *input, size_t input_len) {
	rd_go_begun r;
	rd_error e;
	e.code = RD_OK;
	r.h.id = 0;
	r.rc = rd_wrap_begin(c, parent, name, name_len, input, input_len, NULL, &r.h, NULL, 0, &e);
	r.err = rd_go_err_message(r.rc, &e);
	return r;
}

// rd_go_span_begin is rd_span_begin.
static rd_go_begun rd_go_span_begin(rd_client c, rd_call parent, int32_t kind, const char *name, size_t name_len,
		const char *input, size_t input_len) {
	rd_go_begun r;
	rd_error e;
	e.code = RD_OK;
	r.h.id = 0;
	r.rc = rd_span_begin(c, parent, kind, name, name_len, input, input_len, &r.h, &e);
	r.err = rd_go_err_message(r.rc, &e);
	return r;
}

// rd_go_usual_result fills r with the usual result: an output, a model, token
// counts and a finish reason, every other field NULL. The pointers are the
// caller's and only borrowed until the call that takes r returns.
static void rd_go_usual_result(rd_call_result *r,
		const char *output, size_t output_len, const char *model, size_t model_len,
		int64_t prompt_tokens, int64_t completion_tokens,
		const char *finish_reason, size_t finish_reason_len) {
	memset(r, 0, sizeof *r);
	r->output = output; r->output_len = output_len;
	r->model = model; r->model_len = model_len;
	r->prompt_tokens = prompt_tokens; r->completion_tokens = completion_tokens;
	r->finish_reason = finish_reason; r->finish_reason_len = finish_reason_len;
}

// rd_go_record_lm records an LM span that begins and ends at t, with its usage
// (what Report gives).
static rd_go_ret rd_go_record_lm(rd_client c, rd_call parent, const char *name, size_t name_len, uint64_t t,
		const char *model, size_t model_len, int64_t prompt_tokens, int64_t completion_tokens,
		const char *finish_reason, size_t finish_reason_len) {
	rd_call_result r;
	rd_error e;
	rd_go_ret ret;
	rd_go_usual_result(&r, NULL, 0, model, model_len, prompt_tokens, completion_tokens,
		finish_reason, finish_reason_len);
	e.code = RD_OK;
	ret.rc = rd_span_record(c, parent, RD_SPAN_LM, name, name_len, NULL, 0, t, t, &r, &e);
	ret.err = rd_go_err_message(ret.rc, &e);
	return ret;
}

// rd_go_end_result ends the call or span h with r (borrowed).
static rd_go_ret rd_go_end_result(rd_client c, rd_call h, int span, const rd_call_result *r) {
	rd_error e;
	rd_go_ret ret;
	e.code = RD_OK;
	ret.rc = span ? rd_span_end(c, h, r, &e) : rd_wrap_end(c, h, r, &e);
	ret.err = rd_go_err_message(ret.rc, &e);
	return ret;
}

// rd_go_end_usual is rd_go_end for the usual result (fewer arguments to pass).
static rd_go_ret rd_go_end_usual(rd_client c, rd_call h, int span,
		const char *output, size_t output_len, const char *model, size_t model_len,
		int64_t prompt_tokens, int64_t completion_tokens,
		const char *finish_reason, size_t finish_reason_len) {
	rd_call_result r;
	rd_go_usual_result(&r, output, output_len, model, model_len, prompt_tokens, completion_tokens,
		finish_reason, finish_reason_len);
	return rd_go_end_result(c, h, span, &r);
}

// rd_go_end fills an rd_call_result on the C stack and ends the call or span.
static rd_go_ret rd_go_end(rd_client c, rd_call h, int span,
		const char *output, size_t output_len, const char *model, size_t model_len,
		int64_t prompt_tokens, int64_t completion_tokens,
		const char *finish_reason, size_t finish_reason_len,
		const char *error_type, size_t error_type_len,
		const char *error_message, size_t error_message_len,
		const char *properties_json, size_t properties_json_len,
		const char *user_id, size_t user_id_len, const char *convo_id, size_t convo_id_len,
		const char *event_name, size_t event_name_len,
		const char *attachments_json, size_t attachments_json_len) {
	rd_call_result r;
	rd_go_usual_result(&r, output, output_len, model, model_len, prompt_tokens, completion_tokens,
		finish_reason, finish_reason_len);
	r.error_type = error_type; r.error_type_len = error_type_len;
	r.error_message = error_message; r.error_message_len = error_message_len;
	r.properties_json = properties_json; r.properties_json_len = properties_json_len;
	r.user_id = user_id; r.user_id_len = user_id_len;
	r.convo_id = convo_id; r.convo_id_len = convo_id_len;
	r.event_name = event_name; r.event_name_len = event_name_len;
	r.attachments_json = attachments_json; r.attachments_json_len = attachments_json_len;
	return rd_go_end_result(c, h, span, &r);
}
*/
import "C"

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Usage is what a language-model call consumed. A token count of
// TokensUnknown (any negative count) means unknown; 0 is zero tokens.
type Usage struct {
	Model            string
	PromptTokens     int64
	CompletionTokens int64
	FinishReason     string
}

// TokensUnknown is the token count that means "unknown": the header's
// RD_TOKENS_UNKNOWN, the same value in every binding.
const TokensUnknown int64 = C.RD_TOKENS_UNKNOWN

// noUsage is a Usage that says nothing.
var noUsage = Usage{PromptTokens: TokensUnknown, CompletionTokens: TokensUnknown}

// known reports whether u says anything.
func (u Usage) known() bool {
	return u.Model != "" || u.FinishReason != "" || u.PromptTokens >= 0 || u.CompletionTokens >= 0
}

// cTokens converts a token count for rd_call_result (negative: unknown).
func cTokens(n int64) C.int64_t {
	if n < 0 {
		return C.RD_TOKENS_UNKNOWN
	}
	return C.int64_t(n)
}

// node is one open wrapped call or span. It is also the context.Context that
// carries it (the one the wrapped module or the span's code receives): the
// context it began with, plus itself as the value of nodeKey, in one
// allocation (context.WithValue would be a second one).
type node struct {
	context.Context // the context the call or span began with

	c       *Client
	h       C.rd_call
	eventID string // the top-level call's event id (a generated one is in idBuf)
	idBuf   [36]byte
	parent  *node
	kind    SpanKind
	isSpan  bool
	ended   atomic.Bool
	// lmBelow: an LM span ended (or Report recorded one) in this call or under
	// it. Only a flag: the core alone adds tokens up.
	lmBelow atomic.Bool

	mu   sync.Mutex
	rare *nodeRare // guarded by mu; allocated by the first Report or panic that needs it

	span Span // a span's *Span (part of the node: no allocation of its own)

	// The long texts without a character to escape among the strings of its
	// inputs (inClean: set before the node is published) and outputs
	// (outClean: set before the node is published as its parent's kidOut),
	// and the child that ended last: the calls, spans and outputs encoded next
	// skip the scan of those very strings (jsonWriter.known).
	inClean, outClean cleanSet
	kidOut            atomic.Pointer[node]

	// idle: a text buffer this call does not use while its module runs (the
	// one its inputs were encoded in), lent to what runs under it (takeBuf).
	idle atomic.Pointer[[]byte]
}

// nodeRare is what few calls need: kept out of node, which every call allocates.
type nodeRare struct {
	reported    Usage // Report inside an LM span: that span's usage where End leaves it unknown
	hasReported bool

	panicModule string // innermost wrapped module whose panic came up through this call
	panicValue  any
}

// rareLocked returns n.rare, allocated on first use (n.mu held).
func (n *node) rareLocked() *nodeRare {
	if n.rare == nil {
		n.rare = &nodeRare{}
	}
	return n.rare
}

// cleanKnown reports whether s is one of the strings n's inputs or its last
// child's outputs held that needed no escaping (cleanSet): what the inputs of
// a call or span begun under n, and n's own outputs, usually repeat (a
// pipeline also passes one step's output on to the next).
func (n *node) cleanKnown(s string) bool {
	return n != nil && n.cleanKnownHere(s)
}

func (n *node) cleanKnownHere(s string) bool {
	return n.inClean.has(s) || n.kidOut.Load().has(s)
}

// has is cleanSet.has of a node's outClean (false for nil).
func (n *node) has(s string) bool {
	return n != nil && n.outClean.has(s)
}

// Value is the value of key in the call's context: the node itself for
// nodeKey, else the value in the context the call began with.
func (n *node) Value(key any) any {
	if _, ok := key.(nodeKey); ok {
		return n
	}
	return n.Context.Value(key)
}

// String names the context as context.WithValue's String does.
func (n *node) String() string {
	if s, ok := n.Context.(fmt.Stringer); ok {
		return s.String() + ".WithValue(raindrop call)"
	}
	return "context.WithValue(raindrop call)"
}

// setPanic records that the panic v came up from the wrapped module named
// module (called by the child, under the child's deferred recover).
func (n *node) setPanic(module string, v any) {
	n.mu.Lock()
	r := n.rareLocked()
	r.panicModule, r.panicValue = module, v
	n.mu.Unlock()
}

// panicFrom returns the module a child recorded for the panic value v, or ""
// when v is another panic (the child's panic was recovered, then this module
// panicked on its own).
func (n *node) panicFrom(v any) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.rare == nil || n.rare.panicModule == "" || !samePanic(n.rare.panicValue, v) {
		return ""
	}
	return n.rare.panicModule
}

// samePanic compares two panic values without panicking on uncomparable ones
// (maps, slices and funcs compare by identity).
func samePanic(a, b any) (same bool) {
	defer func() {
		if recover() != nil {
			same = false // a struct holding an uncomparable value
		}
	}()
	t := reflect.TypeOf(a)
	if t == nil || t != reflect.TypeOf(b) {
		return false
	}
	switch t.Kind() {
	case reflect.Map, reflect.Slice, reflect.Func:
		return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer()
	}
	return a == b
}

type nodeKey struct{}

func nodeFrom(ctx context.Context) *node {
	if ctx == nil {
		return nil
	}
	n, _ := ctx.Value(nodeKey{}).(*node)
	return n
}

// Report records the usage of one language-model call made inside the
// innermost wrapped call or span of ctx: it becomes an LM span under that call
// (named after the model, begun and ended now), whose model, tokens and finish
// reason the core adds up into the top-level event like those of any LM span.
// Inside an LM span (StartSpan with KindLM) it gives that span's usage instead,
// for what its End leaves unknown or empty. Without a call in ctx it does
// nothing.
func Report(ctx context.Context, u Usage) {
	if n := nodeFrom(ctx); n != nil {
		n.report(u)
	}
}

// UsageRecorded reports whether LM usage was recorded in the innermost wrapped
// call or span of ctx or under it (an LM span ended, or Report). Adapters use
// it to avoid counting the same tokens twice.
func UsageRecorded(ctx context.Context) bool {
	if n := nodeFrom(ctx); n != nil {
		return n.lmBelow.Load()
	}
	return false
}

// EventID returns the event id of the top-level wrapped call in ctx (the id
// to attach signals to), or "" outside a wrapped call.
func EventID(ctx context.Context) string {
	if n := nodeFrom(ctx); n != nil {
		return n.eventID
	}
	return ""
}

// NewEventID returns a random UUID v4, usable as CallOptions.EventID so the id
// is known before the call.
func NewEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// report records u as one LM call under n (see Report).
func (n *node) report(u Usage) {
	if !u.known() {
		return
	}
	if n.isSpan && n.kind == KindLM {
		n.mu.Lock()
		r := n.rareLocked()
		r.reported, r.hasReported = u, true
		n.mu.Unlock()
		return
	}
	name := u.Model
	if name == "" {
		name = "lm"
	}
	now := C.uint64_t(time.Now().UnixNano())
	np, nn := strArg(name)
	mp, mn := optArg(u.Model)
	fp, fn := optArg(u.FinishReason)
	ret := C.rd_go_record_lm(n.c.h, n.h, np, nn, now, mp, mn, cTokens(u.PromptTokens), cTokens(u.CompletionTokens),
		fp, fn)
	runtime.KeepAlive(name)
	runtime.KeepAlive(u.Model)
	runtime.KeepAlive(u.FinishReason)
	if err := cErr("rd_span_record", ret.rc, ret.err); err != nil && Code(ret.rc) != CodeQueueFull {
		n.c.warnRefused(err)
		return
	}
	n.markLM() // a full queue dropped the span, but the core counted its usage
}

// markLM flags n and its enclosing calls: LM usage was recorded under them.
func (n *node) markLM() {
	for p := n; p != nil && !p.lmBelow.Swap(true); p = p.parent {
	}
}

// withReported completes an LM span's usage u with what Report gave it.
func (n *node) withReported(u Usage) Usage {
	n.mu.Lock()
	var r Usage
	has := false
	if n.rare != nil {
		r, has = n.rare.reported, n.rare.hasReported
	}
	n.mu.Unlock()
	if !has {
		return u
	}
	if u.Model == "" {
		u.Model = r.Model
	}
	if u.FinishReason == "" {
		u.FinishReason = r.FinishReason
	}
	if u.PromptTokens < 0 {
		u.PromptTokens = r.PromptTokens
	}
	if u.CompletionTokens < 0 {
		u.CompletionTokens = r.CompletionTokens
	}
	return u
}

// callResult is the Go side of rd_call_result.
type callResult struct {
	output, errType, errMsg string
	props                   map[string]any
	usage                   Usage // this call's or span's own, when hasUsage
	hasUsage                bool
	clean                   cleanSet // the output's long clean strings (node.outClean)
}

// cErr converts a helper's result code and error message (malloc'd by the
// helper, freed here) into a Go error.
func cErr(op string, rc C.rd_result, msg *C.char) error {
	text := ""
	if msg != nil {
		text = C.GoString(msg)
		C.free(unsafe.Pointer(msg))
	}
	if rc == C.RD_OK {
		return nil
	}
	return newError(op, Code(rc), text)
}

// beginCall starts a wrapped call (rd_wrap_begin), nested under parent when
// parent is not nil, and returns its node (ctx plus the call). A top-level
// call's options (user, convo, event name) go to the core at begin, so every
// span under the call carries them too.
func (c *Client) beginCall(ctx context.Context, parent *node, name, input, eventID string, opts *CallOptions) (*node, error) {
	np, nn := strArg(name)
	ip, in := optArg(input)
	if parent != nil { // a nested call has its top-level call's event id and options
		r := C.rd_go_begin_nested(c.h, parent.h, np, nn, ip, in)
		runtime.KeepAlive(name)
		runtime.KeepAlive(input)
		if err := cErr("rd_wrap_begin", r.rc, r.err); err != nil {
			return nil, err
		}
		return &node{Context: ctx, c: c, h: r.h, eventID: parent.eventID, parent: parent, kind: KindModule}, nil
	}
	idP, idN := optArg(eventID)
	var userP, convoP, evP *C.char
	var userN, convoN, evN C.size_t
	if opts != nil { // per-call options belong to the top-level call
		userP, userN = optArg(opts.UserID)
		convoP, convoN = optArg(opts.ConvoID)
		evP, evN = optArg(opts.EventName)
	}
	// A given event id is used as given or refused (never changed): only a
	// generated one needs reading back.
	wantID := C.int(0)
	if eventID == "" {
		wantID = 1
	}
	r := C.rd_go_begin_top(c.h, np, nn, ip, in, idP, idN, userP, userN, convoP, convoN, evP, evN, wantID)
	runtime.KeepAlive(name)
	runtime.KeepAlive(input)
	runtime.KeepAlive(eventID)
	runtime.KeepAlive(opts)
	if err := cErr("rd_wrap_begin", r.rc, r.err); err != nil {
		return nil, err
	}
	n := &node{Context: ctx, c: c, h: r.h, eventID: eventID, kind: KindModule}
	if eventID == "" {
		id := unsafe.Slice((*byte)(unsafe.Pointer(&r.id[0])), len(r.id))
		if k := bytes.IndexByte(id, 0); k >= 0 && k <= len(n.idBuf) { // a generated UUID: kept in the node
			copy(n.idBuf[:], id[:k])
			n.eventID = unsafe.String(&n.idBuf[0], k)
		} else {
			n.eventID = goStringN(id)
		}
	}
	return n, nil
}

// beginSpan opens a span (rd_span_begin) under parent, or a standalone one
// when parent is nil, and returns its node (ctx plus the span).
func (c *Client) beginSpan(ctx context.Context, parent *node, kind SpanKind, name, input string) (*node, error) {
	var ph C.rd_call
	eventID := ""
	if parent != nil {
		ph, eventID = parent.h, parent.eventID
	}
	np, nn := strArg(name)
	ip, il := optArg(input)
	r := C.rd_go_span_begin(c.h, ph, C.int32_t(kind), np, nn, ip, il)
	runtime.KeepAlive(name)
	runtime.KeepAlive(input)
	if err := cErr("rd_span_begin", r.rc, r.err); err != nil {
		return nil, err
	}
	n := &node{Context: ctx, c: c, h: r.h, eventID: eventID, parent: parent, kind: kind, isSpan: true}
	n.span.n = n
	return n, nil
}

// end finishes the call or span once and hands the result to the core, which
// alone rolls LM usage up into the top-level event.
func (n *node) end(r callResult, opts *CallOptions) error {
	if !n.ended.CompareAndSwap(false, true) {
		return nil
	}
	if r.clean[0] != "" {
		n.outClean = r.clean
		if n.parent != nil {
			n.parent.kidOut.Store(n)
		}
	}
	u := noUsage
	if r.hasUsage {
		u = r.usage
	}
	props := r.props
	var user, convo, eventName, atts string
	if opts != nil {
		user, convo, eventName = opts.UserID, opts.ConvoID, opts.EventName
		if len(opts.Properties) > 0 {
			merged := make(map[string]any, len(opts.Properties)+len(props))
			for k, v := range opts.Properties {
				merged[k] = v
			}
			for k, v := range props {
				merged[k] = v
			}
			props = merged
		}
		atts, _ = jsonAttachments(opts.Attachments)
	}
	pj := ""
	if len(props) > 0 {
		pj = wholeJSON(props)
	}
	pt, ct := cTokens(u.PromptTokens), cTokens(u.CompletionTokens)
	span, op := C.int(0), "rd_wrap_end"
	if n.isSpan {
		span, op = 1, "rd_span_end"
	}
	outP, outN := optArg(r.output)
	modelP, modelN := optArg(u.Model)
	frP, frN := optArg(u.FinishReason)
	var ret C.rd_go_ret
	if r.errType == "" && r.errMsg == "" && pj == "" && user == "" && convo == "" && eventName == "" && atts == "" {
		ret = C.rd_go_end_usual(n.c.h, n.h, span, outP, outN, modelP, modelN, pt, ct, frP, frN)
	} else {
		etP, etN := optArg(r.errType)
		emP, emN := optArg(r.errMsg)
		pjP, pjN := optArg(pj)
		userP, userN := optArg(user)
		convoP, convoN := optArg(convo)
		evP, evN := optArg(eventName)
		attP, attN := optArg(atts)
		ret = C.rd_go_end(n.c.h, n.h, span, outP, outN, modelP, modelN, pt, ct, frP, frN, etP, etN, emP, emN,
			pjP, pjN, userP, userN, convoP, convoN, evP, evN, attP, attN)
	}
	runtime.KeepAlive(r.output)
	runtime.KeepAlive(r.errType)
	runtime.KeepAlive(r.errMsg)
	runtime.KeepAlive(u.Model)
	runtime.KeepAlive(u.FinishReason)
	runtime.KeepAlive(pj)
	runtime.KeepAlive(opts)
	runtime.KeepAlive(atts)
	rc := ret.rc
	err := cErr(op, rc, ret.err)
	switch {
	case err == nil:
	case Code(rc) == CodeQueueFull:
		// counted, and warned about (rate-limited) by the core through its logger
	case Code(rc) == CodeInvalidHandle && n.c.closed.Load():
		// the client was closed while the call ran: nothing to record
	default:
		n.c.warnRefused(err)
	}
	return err
}

// warnRefused logs a call the core refused, at most once per 30 s per client.
func (c *Client) warnRefused(err error) {
	if c.closed.Load() {
		return
	}
	now := time.Now().UnixNano()
	last := c.lastRefusedLog.Load()
	if now-last < int64(30*time.Second) || !c.lastRefusedLog.CompareAndSwap(last, now) {
		return
	}
	c.log.log(slog.LevelWarn, err.Error()+" (the call ran unrecorded; logged at most every 30s)")
}
