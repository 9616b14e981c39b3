package raindrop

import (
	"testing"
)

func TestStats(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	for i := 0; i < 3; i++ {
		if _, err := cl.TrackAI(AIEvent{Input: "in", Output: "out"}); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, cl)
	st, err := cl.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Queued < 3 || st.Delivered < 3 || st.Requests < 1 || st.BytesSent == 0 || st.LastHTTPStatus != 200 || st.QueueDepth != 0 {
		t.Errorf("stats: %+v", st)
	}
}
