package raindrop

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestTrackAIShape(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	ts := time.Date(2026, 3, 2, 8, 15, 0, 481_000_000, time.FixedZone("x", 3600))
	id, err := cl.TrackAI(AIEvent{
		UserID: "u-42", Event: "support_reply", Timestamp: ts,
		Input: "Where is my order?", Output: "It ships today.", Model: "gpt-4o-mini", ConvoID: "thread-9",
		Properties:  map[string]any{"channel": "email", "n": 3},
		Attachments: []Attachment{{Type: "code", Role: "input", Name: "q.sql", Value: "select 1;", Language: "sql"}},
	})
	if err != nil || id == "" {
		t.Fatalf("TrackAI: %q %v", id, err)
	}
	flush(t, cl)
	evs := capt.events(t)
	if len(evs) != 1 {
		t.Fatalf("want 1 event, got %d", len(evs))
	}
	ev := evs[0]
	if str(ev["event_id"]) != id || str(ev["user_id"]) != "u-42" || str(ev["event"]) != "support_reply" {
		t.Errorf("ids: %v", ev)
	}
	if str(ev["timestamp"]) != "2026-03-02T07:15:00.481Z" {
		t.Errorf("timestamp = %v", ev["timestamp"])
	}
	ai := asMap(ev["ai_data"])
	if ai["input"] != "Where is my order?" || ai["output"] != "It ships today." || ai["model"] != "gpt-4o-mini" || ai["convo_id"] != "thread-9" {
		t.Errorf("ai_data = %v", ai)
	}
	if path(ev, "properties", "channel") != "email" || path(ev, "properties", "n") != 3.0 {
		t.Errorf("properties = %v", ev["properties"])
	}
	atts := asList(ev["attachments"])
	if len(atts) != 1 || asMap(atts[0])["language"] != "sql" || asMap(atts[0])["value"] != "select 1;" {
		t.Errorf("attachments = %v", ev["attachments"])
	}
}

func TestTrackPlainEventHasNoAIData(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	id, err := cl.Track(Event{EventID: "evt-plain-1", UserID: "u-1", Event: "ticket_closed", Properties: map[string]any{"reason": "resolved"}})
	if err != nil || id != "evt-plain-1" {
		t.Fatalf("Track: %q %v", id, err)
	}
	flush(t, cl)
	evs := capt.events(t)
	if len(evs) != 1 {
		t.Fatalf("want 1 event, got %d", len(evs))
	}
	if _, ok := evs[0]["ai_data"]; ok {
		t.Errorf("plain event has ai_data: %v", evs[0])
	}
	if path(evs[0], "properties", "reason") != "resolved" {
		t.Errorf("properties: %v", evs[0]["properties"])
	}
}

func TestIdentify(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	if err := cl.Identify("u-42", map[string]any{"plan": "team", "seats": 12}); err != nil {
		t.Fatal(err)
	}
	if err := cl.Identify("u-43", nil); err != nil {
		t.Fatal(err)
	}
	flush(t, cl)
	items := capt.items(t, "/users/identify")
	if len(items) != 2 {
		t.Fatalf("want 2 identify items, got %d: %v", len(items), items)
	}
	byUser := map[string]map[string]any{}
	for _, it := range items {
		byUser[str(it["user_id"])] = it
	}
	if path(byUser["u-42"], "traits", "plan") != "team" || path(byUser["u-42"], "traits", "seats") != 12.0 {
		t.Errorf("traits: %v", byUser["u-42"])
	}
	if tr, ok := byUser["u-43"]["traits"].(map[string]any); !ok || len(tr) != 0 {
		t.Errorf("empty traits must be {}: %v", byUser["u-43"])
	}
}

func TestUnencodablePropertyIsInvalidJSON(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	bad := map[string]any{"c": make(chan int)}
	if _, err := cl.TrackAI(AIEvent{Input: "x", Properties: bad}); !errors.Is(err, ErrInvalidJSON) {
		t.Errorf("TrackAI: %v, want ErrInvalidJSON", err)
	}
	if err := cl.Identify("u", bad); !errors.Is(err, ErrInvalidJSON) {
		t.Errorf("Identify: %v, want ErrInvalidJSON", err)
	}
	if err := cl.TrackSignal(Signal{EventID: "e", Name: "n", Properties: bad}); !errors.Is(err, ErrInvalidJSON) {
		t.Errorf("TrackSignal: %v, want ErrInvalidJSON", err)
	}
	var ute *json.UnsupportedTypeError
	_, err := cl.TrackAI(AIEvent{Input: "x", Properties: bad})
	if !errors.As(err, &ute) {
		t.Errorf("the encoding/json cause is kept: %v", err)
	}
}

func TestTrackEmptyEventIsRejected(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	if _, err := cl.Track(Event{}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Track(Event{}) = %v, want ErrInvalidArgument", err)
	}
	if _, err := cl.Track(Event{UserID: "u", Properties: map[string]any{"a": 1}}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Track without a name = %v, want ErrInvalidArgument", err)
	}
	flush(t, cl)
	if n := len(capt.events(t)); n != 0 {
		t.Errorf("an empty event was sent (%d events)", n)
	}
}
