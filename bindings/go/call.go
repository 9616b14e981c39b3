package raindrop

/*
#include <string.h>
#include "raindrop_dspy.h"

// rd_go_begin fills an rd_call_options on the C stack (every string optional)
// and begins a wrapped call; a nested call passes no options.
static rd_result rd_go_begin(rd_client c, rd_call parent, const char *name, size_t name_len,
		const char *input, size_t input_len, const char *event_id, size_t event_id_len,
		const char *user_id, size_t user_id_len, const char *convo_id, size_t convo_id_len,
		const char *event_name, size_t event_name_len, rd_call *call_out,
		char *event_id_out, size_t event_id_out_len, rd_error *err_out) {
	rd_call_options o;
	memset(&o, 0, sizeof o);
	o.event_id = event_id; o.event_id_len = event_id_len;
	o.user_id = user_id; o.user_id_len = user_id_len;
	o.convo_id = convo_id; o.convo_id_len = convo_id_len;
	o.event_name = event_name; o.event_name_len = event_name_len;
	return rd_wrap_begin(c, parent, name, name_len, input, input_len, parent.id ? NULL : &o,
		call_out, event_id_out, event_id_out_len, err_out);
}

// rd_go_record_lm records an LM span that begins and ends at t, with its usage
// (what Report gives).
static rd_result rd_go_record_lm(rd_client c, rd_call parent, const char *name, size_t name_len, uint64_t t,
		const char *model, size_t model_len, int64_t prompt_tokens, int64_t completion_tokens,
		const char *finish_reason, size_t finish_reason_len, rd_error *err_out) {
	rd_call_result r;
	memset(&r, 0, sizeof r);
	r.model = model; r.model_len = model_len;
	r.prompt_tokens = prompt_tokens; r.completion_tokens = completion_tokens;
	r.finish_reason = finish_reason; r.finish_reason_len = finish_reason_len;
	return rd_span_record(c, parent, RD_SPAN_LM, name, name_len, NULL, 0, t, t, &r, err_out);
}

// rd_go_end fills an rd_call_result on the C stack and ends the call or span.
// The strings come as separate arguments because a Go struct holding Go
// pointers cannot be handed to C without pinning each one (which costs more
// than the rest of the call).
static rd_result rd_go_end(rd_client c, rd_call h, int span,
		const char *output, size_t output_len, const char *model, size_t model_len,
		int64_t prompt_tokens, int64_t completion_tokens,
		const char *finish_reason, size_t finish_reason_len,
		const char *error_type, size_t error_type_len,
		const char *error_message, size_t error_message_len,
		const char *properties_json, size_t properties_json_len,
		const char *user_id, size_t user_id_len, const char *convo_id, size_t convo_id_len,
		const char *event_name, size_t event_name_len,
		const char *attachments_json, size_t attachments_json_len, rd_error *err_out) {
	rd_call_result r;
	memset(&r, 0, sizeof r);
	r.output = output; r.output_len = output_len;
	r.model = model; r.model_len = model_len;
	r.prompt_tokens = prompt_tokens; r.completion_tokens = completion_tokens;
	r.finish_reason = finish_reason; r.finish_reason_len = finish_reason_len;
	r.error_type = error_type; r.error_type_len = error_type_len;
	r.error_message = error_message; r.error_message_len = error_message_len;
	r.properties_json = properties_json; r.properties_json_len = properties_json_len;
	r.user_id = user_id; r.user_id_len = user_id_len;
	r.convo_id = convo_id; r.convo_id_len = convo_id_len;
	r.event_name = event_name; r.event_name_len = event_name_len;
	r.attachments_json = attachments_json; r.attachments_json_len = attachments_json_len;
	return span ? rd_span_end(c, h, &r, err_out) : rd_wrap_end(c, h, &r, err_out);
}
*/
import "C"

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// node is one open wrapped call or span, carried in a context.Context.
type node struct {
	c       *Client
	h       C.rd_call
	eventID string // the top-level call's event id
	parent  *node
	kind    SpanKind
	isSpan  bool
	ended   atomic.Bool
	// lmBelow: an LM span ended (or Report recorded one) in this call or under
	// it. Only a flag: the core alone adds tokens up.
	lmBelow atomic.Bool

	mu          sync.Mutex
	reported    Usage // Report inside an LM span: that span's usage where End leaves it unknown
	hasReported bool

	panicModule string // innermost wrapped module whose panic came up through this call
	panicValue  any
}

