package raindrop

import (
	"errors"
	"testing"
)

func TestTrackSignal(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	err := cl.TrackSignal(Signal{
		EventID: "evt-7f3a", Name: "user_feedback", Type: SignalFeedback,
		Comment: "Missed the refund policy", Sentiment: SentimentNegative,
		Properties: map[string]any{"source": "widget"}, AttachmentID: "att-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.TrackSignal(Signal{EventID: "evt-7f3a", Name: "fix", Type: SignalEdit, After: "better text"}); err != nil {
		t.Fatal(err)
	}
	if err := cl.TrackSignal(Signal{EventID: "evt-7f3a", Name: "thumbs_up", Sentiment: SentimentPositive}); err != nil {
		t.Fatal(err)
	}
	flush(t, cl)
	items := capt.items(t, "/signals/track")
	if len(items) != 3 {
		t.Fatalf("want 3 signals, got %d: %v", len(items), items)
	}
	byName := map[string]map[string]any{}
	for _, it := range items {
		byName[str(it["signal_name"])] = it
	}
	fb := byName["user_feedback"]
	if fb["event_id"] != "evt-7f3a" || fb["signal_type"] != "feedback" || fb["sentiment"] != "NEGATIVE" || fb["attachment_id"] != "att-1" {
		t.Errorf("feedback signal: %v", fb)
	}
	if path(fb, "properties", "comment") != "Missed the refund policy" || path(fb, "properties", "source") != "widget" {
		t.Errorf("feedback properties: %v", fb["properties"])
	}
	if path(byName["fix"], "properties", "after") != "better text" {
		t.Errorf("edit signal: %v", byName["fix"])
	}
	if byName["thumbs_up"]["signal_type"] != "default" {
		t.Errorf("default signal type: %v", byName["thumbs_up"])
	}
}

func TestTrackSignalErrors(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	err := cl.TrackSignal(Signal{EventID: "e", Name: "n", Type: "bogus"})
	if !errors.Is(err, ErrInvalidSignalType) {
		t.Errorf("bad type: %v", err)
	}
	err = cl.TrackSignal(Signal{EventID: "e", Name: "n", Sentiment: "MEH"})
	if !errors.Is(err, ErrInvalidSentiment) {
		t.Errorf("bad sentiment: %v", err)
	}
	var rerr *Error
	if !errors.As(err, &rerr) || rerr.Message == "" || rerr.Op != "rd_track_signal" {
		t.Errorf("error details: %#v", rerr)
	}
	if err := cl.TrackSignal(Signal{Name: "n"}); err == nil {
		t.Error("missing event id accepted")
	}
	// The client still works after bad input.
	if err := cl.TrackSignal(Signal{EventID: "e", Name: "ok"}); err != nil {
		t.Errorf("after errors: %v", err)
	}
}
