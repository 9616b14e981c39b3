//! Argument rules, the same at every entry point: which values are required, how long each may
//! be, and what a bad one is told. The C ABI (`ffi`) only turns pointers into text and calls
//! these; the header states the same numbers (`RD_MAX_*`).

use crate::error::Error;

/// Event ids (given, or of the event a signal is about): at most this many bytes.
pub(crate) const MAX_EVENT_ID_BYTES: usize = 256;
/// User ids, convo ids and attachment ids.
pub(crate) const MAX_ID_BYTES: usize = 1024;
/// Model names, event names, module and span names, error types: cut to this many bytes.
pub(crate) const MAX_NAME_BYTES: usize = 1024;
/// Finish reasons: cut to this many bytes.
pub(crate) const MAX_FINISH_REASON_BYTES: usize = 256;

/// Empty or only whitespace. A first byte that is visible ASCII settles it without `trim`
/// (which walks the characters from both ends).
fn blank(text: &str) -> bool {
    !text.as_bytes().first().is_some_and(u8::is_ascii_graphic) && text.trim().is_empty()
}

/// An identifier is used as given or refused: never cut, never empty, no NUL (C would see a
/// shorter id than the one sent).
fn check_id(argument: &str, id: &str, max_bytes: usize) -> Result<(), Error> {
    if blank(id) {
        return Err(Error::invalid(argument, "must not be empty (pass NULL for the default)"));
    }
    if id.len() > max_bytes {
        return Err(Error::invalid(argument, format!("longer than {max_bytes} bytes")));
    }
    if id.contains('\0') {
        return Err(Error::invalid(argument, "contains a NUL byte"));
    }
    Ok(())
}

/// An optional event id: NULL means "generate one".
pub fn event_id(argument: &str, id: Option<&str>) -> Result<Option<String>, Error> {
    id.map(|id| check_id(argument, id, MAX_EVENT_ID_BYTES).map(|()| id.to_owned())).transpose()
}

/// A required event id (a signal's).
pub fn required_event_id(argument: &str, id: Option<&str>) -> Result<String, Error> {
    event_id(argument, id)?.ok_or_else(|| Error::null(argument))
}

/// An optional user, convo or attachment id: NULL means the client's default (or none).
pub fn id(argument: &str, id: Option<&str>) -> Result<Option<String>, Error> {
    id.map(|id| check_id(argument, id, MAX_ID_BYTES).map(|()| id.to_owned())).transpose()
}

/// A required user id (`rd_identify`).
pub fn required_id(argument: &str, value: Option<&str>) -> Result<String, Error> {
    id(argument, value)?.ok_or_else(|| Error::null(argument))
}

/// An optional name (model, event name, error type, finish reason): cut to `max_bytes` on a
/// character boundary; an empty one is refused when `non_empty` (a name that means "default"
/// must be NULL, not "").
fn name<'a>(
    argument: &str,
    name: Option<&'a str>,
    max_bytes: usize,
    non_empty: bool,
) -> Result<Option<&'a str>, Error> {
    match name {
        Some(name) if non_empty && blank(name) => {
            Err(Error::invalid(argument, "must not be empty (pass NULL for the default)"))
        }
        Some(name) => Ok(Some(cut(name, max_bytes))),
        None => Ok(None),
    }
}

/// An optional event name: cut to MAX_NAME_BYTES; an empty one is refused (NULL means the
/// client's default).
pub fn event_name(argument: &str, value: Option<&str>) -> Result<Option<String>, Error> {
    Ok(name(argument, value, MAX_NAME_BYTES, true)?.map(str::to_owned))
}

/// An optional model name or error type: cut to MAX_NAME_BYTES. As a `String` or a `Name`.
pub fn label<T: for<'a> From<&'a str>>(argument: &str, value: Option<&str>) -> Result<Option<T>, Error> {
    Ok(name(argument, value, MAX_NAME_BYTES, false)?.map(T::from))
}

/// An optional finish reason: cut to MAX_FINISH_REASON_BYTES.
pub fn finish_reason(argument: &str, value: Option<&str>) -> Result<Option<String>, Error> {
    Ok(name(argument, value, MAX_FINISH_REASON_BYTES, false)?.map(str::to_owned))
}

/// A required, non-empty name (a module, span or signal name). As a `String` or a `Name`.
pub fn required_name<T: for<'a> From<&'a str>>(argument: &str, value: Option<&str>) -> Result<T, Error> {
    match name(argument, value, MAX_NAME_BYTES, true)? {
        Some(name) => Ok(T::from(name)),
        None => Err(Error::null(argument)),
    }
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a character boundary.
fn cut(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_refused_not_cut() {
        assert_eq!(event_id("e", Some(&"x".repeat(256))).unwrap().unwrap().len(), 256);
        assert!(event_id("e", Some(&"x".repeat(257))).unwrap_err().message.contains("256 bytes"));
        assert!(event_id("e", Some("a\0b")).unwrap_err().message.contains("NUL"));
        assert!(event_id("e", Some(" ")).is_err());
        assert_eq!(event_id("e", None).unwrap(), None);
        assert!(id("user_id", Some(&"u".repeat(1025))).is_err());
        assert!(required_event_id("signal.event_id", None).unwrap_err().message.contains("signal.event_id"));
    }

    #[test]
    fn names_are_cut_on_a_character_boundary() {
        let long = "é".repeat(600); // 1,200 bytes
        let cut = name("model", Some(&long), MAX_NAME_BYTES, false).unwrap().unwrap();
        assert_eq!(cut.len(), 1024);
        assert!(name("event", Some(""), MAX_NAME_BYTES, true).is_err());
        assert_eq!(name("model", Some(""), MAX_NAME_BYTES, false).unwrap(), Some(""));
        assert!(required_name::<String>("module_name", Some(" ")).is_err());
        assert!(required_name::<String>("module_name", Some("\u{3000}\t")).is_err());
        assert!(required_name::<String>("module_name", Some(" x")).is_ok());
        assert!(required_name::<String>("module_name", None).unwrap_err().message.contains("module_name"));
    }
}
