//! User traits for `users/identify`.

use crate::event::parse_object;
use crate::text;
use serde_json::{json, Value};

#[derive(Clone, Debug)]
pub struct Identify {
    pub user_id: String,
    /// A bounded JSON object from the caller.
    pub traits_json: Option<String>,
}

impl Identify {
    pub fn approx_bytes(&self) -> usize {
        64 + self.user_id.len() + self.traits_json.as_ref().map_or(0, String::len)
    }

    /// None when it cannot be serialised (the sender counts it in `dropped_invalid`).
    pub fn to_json(&self, max_chars: usize) -> Option<Vec<u8>> {
        let traits = Value::Object(parse_object(self.traits_json.as_deref()));
        serde_json::to_vec(&json!({"user_id": text::cap(&self.user_id, max_chars), "traits": traits})).ok()
    }
}
