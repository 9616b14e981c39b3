//! Spans and their OTLP/HTTP JSON encoding (`ExportTraceServiceRequest`), with the attributes
//! Raindrop needs to keep a span and link it to its event (raindrop-wire.md §3).

use crate::call::{CallContext, Ended, SpanKind};
use crate::config::Config;
use crate::ids::EventId;
use crate::text::{self, Text};
use serde_json::{json, Map, Value};

#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    StrArray(Vec<String>),
}

#[derive(Clone, Debug)]
pub struct Span {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent_span_id: Option<[u8; 8]>,
    pub name: String,
    pub start_nanos: u64,
    pub end_nanos: u64,
    pub detail: SpanDetail,
}

/// What the hot path copies about a span; the sender turns it into attributes.
#[derive(Clone, Debug)]
pub struct SpanDetail {
    pub kind: SpanKind,
    /// Under another call (module spans: a task rather than the workflow).
    pub nested: bool,
    pub event_id: EventId,
    pub user_id: Option<String>,
    pub convo_id: Option<String>,
    pub event_name: String,
    pub input: Option<Text>,
    pub output: Option<Text>,
    pub model: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub finish_reason: Option<String>,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    /// A bounded JSON object of extra attributes.
    pub properties_json: Option<String>,
}

/// How trace and span ids are written. Raindrop's `traces` route takes base64 (what its SDKs
/// send, verified against the live backend); the OTLP/JSON specification, and so any
/// OpenTelemetry Collector, takes lowercase hex.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdEncoding {
    Base64,
    Hex,
}

