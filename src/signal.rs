//! Signals for `signals/track`: user feedback attached to an event.

use crate::error::{Error, ErrorKind};
use crate::event::parse_object;
use crate::text;
use crate::time::Timestamp;
use serde_json::{Map, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalType {
    Default,
    Feedback,
    Edit,
}

impl SignalType {
    pub fn parse(text: Option<&str>) -> Result<Self, Error> {
        match text {
            None | Some("default") => Ok(SignalType::Default),
            Some("feedback") => Ok(SignalType::Feedback),
            Some("edit") => Ok(SignalType::Edit),
            Some(other) => Err(Error::new(
                ErrorKind::InvalidSignalType,
                format!("signal_type must be default, feedback or edit, got {:?}", text::cap(other, 64)),
            )),
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            SignalType::Default => "default",
            SignalType::Feedback => "feedback",
            SignalType::Edit => "edit",
        }
    }
}

pub fn parse_sentiment(text: Option<&str>) -> Result<Option<&'static str>, Error> {
    match text {
        None => Ok(None),
        Some("POSITIVE") => Ok(Some("POSITIVE")),
        Some("NEGATIVE") => Ok(Some("NEGATIVE")),
        Some(other) => Err(Error::new(
            ErrorKind::InvalidSentiment,
            format!("sentiment must be POSITIVE or NEGATIVE, got {:?}", text::cap(other, 64)),
        )),
    }
}

#[derive(Clone, Debug)]
pub struct Signal {
    pub event_id: String,
    pub name: String,
    pub signal_type: SignalType,
    pub timestamp: Timestamp,
    pub sentiment: Option<&'static str>,
    pub attachment_id: Option<String>,
    /// A bounded JSON object from the caller.
    pub properties_json: Option<String>,
    pub comment: Option<String>,
    pub after: Option<String>,
}

impl Signal {
    /// Checks the rules the backend enforces, so a bad signal fails on the call, not silently later.
    pub fn validate(&self) -> Result<(), Error> {
        if self.event_id.trim().is_empty() {
            return Err(Error::invalid("event_id", "must not be empty"));
        }
        if self.name.trim().is_empty() {
            return Err(Error::invalid("name", "must not be empty"));
        }
        let properties = parse_object(self.properties_json.as_deref());
        let has = |field: &Option<String>, key: &str| {
            field.as_deref().is_some_and(|v| !v.is_empty())
                || properties.get(key).and_then(Value::as_str).is_some_and(|v| !v.is_empty())
        };
        if self.signal_type == SignalType::Feedback && !has(&self.comment, "comment") {
            return Err(Error::invalid("comment", "a feedback signal needs a non-empty comment"));
        }
        if self.signal_type == SignalType::Edit && !has(&self.after, "after") {
            return Err(Error::invalid("after", "an edit signal needs a non-empty after"));
        }
        Ok(())
    }

    pub fn approx_bytes(&self) -> usize {
        128 + self.event_id.len()
            + self.name.len()
            + self.properties_json.as_ref().map_or(0, String::len)
            + self.comment.as_ref().map_or(0, String::len)
            + self.after.as_ref().map_or(0, String::len)
    }

    /// None when it cannot be serialised (the sender counts it in `dropped_invalid`).
    pub fn to_json(&self, max_chars: usize) -> Option<Vec<u8>> {
        let cap = |text: &str| Value::String(text::cap(text, max_chars).into_owned());
        let mut properties = parse_object(self.properties_json.as_deref());
        if let Some(comment) = &self.comment {
            properties.insert("comment".into(), cap(comment));
        }
        if let Some(after) = &self.after {
            properties.insert("after".into(), cap(after));
        }
        let mut item = Map::new();
        item.insert("event_id".into(), cap(&self.event_id));
        item.insert("signal_name".into(), cap(&self.name));
        item.insert("signal_type".into(), self.signal_type.as_str().into());
        item.insert("timestamp".into(), self.timestamp.to_text().into());
        if let Some(sentiment) = self.sentiment {
            item.insert("sentiment".into(), sentiment.into());
        }
        if let Some(id) = self.attachment_id.as_deref().filter(|id| !id.is_empty()) {
            item.insert("attachment_id".into(), cap(id));
        }
        item.insert("properties".into(), Value::Object(properties));
        serde_json::to_vec(&Value::Object(item)).ok()
    }
}
