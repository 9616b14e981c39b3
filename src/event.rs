//! Events for `events/track`: what the hot path records, and how the sender serialises one,
//! shrinking it until it fits the body limit (it lands truncated, never dropped for its size).

use crate::call::{CallContext, Ended};
use crate::config::Config;
use crate::ids::EventId;
use crate::json_bound;
use crate::text::{self, Name, RawText, Text};
use crate::time::Timestamp;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A one-shot event (`rd_track_ai` / `rd_track`): the AI fields inline, the others (which most
/// AI events leave to the client's defaults) boxed apart, so the common event is small to build
/// and move into its queued box.
#[derive(Default, Debug)]
pub struct EventArgs {
    pub ai: Option<AiArgs>,
    /// None when none of its fields was given.
    pub more: Option<Box<MoreArgs>>,
}

/// The fields of a one-shot event that most events leave to the client's defaults (the
/// conversation id too: the AI field that is rarely given).
#[derive(Default, Debug)]
pub struct MoreArgs {
    pub event_id: Option<String>,
    pub convo_id: Option<String>,
    pub user_id: Option<String>,
    pub event: Option<String>,
    pub timestamp: Option<Timestamp>,
    pub properties_json: Option<String>,
    pub attachments_json: Option<String>,
}

/// The AI fields of a one-shot event as the hot path copies them (texts not yet checked as
/// UTF-8: the sender repairs them when it builds the event's `AiData`), but `convo_id`, in
/// `MoreArgs`: a `Tracked` small enough to move into its box without `memcpy`.
#[derive(Clone, Debug, Default)]
pub struct AiArgs {
    pub model: Option<Name>,
    pub input: Option<RawText>,
    pub output: Option<RawText>,
}

#[derive(Clone, Debug, Default)]
pub struct AiData {
    pub model: Option<String>,
    pub input: Option<Text>,
    pub output: Option<Text>,
    pub convo_id: Option<String>,
}

impl AiData {
    /// The backend rejects an `ai_data` with neither input nor output, and with it the whole
    /// batch; such an event (a call that took and returned nothing) goes as a plain event.
    fn has_content(&self) -> bool {
        non_empty(&self.input).is_some() || non_empty(&self.output).is_some()
    }
}

/// The properties this library fills in itself (contract §5).
#[derive(Clone, Debug, Default)]
pub struct Builtins {
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub finish_reason: Option<String>,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    pub module: Option<String>,
}

/// A one-shot event as the hot path queues it: the caller's arguments, its id and timestamp.
pub struct Tracked {
    pub event_id: EventId,
    pub timestamp: Timestamp,
    pub args: EventArgs,
}

impl Tracked {
    /// Rough size for the queue's byte bound.
    pub fn approx_bytes(&self) -> usize {
        let len = |t: Option<&str>| t.map_or(0, str::len);
        let raw = |t: &Option<RawText>| t.as_ref().map_or(0, RawText::len);
        let a = &self.args;
        let ai =
            a.ai.as_ref().map_or(0, |ai| ai.model.as_ref().map_or(0, Name::len) + raw(&ai.input) + raw(&ai.output));
        let more = a.more.as_deref().map_or(0, |m| {
            len(m.convo_id.as_deref())
                + len(m.user_id.as_deref())
                + len(m.event.as_deref())
                + len(m.properties_json.as_deref())
                + len(m.attachments_json.as_deref())
        });
        256 + self.event_id.len() + ai + more
    }
}

#[derive(Clone, Debug)]
pub struct Event {
    pub event_id: String,
    pub user_id: String,
    pub event: String,
    pub timestamp: Timestamp,
    pub ai: Option<AiData>,
    /// A bounded JSON object from the caller.
    pub properties_json: Option<String>,
    pub builtins: Builtins,
    /// A bounded JSON array of attachment objects from the caller.
    pub attachments_json: Option<String>,
}

impl Event {
    /// The event of a top-level wrapped call that ended, built on the sender thread: what the
    /// call reports wins, then what its LM calls rolled up, then the call's options, then the
    /// client's defaults.
    pub fn of_call(ended: Ended, config: &Config) -> Event {
        let Ended { call, result, .. } = ended;
        let more = result.more.map(|more| *more).unwrap_or_default();
        let rollup = &call.rollup;
        let model = result.model.map(|model| model.to_string()).or_else(|| rollup.model.clone());
        let prompt_tokens = result.prompt_tokens.or(rollup.prompt_tokens.total());
        let completion_tokens = result.completion_tokens.or(rollup.completion_tokens.total());
        let finish_reason = result.finish_reason.or_else(|| rollup.finish_reason.clone());
        let mut output = result.output.map(RawText::into_text);
        let failed = more.error_type.is_some() || more.error_message.is_some();
        // An errored call with no input still lands: its error is its content (contract §5).
        if failed && call.input.as_ref().is_none_or(RawText::is_empty) && output.as_deref().is_none_or(str::is_empty) {
            let kind = more.error_type.as_deref().unwrap_or("Error");
            output = Some(format!("{kind}: {}", more.error_message.as_deref().unwrap_or("")).into());
        }
        let from_call = |field: fn(&CallContext) -> &Option<String>| call.context_field(field).map(str::to_owned);
        let user_id = more
            .user_id
            .or_else(|| from_call(|c| &c.user_id))
            .or_else(|| config.user_id.clone())
            .unwrap_or_else(|| "unknown".into());
        let event =
            more.event_name.or_else(|| from_call(|c| &c.event_name)).unwrap_or_else(|| config.event_name.clone());
        let convo_id = more.convo_id.or_else(|| from_call(|c| &c.convo_id)).or_else(|| config.convo_id.clone());
        Event {
            event_id: String::from(&*call.event_id.text()),
            user_id,
            event,
            timestamp: more.timestamp.unwrap_or(Timestamp::UnixNanos(call.start_nanos)),
            ai: Some(AiData { model, input: call.input.map(RawText::into_text), output, convo_id }),
            properties_json: more.properties_json,
            builtins: Builtins {
                prompt_tokens,
                completion_tokens,
                finish_reason,
                error_type: more.error_type,
                error_message: more.error_message,
                module: Some(call.name.to_string()),
            },
            attachments_json: more.attachments_json,
        }
    }

    /// The event of `rd_track_ai` / `rd_track`, built on the sender thread: what the caller gave,
    /// else the client's defaults.
    pub fn of_track(tracked: Tracked, config: &Config) -> Event {
        let Tracked { event_id, timestamp, args } = tracked;
        let more = args.more.map(|more| *more).unwrap_or_default();
        Event {
            event_id: String::from(&*event_id.text()),
            user_id: more.user_id.or_else(|| config.user_id.clone()).unwrap_or_else(|| "unknown".into()),
            event: more.event.unwrap_or_else(|| config.event_name.clone()),
            timestamp,
            ai: args.ai.map(|ai| AiData {
                model: ai.model.map(|model| model.to_string()),
                input: ai.input.map(RawText::into_text),
                output: ai.output.map(RawText::into_text),
                convo_id: more.convo_id.or_else(|| config.convo_id.clone()),
            }),
            properties_json: more.properties_json,
            builtins: Builtins::default(),
            attachments_json: more.attachments_json,
        }
    }

    /// Serialises the event as one `events/track` array item of at most `max_bytes`; None when
    /// it cannot be serialised (the sender counts it in `dropped_invalid`).
    pub fn to_json(&self, context: &RawValue, max_chars: usize, max_bytes: usize) -> Option<Vec<u8>> {
        let bytes = self.serialize_borrowed(context)?;
        if bytes.len() <= max_bytes {
            return Some(bytes);
        }
        // Too big: cut every text further until it fits (contract §4).
        let context: Value = serde_json::from_str(context.get()).unwrap_or(Value::Null);
        json_bound::shrink_to_fit(max_chars, max_bytes, |limit| {
            serde_json::to_vec(&self.to_value(&context, limit.max(16), Some(max_bytes / 2))).ok()
        })
    }

    /// The common case: write straight from the event's fields (already capped on the hot
    /// path), without building a JSON tree.
    fn serialize_borrowed(&self, context: &RawValue) -> Option<Vec<u8>> {
        let user_properties = self.properties_json.as_deref().map(|json| parse_object(Some(json)));
        let out = EventOut {
            event_id: &self.event_id,
            user_id: &self.user_id,
            event: &self.event,
            timestamp: self.timestamp.to_text(),
            ai_data: self.ai.as_ref().filter(|ai| ai.has_content()).map(|ai| AiOut {
                model: non_empty(&ai.model),
                input: non_empty(&ai.input),
                output: non_empty(&ai.output),
                convo_id: non_empty(&ai.convo_id),
            }),
            properties: PropertiesOut { user: user_properties.as_ref(), builtins: &self.builtins, context },
            attachments: self.attachments_json.as_deref().and_then(|json| serde_json::from_str::<&RawValue>(json).ok()),
        };
        serde_json::to_vec(&out).ok()
    }

    fn to_value(&self, context: &Value, max_chars: usize, budget: Option<usize>) -> Value {
        let cap = |text: &str| Value::String(text::cap(text, max_chars).into_owned());
        let mut item = Map::new();
        item.insert("event_id".into(), cap(&self.event_id));
        item.insert("user_id".into(), cap(&self.user_id));
        item.insert("event".into(), cap(&self.event));
        item.insert("timestamp".into(), Value::String(self.timestamp.to_text()));
        if let Some(ai) = self.ai.as_ref().filter(|ai| ai.has_content()) {
            let mut ai_data = Map::new();
            for (key, field) in [
                ("model", ai.model.as_deref()),
                ("input", ai.input.as_deref()),
                ("output", ai.output.as_deref()),
                ("convo_id", ai.convo_id.as_deref()),
            ] {
                if let Some(text) = field.filter(|t| !t.is_empty()) {
                    ai_data.insert(key.into(), cap(text));
                }
            }
            item.insert("ai_data".into(), Value::Object(ai_data));
        }
        let mut properties = parse_object(self.properties_json.as_deref());
        if let Some(budget) = budget {
            let mut remaining = budget;
            let mut value = Value::Object(std::mem::take(&mut properties));
            json_bound::shrink_value(&mut value, max_chars, &mut remaining);
            if let Value::Object(map) = value {
                properties = map;
            }
        }
        for (key, tokens) in self.builtins.tokens() {
            if let Some(tokens) = tokens {
                properties.insert(key.into(), tokens.into());
            }
        }
        for (key, text) in self.builtins.texts() {
            if let Some(text) = text {
                properties.insert(key.into(), cap(text));
            }
        }
        properties.insert(CONTEXT_KEY.into(), context.clone());
        item.insert("properties".into(), Value::Object(properties));
        if let Some(attachments) = self.attachments_json.as_deref() {
            let mut value: Value = serde_json::from_str(attachments).unwrap_or(Value::Null);
            if budget.is_some() {
                // Attachments stay whole objects (the backend checks their shape): only their
                // texts get shorter.
                json_bound::cap_strings(&mut value, max_chars);
            }
            if !value.is_null() {
                item.insert("attachments".into(), value);
            }
        }
        Value::Object(item)
    }
}

#[derive(Serialize)]
struct EventOut<'a> {
    event_id: &'a str,
    user_id: &'a str,
    event: &'a str,
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ai_data: Option<AiOut<'a>>,
    properties: PropertiesOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachments: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct AiOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    convo_id: Option<&'a str>,
}