impl IdEncoding {
    fn encode(self, bytes: &[u8]) -> String {
        match self {
            IdEncoding::Base64 => base64(bytes),
            IdEncoding::Hex => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// Standard base64 with padding, as OTLP/JSON bytes fields and Raindrop expect.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn any_value(value: &AttrValue, max_chars: usize) -> Value {
    match value {
        AttrValue::Str(text) => json!({"stringValue": text::cap(text, max_chars)}),
        // OTLP/JSON writes 64-bit integers as decimal strings.
        AttrValue::Int(n) => json!({"intValue": n.to_string()}),
        AttrValue::Double(x) if x.is_finite() => json!({"doubleValue": x}),
        AttrValue::Double(x) => json!({"stringValue": x.to_string()}),
        AttrValue::Bool(b) => json!({"boolValue": b}),
        AttrValue::StrArray(items) => {
            let values: Vec<Value> = items.iter().map(|t| json!({"stringValue": text::cap(t, max_chars)})).collect();
            json!({"arrayValue": {"values": values}})
        }
    }
}

impl Span {
    /// The span of a call that ended, built on the sender thread (`ended` is then turned into
    /// its event, which takes the texts: here they are shared or copied).
    pub fn of_call(ended: &Ended, config: &Config) -> Span {
        let Ended { call, result, end_nanos, .. } = ended;
        let more = result.more();
        // With tracing off only tool spans go out (bypass_otel_for_tools): their parents are never
        // exported, so they stand alone (no parent), grouped by the call's trace and event id.
        let parent_span_id = if config.tracing_enabled { call.parent_span_id } else { None };
        let from_call = |field: fn(&CallContext) -> &Option<String>| call.context_field(field).map(str::to_owned);
        Span {
            trace_id: call.trace_id,
            span_id: call.span_id,
            parent_span_id,
            name: call.name.to_string(),
            start_nanos: call.start_nanos,
            end_nanos: *end_nanos,
            detail: SpanDetail {
                kind: call.kind,
                nested: call.nested,
                event_id: call.event_id.clone(),
                user_id: more.user_id.clone().or_else(|| from_call(|c| &c.user_id)).or_else(|| config.user_id.clone()),
                convo_id: more
                    .convo_id
                    .clone()
                    .or_else(|| from_call(|c| &c.convo_id))
                    .or_else(|| config.convo_id.clone()),
                event_name: more
                    .event_name
                    .clone()
                    .or_else(|| from_call(|c| &c.event_name))
                    .unwrap_or_else(|| config.event_name.clone()),
                input: call.input.as_ref().map(|t| Text::from(t.to_str())),
                output: result.output.as_ref().map(|t| Text::from(t.to_str())),
                model: result.model.as_deref().map(str::to_owned).or_else(|| call.rollup.model.clone()),
                prompt_tokens: result.prompt_tokens,
                completion_tokens: result.completion_tokens,
                finish_reason: result.finish_reason.clone(),
                error_type: more.error_type.clone(),
                error_message: more.error_message.clone(),
                properties_json: more.properties_json.clone(),
            },
        }
    }

    /// The span's attributes (raindrop-wire.md §3.3–3.4): the kind markers Raindrop needs to keep
    /// it, the event link, and the kind's own attributes.
    pub fn attributes(&self) -> Vec<(String, AttrValue)> {
        let d = &self.detail;
        let mut attributes: Vec<(String, AttrValue)> = Vec::with_capacity(24);
        let mut put = |key: &str, value: AttrValue| attributes.push((key.to_owned(), value));
        let text = |s: &str| AttrValue::Str(s.to_owned());
        let (span_kind, operation) = match (d.kind, d.nested) {
            (SpanKind::Module, false) => ("workflow", "ai.workflow"),
            (SpanKind::Module, true) => ("task", "ai.task"),
            (SpanKind::Lm, _) => ("llm", "ai.generateText"),
            (SpanKind::Tool, _) => ("tool", "ai.toolCall"),
        };
        put("traceloop.span.kind", text(span_kind));
        put("ai.operationId", text(operation));
        put("traceloop.entity.name", text(&self.name));
        if d.kind == SpanKind::Module && !d.nested {
            put("traceloop.workflow.name", text(&self.name));
        }
        if !d.event_id.is_empty() {
            put("traceloop.association.properties.event_id", text(&d.event_id.text()));
            put("ai.telemetry.metadata.raindrop.eventId", text(&d.event_id.text()));
        }
        if let Some(user) = &d.user_id {
            put("traceloop.association.properties.user_id", text(user));
        }
        if let Some(convo) = &d.convo_id {
            put("traceloop.association.properties.convo_id", text(convo));
        }
        put("traceloop.association.properties.event_name", text(&d.event_name));
        match d.kind {
            SpanKind::Lm => {
                if let Some(model) = &d.model {
                    put("gen_ai.request.model", text(model));
                    put("gen_ai.response.model", text(model));
                    put("ai.model.id", text(model));
                }
                if let Some(input) = &d.input {
                    lm_prompt_attributes(input, &mut put);
                }
                if let Some(output) = &d.output {
                    put("ai.response.text", text(output));
                    put("gen_ai.completion.0.role", text("assistant"));
                    put("gen_ai.completion.0.content", text(output));
                }
                if let Some(tokens) = d.prompt_tokens {
                    put("gen_ai.usage.input_tokens", AttrValue::Int(tokens));
                }
                if let Some(tokens) = d.completion_tokens {
                    put("gen_ai.usage.output_tokens", AttrValue::Int(tokens));
                }
                if let Some(reason) = &d.finish_reason {
                    put("gen_ai.response.finish_reasons", AttrValue::StrArray(vec![reason.clone()]));
                    put("ai.response.finishReason", text(reason));
                }
            }
            SpanKind::Module | SpanKind::Tool => {
                if let Some(input) = &d.input {
                    put("traceloop.entity.input", text(input));
                }
                if let Some(output) = &d.output {
                    put("traceloop.entity.output", text(output));
                }
                if d.kind == SpanKind::Tool {
                    let millis = self.end_nanos.saturating_sub(self.start_nanos) / 1_000_000;
                    put("traceloop.entity.duration_ms", AttrValue::Int(millis as i64));
                }
                if let (SpanKind::Module, Some(model)) = (d.kind, &d.model) {
                    put("gen_ai.request.model", text(model));
                }
            }
        }
        // The OpenTelemetry exception conventions, plus `error.message`, which the Raindrop
        // Workshop shows as the error's text.
        if let Some(kind) = &d.error_type {
            put("error.type", text(kind));
            put("exception.type", text(kind));
        }
        if let Some(message) = &d.error_message {
            put("error.message", text(message));
            put("exception.message", text(message));
        }
        if let Some(json) = &d.properties_json {
            // The caller's attributes win over ours of the same key: OTLP keys must be unique.
            let mut extra = Vec::new();
            attributes_from_object(crate::event::parse_object(Some(json)), &mut extra);
            attributes.retain(|(key, _)| !extra.iter().any(|(k, _)| k == key));
            attributes.extend(extra);
        }
        attributes
    }

    /// Some(message) when the span failed: its status is then ERROR.
    fn error(&self) -> Option<String> {
        let d = &self.detail;
        match (&d.error_type, &d.error_message) {
            (Some(kind), Some(message)) => Some(format!("{kind}: {message}")),
            (Some(kind), None) => Some(kind.clone()),
            (None, Some(message)) => Some(message.clone()),
            (None, None) => None,
        }
    }

    /// One OTLP span object, within `max_bytes` (long attribute values are cut further if needed).
    /// None when it cannot be serialised (the sender counts it in `dropped_invalid`).
    pub fn to_json(&self, ids: IdEncoding, max_chars: usize, max_bytes: usize) -> Option<Vec<u8>> {
        let render = |limit| serde_json::to_vec(&self.to_value(ids, limit)).ok();
        let bytes = render(max_chars)?;
        if bytes.len() <= max_bytes || max_chars <= 16 {
            return Some(bytes);
        }
        crate::json_bound::shrink_to_fit(max_chars, max_bytes, render)
    }

    fn to_value(&self, ids: IdEncoding, max_chars: usize) -> Value {
        let mut span = Map::new();
        span.insert("traceId".into(), ids.encode(&self.trace_id).into());
        span.insert("spanId".into(), ids.encode(&self.span_id).into());
        if let Some(parent) = &self.parent_span_id {
            span.insert("parentSpanId".into(), ids.encode(parent).into());
        }
        span.insert("name".into(), text::cap(&self.name, max_chars).into_owned().into());
        span.insert("kind".into(), 1.into()); // SPAN_KIND_INTERNAL
        span.insert("startTimeUnixNano".into(), self.start_nanos.to_string().into());
        span.insert("endTimeUnixNano".into(), self.end_nanos.max(self.start_nanos).to_string().into());
        let attributes: Vec<Value> = self
            .attributes()
            .iter()
            .map(|(key, value)| json!({"key": key, "value": any_value(value, max_chars)}))
            .collect();
        if !attributes.is_empty() {
            span.insert("attributes".into(), Value::Array(attributes));
        }
        let status = match &self.error() {
            Some(message) => json!({"code": 2, "message": text::cap(message, max_chars)}),
            None => json!({"code": 1}),
        };
        span.insert("status".into(), status);
        Value::Object(span)
    }
}

/// The envelope around a batch of span objects: `prefix + spans joined by ',' + ENVELOPE_SUFFIX`.
pub fn envelope_prefix(service_name: &str, library_name: &str, version: &str) -> String {
    let resource = json!({"attributes": [
        {"key": "service.name", "value": {"stringValue": service_name}},
        {"key": "service.version", "value": {"stringValue": version}},
        {"key": "telemetry.sdk.name", "value": {"stringValue": library_name}},
    ]});
    let scope = json!({"name": library_name, "version": version});
    format!(r#"{{"resourceSpans":[{{"resource":{resource},"scopeSpans":[{{"scope":{scope},"spans":["#)
}

pub const ENVELOPE_SUFFIX: &str = "]}]}]}";

/// Turns a caller's JSON object of extra attributes into span attributes.
pub fn attributes_from_object(map: Map<String, Value>, out: &mut Vec<(String, AttrValue)>) {
    for (key, value) in map {
        let attribute = match value {
            Value::Null => continue,
            Value::String(s) => AttrValue::Str(s),
            Value::Bool(b) => AttrValue::Bool(b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => AttrValue::Int(i),
                None => AttrValue::Double(n.as_f64().unwrap_or(0.0)),
            },
            Value::Array(items) if items.iter().all(Value::is_string) => {
                AttrValue::StrArray(items.into_iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            }
            other => AttrValue::Str(other.to_string()),
        };
        if !key.is_empty() {
            out.push((key, attribute));
        }
    }
}

/// LM input: a JSON array of chat messages becomes `ai.prompt.messages` plus `gen_ai.prompt.<i>.*`;
/// anything else is a single user prompt.
fn lm_prompt_attributes(input: &str, put: &mut impl FnMut(&str, AttrValue)) {
    if crate::json_bound::leading_byte(input) == Some(b'[') {
        if let Ok(serde_json::Value::Array(messages)) = serde_json::from_str::<serde_json::Value>(input) {
            put("ai.prompt.messages", AttrValue::Str(input.to_owned()));
            for (i, message) in messages.iter().enumerate() {
                let role = message.get("role").and_then(|r| r.as_str()).unwrap_or("user");
                let content = match message.get("content") {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                put(&format!("gen_ai.prompt.{i}.role"), AttrValue::Str(role.to_owned()));
                put(&format!("gen_ai.prompt.{i}.content"), AttrValue::Str(content));
            }
            return;
        }
    }
    put("ai.prompt", AttrValue::Str(input.to_owned()));
    put("gen_ai.prompt.0.role", AttrValue::Str("user".into()));
    put("gen_ai.prompt.0.content", AttrValue::Str(input.to_owned()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(&[0xff; 8]), "//////////8=");
        assert_eq!(IdEncoding::Hex.encode(&[0x0a, 0xff]), "0aff");
    }
}
