package raindrop

import (
	"bytes"
	"context"
	"testing"
)

// The core mirrors every request to a local Workshop with the same bytes and without the
// Authorization header, and redacts PII on its sender thread when RedactPII is set.
func TestLocalWorkshopMirrorAndRedactPII(t *testing.T) {
	cloud, workshop := newCapture(t), newCapture(t)
	cl, err := New(Config{
		APIKey: "k", Endpoint: cloud.URL, ProjectID: "my-proj",
		LocalWorkshopURL: workshop.URL, RedactPII: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.TrackAI(AIEvent{Input: "mail jane@example.com", Output: "ok"}); err != nil {
		t.Fatal(err)
	}
	if err := cl.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	creqs, wreqs := cloud.requests(""), workshop.requests("")
	if len(creqs) != 1 || len(wreqs) != 1 {
		t.Fatalf("cloud %d requests, workshop %d", len(creqs), len(wreqs))
	}
	c, w := creqs[0], wreqs[0]
	if c.Path != w.Path || !bytes.Equal(c.Body, w.Body) {
		t.Errorf("mirror got %s %q, cloud %s %q", w.Path, w.Body, c.Path, c.Body)
	}
	if w.Header.Get("Authorization") != "" || w.Header.Get("X-Raindrop-Project-Id") != "my-proj" {
		t.Errorf("mirror headers: %v", w.Header)
	}
	if !bytes.Contains(c.Body, []byte("<REDACTED_EMAIL>")) || bytes.Contains(c.Body, []byte("jane@example.com")) {
		t.Errorf("not redacted: %s", c.Body)
	}
}

func TestDisableLocalWorkshop(t *testing.T) {
	cfg := Config{LocalWorkshopURL: "http://127.0.0.1:1/", DisableLocalWorkshop: true}
	got, err := cfg.toJSON()
	if err != nil || !bytes.Contains(got, []byte(`"local_workshop_url":false`)) {
		t.Errorf("toJSON: %s %v", got, err)
	}
}