/// The caller's properties, then the library's own (which win over a caller key of the same
/// name), then `$context`.
struct PropertiesOut<'a> {
    user: Option<&'a Map<String, Value>>,
    builtins: &'a Builtins,
    context: &'a RawValue,
}

/// The property naming this library and its version (contract §5).
const CONTEXT_KEY: &str = "$context";

/// The built-in properties, each key listed once: both serialisations (the borrowed one and the
/// shrinking one) and the check that the caller's keys give way to ours use these.
impl Builtins {
    fn texts(&self) -> [(&'static str, Option<&str>); 4] {
        [
            ("dspy.finish_reason", self.finish_reason.as_deref()),
            ("dspy.module", self.module.as_deref()),
            ("error.type", self.error_type.as_deref()),
            ("error.message", self.error_message.as_deref()),
        ]
    }
    fn tokens(&self) -> [(&'static str, Option<i64>); 2] {
        [("ai.usage.prompt_tokens", self.prompt_tokens), ("ai.usage.completion_tokens", self.completion_tokens)]
    }
    fn sets(&self, key: &str) -> bool {
        key == CONTEXT_KEY
            || self.texts().iter().any(|(k, v)| *k == key && v.is_some())
            || self.tokens().iter().any(|(k, v)| *k == key && v.is_some())
    }
}

impl Serialize for PropertiesOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.user.into_iter().flatten() {
            if !self.builtins.sets(key) {
                map.serialize_entry(key, value)?;
            }
        }
        for (key, tokens) in self.builtins.tokens() {
            if let Some(tokens) = tokens {
                map.serialize_entry(key, &tokens)?;
            }
        }
        for (key, text) in self.builtins.texts() {
            if let Some(text) = text {
                map.serialize_entry(key, text)?;
            }
        }
        map.serialize_entry(CONTEXT_KEY, self.context)?;
        map.end()
    }
}

