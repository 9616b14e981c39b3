package raindrop

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestCodeNamesComeFromTheCore(t *testing.T) {
	if got := CodeQueueFull.String(); got != "RD_ERR_QUEUE_FULL" {
		t.Errorf("CodeQueueFull.String() = %q", got)
	}
	if got := Code(12345).String(); got != "RD_ERR_UNKNOWN" {
		t.Errorf("an unknown code: %q", got)
	}
}

func TestErrorIs(t *testing.T) {
	err := error(newError("rd_track", CodeQueueFull, "queue is full"))
	if !errors.Is(err, ErrQueueFull) || errors.Is(err, ErrInvalidHandle) {
		t.Errorf("errors.Is by code failed: %v", err)
	}
	wrapped := fmt.Errorf("ctx: %w", err)
	if !errors.Is(wrapped, ErrQueueFull) {
		t.Error("errors.Is through wrapping")
	}
	var e *Error
	if !errors.As(wrapped, &e) || e.Code != CodeQueueFull || e.Message != "queue is full" {
		t.Errorf("errors.As: %#v", e)
	}
	if err.Error() != "raindrop: rd_track: RD_ERR_QUEUE_FULL: queue is full" {
		t.Errorf("message: %q", err.Error())
	}
	to := newError("rd_flush", CodeTimeout, "")
	if !errors.Is(to, context.DeadlineExceeded) || !errors.Is(to, ErrTimeout) {
		t.Error("timeout must match context.DeadlineExceeded and ErrTimeout")
	}
}
