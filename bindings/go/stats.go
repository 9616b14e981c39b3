package raindrop

/*
#include "raindrop_dspy.h"
*/
import "C"

import "runtime"

// Stats are the client's delivery counters (rd_get_stats).
type Stats struct {
	Queued             uint64 // items accepted into the queue
	Delivered          uint64 // items delivered (2xx)
	DroppedQueueFull   uint64 // dropped because the queue was full
	DroppedRejected    uint64 // dropped on a non-retried 4xx
	DroppedRetryBudget uint64 // dropped after the retry budget ran out
	DroppedShutdown    uint64 // dropped because shutdown's deadline came first
	DroppedInvalid     uint64 // dropped as invalid
	CallsExpired       uint64 // wrapped calls begun and never ended (TTL)
	Retries            uint64
	Requests           uint64
	BytesSent          uint64
	QueueDepth         uint64 // items waiting now
	LastHTTPStatus     int    // 0: no response yet
	MirrorSent         uint64 // requests the local Workshop accepted
	MirrorFailed       uint64 // mirror requests that failed (never retried)
	MirrorDropped      uint64 // bodies not mirrored: over 1 MiB, mirror queue full, or left at shutdown
	Spooled            uint64 // items written to the spool (SpoolDir) before being sent
	Replayed           uint64 // items an earlier client left in the spool, delivered by this one
	SpoolDropped       uint64 // items dropped from the spool (its byte budget, oldest first)
	SpoolPending       uint64 // gauge: items in the spool not yet delivered
	CallsRefused       uint64 // begins refused: max_open_calls or max_open_call_bytes reached
}

// Stats returns a snapshot of the delivery counters. After Shutdown (or Close)
// it returns the final statistics the shutdown handed back, DroppedShutdown
// included.
func (c *Client) Stats() (Stats, error) {
	if c.closed.Load() {
		<-c.finalSet // a Shutdown whose context ended early finishes within its deadline
		if f := c.final.Load(); f != nil {
			return *f, nil
		}
	}
	var s C.rd_stats
	var e C.rd_error
	rc := C.rd_get_stats(c.h, &s, &e)
	runtime.KeepAlive(c)
	if err := errFrom("rd_get_stats", rc, &e); err != nil {
		return Stats{}, err
	}
	return statsFrom(&s), nil
}

func statsFrom(s *C.rd_stats) Stats {
	return Stats{
		Queued:             uint64(s.queued),
		Delivered:          uint64(s.delivered),
		DroppedQueueFull:   uint64(s.dropped_queue_full),
		DroppedRejected:    uint64(s.dropped_rejected),
		DroppedRetryBudget: uint64(s.dropped_retry_budget),
		DroppedShutdown:    uint64(s.dropped_shutdown),
		DroppedInvalid:     uint64(s.dropped_invalid),
		CallsExpired:       uint64(s.calls_expired),
		Retries:            uint64(s.retries),
		Requests:           uint64(s.requests),
		BytesSent:          uint64(s.bytes_sent),
		QueueDepth:         uint64(s.queue_depth),
		LastHTTPStatus:     int(s.last_http_status),
		MirrorSent:         uint64(s.mirror_sent),
		MirrorFailed:       uint64(s.mirror_failed),
		MirrorDropped:      uint64(s.mirror_dropped),
		Spooled:            uint64(s.spooled),
		Replayed:           uint64(s.replayed),
		SpoolDropped:       uint64(s.spool_dropped),
		SpoolPending:       uint64(s.spool_pending),
		CallsRefused:       uint64(s.calls_refused),
	}
}
