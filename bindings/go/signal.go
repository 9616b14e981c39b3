package raindrop

/*
#include "raindrop_dspy.h"
*/
import "C"

import (
	"runtime"
	"time"
)

// SignalType is the kind of a signal.
type SignalType string

// Signal types accepted by the core.
const (
	SignalDefault  SignalType = "default"
	SignalFeedback SignalType = "feedback" // requires Comment
	SignalEdit     SignalType = "edit"     // requires After
)

// Sentiment of a signal.
type Sentiment string

// Sentiments accepted by the core.
const (
	SentimentPositive Sentiment = "POSITIVE"
	SentimentNegative Sentiment = "NEGATIVE"
)

// Signal is feedback attached to an earlier event (route signals/track).
type Signal struct {
	EventID      string         // required: the event the signal refers to
	Name         string         // required, e.g. "thumbs_up"
	Type         SignalType     // "" = default
	Timestamp    time.Time      // zero = now
	Properties   map[string]any // free-form
	AttachmentID string         // optional attachment the signal refers to
	Comment      string         // feedback text (required for SignalFeedback)
	After        string         // edited text (required for SignalEdit)
	Sentiment    Sentiment      // "" = none
}

// TrackSignal queues one signal. A bad type or sentiment gives
// ErrInvalidSignalType / ErrInvalidSentiment; a full queue ErrQueueFull.
func (c *Client) TrackSignal(s Signal) error {
	props, err := jsonObject(s.Properties)
	if err != nil {
		return err
	}
	ts := formatTime(s.Timestamp)

	var pin runtime.Pinner
	defer pin.Unpin()
	var cs C.rd_signal
	// Required fields: pass a non-NULL pointer even for "" so the core reports
	// an invalid argument rather than a NULL.
	reqPin(&pin, &cs.event_id, &cs.event_id_len, s.EventID)
	reqPin(&pin, &cs.name, &cs.name_len, s.Name)
	pinOpt(&pin, &cs.signal_type, &cs.signal_type_len, string(s.Type))
	pinOpt(&pin, &cs.timestamp, &cs.timestamp_len, ts)
	pinOpt(&pin, &cs.properties_json, &cs.properties_json_len, props)
	pinOpt(&pin, &cs.attachment_id, &cs.attachment_id_len, s.AttachmentID)
	pinOpt(&pin, &cs.comment, &cs.comment_len, s.Comment)
	pinOpt(&pin, &cs.after, &cs.after_len, s.After)
	pinOpt(&pin, &cs.sentiment, &cs.sentiment_len, string(s.Sentiment))

	var e C.rd_error
	rc := C.rd_track_signal(c.h, &cs, &e)
	runtime.KeepAlive(c)
	if err := errFrom("rd_track_signal", rc, &e); err != nil {
		return err
	}
	return nil
}

// reqPin is pinOpt for a required field: "" becomes an empty C string.
func reqPin(p *runtime.Pinner, ptr **C.char, n *C.size_t, s string) {
	if s == "" {
		*ptr, *n = emptyCStr, 0
		return
	}
	pinOpt(p, ptr, n, s)
}