fn non_empty<T: AsRef<str>>(field: &Option<T>) -> Option<&str> {
    field.as_ref().map(AsRef::as_ref).filter(|text| !text.is_empty())
}

/// Parses a bounded JSON object (already checked on the hot path).
pub fn parse_object(json: Option<&str>) -> Map<String, Value> {
    match json.map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(map))) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(properties: Option<String>) -> Event {
        Event {
            event_id: "e".into(),
            user_id: "u".into(),
            event: "ai_generation".into(),
            timestamp: Timestamp::UnixNanos(0),
            ai: Some(AiData {
                input: Some("x".repeat(900_000).into()),
                output: Some("y".repeat(900_000).into()),
                ..Default::default()
            }),
            properties_json: properties,
            builtins: Builtins { prompt_tokens: Some(3), ..Default::default() },
            attachments_json: None,
        }
    }

    #[test]
    fn ai_event_without_input_or_output_goes_without_ai_data() {
        let mut empty = event(None);
        empty.ai = Some(AiData { model: Some("m".into()), ..Default::default() });
        let context = RawValue::from_string("null".into()).unwrap();
        let value: Value = serde_json::from_slice(&empty.to_json(&context, 100, 1 << 20).unwrap()).unwrap();
        assert!(value.get("ai_data").is_none(), "{value}");
        assert_eq!(value["properties"]["ai.usage.prompt_tokens"], 3);
    }

    #[test]
    fn oversized_event_is_shrunk_not_dropped() {
        let wide: Map<String, Value> =
            (0..20_000).map(|i| (format!("key{i}"), Value::String("v".repeat(100)))).collect();
        let props = serde_json::to_string(&wide).unwrap();
        let context = RawValue::from_string("null".into()).unwrap();
        let bytes = event(Some(props)).to_json(&context, 1_000_000, 1 << 20).unwrap();
        assert!(bytes.len() <= 1 << 20, "{}", bytes.len());
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(value["ai_data"]["input"].as_str().unwrap().ends_with(text::TRUNCATION_MARKER));
        assert_eq!(value["properties"]["ai.usage.prompt_tokens"], 3);
        assert_eq!(value["properties"]["..."], text::TRUNCATION_MARKER);
    }
}
