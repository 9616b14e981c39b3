package raindrop

/*
#include "raindrop_dspy.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"time"
	"unsafe"
)

// Attachment is one entry of an event's attachments.
type Attachment struct {
	Type         string `json:"type"`           // text, code, image or iframe
	Role         string `json:"role,omitempty"` // input or output
	Name         string `json:"name,omitempty"`
	Value        string `json:"value"`
	Language     string `json:"language,omitempty"` // for code
	AttachmentID string `json:"attachment_id,omitempty"`
}

// AIEvent is a complete AI event for TrackAI. Every field is optional; at
// least one of Input and Output should be set.
type AIEvent struct {
	EventID     string    // default: a fresh UUID v4
	UserID      string    // default: Config.UserID, then "unknown"
	Event       string    // default: Config.EventName ("ai_generation")
	Timestamp   time.Time // default: now
	Input       string
	Output      string
	Model       string
	ConvoID     string
	Properties  map[string]any
	Attachments []Attachment
}

// Event is a plain (non-AI) event for Track.
type Event struct {
	EventID     string
	UserID      string
	Event       string
	Timestamp   time.Time
	Properties  map[string]any
	Attachments []Attachment
}

// TrackAI queues one AI event and returns its event id. It never blocks on the
// network; a full queue drops the event and returns ErrQueueFull.
func (c *Client) TrackAI(ev AIEvent) (string, error) {
	return c.track(true, ev)
}

// Track queues one plain event (no ai_data) and returns its event id. A plain
// event needs a name (Event.Event): without one it returns ErrInvalidArgument
// and sends nothing.
func (c *Client) Track(ev Event) (string, error) {
	if ev.Event == "" {
		return "", &Error{Code: CodeInvalidArgument, Op: "Track", Message: "event: a plain event needs a name"}
	}
	return c.track(false, AIEvent{
		EventID: ev.EventID, UserID: ev.UserID, Event: ev.Event, Timestamp: ev.Timestamp,
		Properties: ev.Properties, Attachments: ev.Attachments,
	})
}

func (c *Client) track(ai bool, ev AIEvent) (string, error) {
	props, err := jsonObject(ev.Properties)
	if err != nil {
		return "", err
	}
	atts, err := jsonAttachments(ev.Attachments)
	if err != nil {
		return "", err
	}
	ts := formatTime(ev.Timestamp)

	var pin runtime.Pinner
	defer pin.Unpin()
	var ce C.rd_event
	pinOpt(&pin, &ce.event_id, &ce.event_id_len, ev.EventID)
	pinOpt(&pin, &ce.user_id, &ce.user_id_len, ev.UserID)
	pinOpt(&pin, &ce.event, &ce.event_len, ev.Event)
	pinOpt(&pin, &ce.timestamp, &ce.timestamp_len, ts)
	pinOpt(&pin, &ce.input, &ce.input_len, ev.Input)
	pinOpt(&pin, &ce.output, &ce.output_len, ev.Output)
	pinOpt(&pin, &ce.model, &ce.model_len, ev.Model)
	pinOpt(&pin, &ce.convo_id, &ce.convo_id_len, ev.ConvoID)
	pinOpt(&pin, &ce.properties_json, &ce.properties_json_len, props)
	pinOpt(&pin, &ce.attachments_json, &ce.attachments_json_len, atts)

	var idBuf [eventIDBufLen]byte
	var e C.rd_error
	var rc C.rd_result
	op := "rd_track"
	if ai {
		op = "rd_track_ai"
		rc = C.rd_track_ai(c.h, &ce, (*C.char)(unsafe.Pointer(&idBuf[0])), C.size_t(len(idBuf)), &e)
	} else {
		rc = C.rd_track(c.h, &ce, (*C.char)(unsafe.Pointer(&idBuf[0])), C.size_t(len(idBuf)), &e)
	}
	runtime.KeepAlive(c)
	if err := errFrom(op, rc, &e); err != nil {
		return "", err
	}
	return goStringN(idBuf[:]), nil
}

// Identify associates traits with a user (route users/identify).
func (c *Client) Identify(userID string, traits map[string]any) error {
	tj, err := jsonObject(traits)
	if err != nil {
		return err
	}
	if tj == "" {
		tj = "{}"
	}
	var e C.rd_error
	up, un := strArg(userID)
	tp, tn := strArg(tj)
	rc := C.rd_identify(c.h, up, un, tp, tn, &e)
	runtime.KeepAlive(c)
	runtime.KeepAlive(userID)
	runtime.KeepAlive(tj)
	if err := errFrom("rd_identify", rc, &e); err != nil {
		return err
	}
	return nil
}

// formatTime renders t as RFC 3339 UTC with millisecond precision; the zero
// time is "" (absent: the core stamps the call time).
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// jsonObject serialises a properties map; nil or empty gives "" (absent).
func jsonObject(m map[string]any) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", invalidJSON("properties", err)
	}
	return string(b), nil
}

func jsonAttachments(a []Attachment) (string, error) {
	if len(a) == 0 {
		return "", nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return "", invalidJSON("attachments", err)
	}
	return string(b), nil
}

// invalidJSON is the error for an argument encoding/json cannot encode: it
// matches ErrInvalidJSON and unwraps to the encoding/json error.
func invalidJSON(arg string, err error) *Error {
	return &Error{Code: CodeInvalidJSON, Op: arg, Message: err.Error(), cause: err}
}