// setPanic records that the panic v came up from the wrapped module named
// module (called by the child, under the child's deferred recover).
func (n *node) setPanic(module string, v any) {
	n.mu.Lock()
	n.panicModule, n.panicValue = module, v
	n.mu.Unlock()
}

// panicFrom returns the module a child recorded for the panic value v, or ""
// when v is another panic (the child's panic was recovered, then this module
// panicked on its own).
func (n *node) panicFrom(v any) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.panicModule == "" || !samePanic(n.panicValue, v) {
		return ""
	}
	return n.panicModule
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

func withNode(ctx context.Context, n *node) context.Context {
	return context.WithValue(ctx, nodeKey{}, n)
}

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
		n.reported, n.hasReported = u, true
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
	var e C.rd_error
	rc := C.rd_go_record_lm(n.c.h, n.h, np, nn, now, mp, mn, cTokens(u.PromptTokens), cTokens(u.CompletionTokens),
		fp, fn, &e)
	runtime.KeepAlive(n)
	runtime.KeepAlive(u)
	runtime.KeepAlive(name)
	if err := errFrom("rd_span_record", rc, &e); err != nil && Code(rc) != CodeQueueFull {
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
	r, has := n.reported, n.hasReported
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
	usage                   *Usage // this call's or span's own; nil: none
}

// beginCall starts a wrapped call (rd_wrap_begin), nested under parent when
// parent is not nil. A top-level call's options (user, convo, event name) go to
// the core at begin, so every span under the call carries them too.
func (c *Client) beginCall(parent *node, name, input, eventID string, opts *CallOptions) (*node, error) {
	var ph C.rd_call
	if parent != nil {
		ph = parent.h
	}
	var h C.rd_call
	var e C.rd_error
	np, nn := strArg(name)
	ip, in := optArg(input)
	idP, idN := optArg(eventID)
	var userP, convoP, evP *C.char
	var userN, convoN, evN C.size_t
	if opts != nil && parent == nil { // per-call options belong to the top-level call
		userP, userN = optArg(opts.UserID)
		convoP, convoN = optArg(opts.ConvoID)
		evP, evN = optArg(opts.EventName)
	}
	if parent != nil { // a nested call has its top-level call's event id and options
		rc := C.rd_go_begin(c.h, ph, np, nn, ip, in, nil, 0, nil, 0, nil, 0, nil, 0, &h, nil, 0, &e)
		runtime.KeepAlive(c)
		runtime.KeepAlive(name)
		runtime.KeepAlive(input)
		if err := errFrom("rd_wrap_begin", rc, &e); err != nil {
			return nil, err
		}
		return &node{c: c, h: h, eventID: parent.eventID, parent: parent, kind: KindModule}, nil
	}
	var idBuf [eventIDBufLen]byte
	rc := C.rd_go_begin(c.h, ph, np, nn, ip, in, idP, idN, userP, userN, convoP, convoN, evP, evN, &h,
		(*C.char)(unsafe.Pointer(&idBuf[0])), C.size_t(len(idBuf)), &e)
	runtime.KeepAlive(c)
	runtime.KeepAlive(name)
	runtime.KeepAlive(input)
	runtime.KeepAlive(eventID)
	runtime.KeepAlive(opts)
	if err := errFrom("rd_wrap_begin", rc, &e); err != nil {
		return nil, err
	}
	return &node{c: c, h: h, eventID: goStringN(idBuf[:]), parent: parent, kind: KindModule}, nil
}

// end finishes the call or span once and hands the result to the core, which
// alone rolls LM usage up into the top-level event.
func (n *node) end(r callResult, opts *CallOptions) error {
	if !n.ended.CompareAndSwap(false, true) {
		return nil
	}
	u := noUsage
	if r.usage != nil {
		u = *r.usage
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
	etP, etN := optArg(r.errType)
	emP, emN := optArg(r.errMsg)
	pjP, pjN := optArg(pj)
	userP, userN := optArg(user)
	convoP, convoN := optArg(convo)
	evP, evN := optArg(eventName)
	attP, attN := optArg(atts)
	var e C.rd_error
	rc := C.rd_go_end(n.c.h, n.h, span, outP, outN, modelP, modelN, pt, ct, frP, frN, etP, etN, emP, emN,
		pjP, pjN, userP, userN, convoP, convoN, evP, evN, attP, attN, &e)
	runtime.KeepAlive(r)
	runtime.KeepAlive(u)
	runtime.KeepAlive(pj)
	runtime.KeepAlive(opts)
	runtime.KeepAlive(atts)
	runtime.KeepAlive(n)
	err := errFrom(op, rc, &e)
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
