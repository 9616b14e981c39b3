// raindrop/raindrop.hpp - header-only C++17 face of the raindrop_dspy C ABI (the umbrella header).
//
// Everything here is a thin layer over <raindrop_dspy.h>:
//   * raindrop::Client   move-only owner of an rd_client handle (rd_new / rd_shutdown);
//   * raindrop::Call     move-only guard of one open call or span (a std::unique_ptr whose
//                        deleter calls rd_wrap_end / rd_span_end), alias raindrop::Span;
//   * Client::wrap()     turns any callable into one that records one call per invocation;
//   * raindrop::current_call()  the innermost open call on this thread (nesting);
//   * raindrop::Error    the one exception type thrown for C ABI errors.
//
// Hot path rule: wrapping, guards, span begin/end, track_ai and track never throw a telemetry
// failure into user code. Such failures are counted (raindrop::swallowed_errors()) and logged at
// most once per 30 s, to the client's Config::logger when it has one, else to stderr. Everything
// else (construction, identify, track_signal, flush, stats) throws raindrop::Error;
// RD_ERR_QUEUE_FULL is never thrown, only counted and logged.
//
// Thread safety: a Client may be used from any number of threads at once. A Call (and the
// CallContext it owns) belongs to one thread at a time; end it on the thread that created it.
//
// One header per concept, all included here (include this one; the parts are not a stable API):
//   log.hpp     LogLevel, LogCallback: where the core's and this layer's log lines go;
//   error.hpp   result codes, raindrop::Error, swallowed telemetry failures;
//   json.hpp    raindrop::Json, properties, attachments, timestamps;
//   text.hpp    the text of inputs and outputs, and its customisation point raindrop::text_traits;
//   config.hpp  Config, Stats, Event, Signal, SpanKind, CallOptions;
//   call.hpp    Call / Span guards, CallContext, current_call();
//   wrap.hpp    Wrapped, what Client::wrap returns;
//   client.hpp  raindrop::Client.
//
// Requirements: C++17 or later, exceptions and RTTI (raindrop::Error is thrown; failed calls are
// recorded with the exception's dynamic type).
#ifndef RAINDROP_RAINDROP_HPP
#define RAINDROP_RAINDROP_HPP

#if defined(_MSVC_LANG)
#define RAINDROP_CPLUSPLUS _MSVC_LANG
#else
#define RAINDROP_CPLUSPLUS __cplusplus
#endif
#if RAINDROP_CPLUSPLUS < 201703L
#error "raindrop/raindrop.hpp requires C++17 or later (compile with -std=c++17, or /std:c++17 on MSVC)"
#elif !defined(__cpp_exceptions) && !defined(_CPPUNWIND)
#error "raindrop/raindrop.hpp requires C++ exceptions (remove -fno-exceptions; /EHsc on MSVC)"
#elif !defined(__cpp_rtti) && !defined(__GXX_RTTI) && !defined(_CPPRTTI)
#error "raindrop/raindrop.hpp requires RTTI (remove -fno-rtti; /GR on MSVC)"
#else  // nothing else is compiled without them: the #error above is the one message

#include <raindrop/log.hpp>
#include <raindrop/error.hpp>
#include <raindrop/json.hpp>
#include <raindrop/text.hpp>
#include <raindrop/config.hpp>
#include <raindrop/call.hpp>
#include <raindrop/wrap.hpp>
#include <raindrop/client.hpp>

#endif  // C++17, exceptions, RTTI
#endif  // RAINDROP_RAINDROP_HPP
