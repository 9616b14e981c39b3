package raindrop

// The core's log lines reach Config.Logger (or Config.Slog) through the C
// API's log callback (rd_logger). This file holds the exported callback and
// the sink it writes to: cgo allows no C definitions in the preamble of a file
// with //export.

/*
#include <stddef.h>
#include "raindrop_dspy.h"
*/
import "C"

import (
	"context"
	"log"
	"log/slog"
	"runtime/cgo"
	"unsafe"
)

// logSink is where the client's log lines go: the core's (through the
// callback's cgo.Handle) and the binding's own. The handle reaches the sink
// only, not the Client (a handle to the Client would keep it reachable and its
// finalizer would never run).
type logSink struct {
	logger *log.Logger  // used when slog is nil
	slog   *slog.Logger // wins over logger
}

// newLogSink returns the sink of cfg, and whether cfg chose one (otherwise the
// core writes to stderr and the binding to log.Default()).
func newLogSink(cfg *Config) (*logSink, bool) {
	switch {
	case cfg.Slog != nil:
		return &logSink{slog: cfg.Slog}, true
	case cfg.Logger != nil:
		return &logSink{logger: cfg.Logger}, true
	}
	return &logSink{logger: log.Default()}, false
}

func (s *logSink) log(level slog.Level, msg string) {
	if s.slog != nil {
		s.slog.Log(context.Background(), level, msg, "logger", "raindrop")
		return
	}
	s.logger.Printf("raindrop: %s: %s", levelName(level), msg)
}

//export goRaindropLog
func goRaindropLog(userData unsafe.Pointer, level C.rd_log_level, message *C.char, n C.size_t) {
	s, ok := cgo.Handle(uintptr(userData)).Value().(*logSink)
	if !ok {
		return
	}
	s.log(slogLevel(level), C.GoStringN(message, C.int(n)))
}

// slogLevel maps the header's rd_log_level onto slog's levels.
func slogLevel(level C.rd_log_level) slog.Level {
	switch level {
	case C.RD_LOG_DEBUG:
		return slog.LevelDebug
	case C.RD_LOG_INFO:
		return slog.LevelInfo
	case C.RD_LOG_WARN:
		return slog.LevelWarn
	}
	return slog.LevelError
}

func levelName(level slog.Level) string {
	switch {
	case level < slog.LevelInfo:
		return "debug"
	case level < slog.LevelWarn:
		return "info"
	case level < slog.LevelError:
		return "warning"
	}
	return "error"
}
