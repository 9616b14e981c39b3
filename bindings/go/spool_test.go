package raindrop

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// SpoolDir reaches the core: with the sink down the event waits in the spool across a shutdown,
// and the next client opening the directory sends it once, with the same event id.
func TestSpoolDirKeepsEventsAcrossAnOutage(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String() + "/v1/"
	l.Close()
	dir := filepath.Join(t.TempDir(), "spool")

	down, err := New(Config{APIKey: "k", Endpoint: dead, SpoolDir: dir, SpoolMaxBytes: 1 << 20,
		DisableLocalWorkshop: true, FlushInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	id, err := down.TrackAI(AIEvent{Input: "kept across the outage", Output: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the event in the spool", func() bool { s, _ := down.Stats(); return s.Spooled == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = down.Shutdown(ctx) // the sink is down: the event stays in the spool
	if segs, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(segs) == 0 {
		t.Fatal("no spool segment left")
	}

	capt := newCapture(t)
	up := newTestClient(t, capt, func(c *Config) { c.SpoolDir = dir; c.DisableLocalWorkshop = true })
	waitFor(t, "the replayed event", func() bool { s, _ := up.Stats(); return s.Replayed == 1 && s.SpoolPending == 0 })
	if err := up.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs := capt.events(t)
	if len(evs) != 1 || str(evs[0]["event_id"]) != id {
		t.Fatalf("want event %s once, got %v", id, evs)
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(segs) != 0 {
		t.Errorf("segments left after delivery: %v", segs)
	}
	_ = os.RemoveAll(dir)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
