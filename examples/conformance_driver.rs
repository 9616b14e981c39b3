//! Conformance driver, protocol 1 (raindrop-wire.md §7.1), speaking to the library only through
//! its C ABI. `--describe` prints the handshake; otherwise stdin is a JSON array of steps.
//!
//!     cargo run --release --example conformance_driver -- --describe
//!     echo '[{"init":{}},{"track":{"user_id":"u","event":"e"}},{"close":{}}]' | \
//!       RAINDROP_SINK_URL=http://127.0.0.1:8787 RAINDROP_WRITE_KEY=k \
//!       cargo run --release --example conformance_driver

use raindrop_dspy::*;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::ffi::{c_char, CStr};
use std::io::Read;
use std::process::ExitCode;
use std::ptr;
use std::time::Instant;

const DRIVER_VERSION: &str = "1.0.0";

/// A step's arguments, read one level deep: each value stays raw JSON text, so arguments nested
/// to any depth reach the core unchanged (a `Value` tree would hit serde_json's recursion limit
/// at 128 levels, and the core's own reader has none).
type Args = BTreeMap<String, Box<RawValue>>;

/// One level of an object or array, or None when `raw` is not one.
fn object(raw: &RawValue) -> Option<Args> {
    serde_json::from_str(raw.get()).ok()
}
fn array(raw: &RawValue) -> Option<Vec<Box<RawValue>>> {
    serde_json::from_str(raw.get()).ok()
}
fn to_raw(value: &impl serde::Serialize) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).expect("one level of raw values serialises")
}

/// The argument `key`, absent when missing or JSON null.
fn get<'a>(args: &'a Args, key: &str) -> Option<&'a RawValue> {
    args.get(key).map(|raw| &**raw).filter(|raw| raw.get() != "null")
}

fn describe() -> Value {
    json!({
        "sdk_name": "raindrop-dspy",
        "sdk_version": env!("CARGO_PKG_VERSION"),
        "driver_version": DRIVER_VERSION,
        "protocol": 1,
        "capabilities": ["events.track", "events.track_ai", "identify", "signal"],
        "not_applicable": ["events.track_partial", "events.track_ai_partial"],
        "not_applicable_reasons": {
            "events.track_partial": "complete events only: begin/patch/finish run as one wrapped call and land once on events/track",
            "events.track_ai_partial": "track_ai is delivered on the batched events/track route, never track_partial"
        }
    })
}

enum StepError {
    Unsupported(String),
    Failed(String),
}

fn failed(message: impl Into<String>) -> StepError {
    StepError::Failed(message.into())
}

/// Owned strings kept alive while the C structs point into them.
#[derive(Default)]
struct Strings(Vec<Vec<u8>>);

impl Strings {
    /// An optional string argument: (pointer, length), NULL when absent or JSON null.
    fn arg(&mut self, args: &Args, key: &str) -> Result<(*const c_char, usize), StepError> {
        match get(args, key) {
            None => Ok((ptr::null(), 0)),
            Some(raw) => match serde_json::from_str::<String>(raw.get()) {
                Ok(s) => Ok(self.keep(s.into_bytes())),
                Err(_) => Err(failed(format!("{key} must be a string"))),
            },
        }
    }
    fn required(&mut self, args: &Args, key: &str) -> Result<(*const c_char, usize), StepError> {
        match get(args, key).map(|raw| serde_json::from_str::<String>(raw.get())) {
            Some(Ok(s)) => Ok(self.keep(s.into_bytes())),
            _ => Err(failed(format!("{key} is required and must be a string"))),
        }
    }
    /// An optional JSON argument (object or array), passed on as its JSON text.
    fn json(&mut self, args: &Args, key: &str) -> (*const c_char, usize) {
        match get(args, key) {
            None => (ptr::null(), 0),
            Some(raw) => self.keep(raw.get().as_bytes().to_vec()),
        }
    }
    fn text(&mut self, text: &str) -> (*const c_char, usize) {
        self.keep(text.as_bytes().to_vec())
    }
    fn keep(&mut self, bytes: Vec<u8>) -> (*const c_char, usize) {
        self.0.push(bytes);
        let last = self.0.last().map(|b| (b.as_ptr().cast::<c_char>(), b.len()));
        last.unwrap_or((ptr::null(), 0))
    }
}

fn new_error() -> rd_error {
    rd_error { code: rd_result::RD_OK, message: [0; RD_ERROR_MESSAGE_LEN] }
}

fn check(code: rd_result, err: &rd_error, what: &str) -> Result<(), StepError> {
    if code == rd_result::RD_OK {
        return Ok(());
    }
    // Safety: the library wrote a NUL-terminated message into err on failure.
    let message = unsafe { CStr::from_ptr(err.message.as_ptr()) }.to_string_lossy();
    Err(failed(format!("{what}: {code:?}: {message}")))
}

/// The open interaction of begin / patch / finish: one wrapped call, fields merged until finish.
struct Interaction {
    call: rd_call,
    fields: Args,
}

struct Driver {
    client: Option<rd_client>,
    open: Option<Interaction>,
}

fn empty_event() -> rd_event {
    rd_event {
        event_id: ptr::null(),
        event_id_len: 0,
        user_id: ptr::null(),
        user_id_len: 0,
        event: ptr::null(),
        event_len: 0,
        timestamp: ptr::null(),
        timestamp_len: 0,
        input: ptr::null(),
        input_len: 0,
        output: ptr::null(),
        output_len: 0,
        model: ptr::null(),
        model_len: 0,
        convo_id: ptr::null(),
        convo_id_len: 0,
        properties_json: ptr::null(),
        properties_json_len: 0,
        attachments_json: ptr::null(),
        attachments_json_len: 0,
    }
}

fn empty_options() -> rd_call_options {
    rd_call_options {
        event_id: ptr::null(),
        event_id_len: 0,
        user_id: ptr::null(),
        user_id_len: 0,
        convo_id: ptr::null(),
        convo_id_len: 0,
        event_name: ptr::null(),
        event_name_len: 0,
    }
}

fn empty_result() -> rd_call_result {
    rd_call_result {
        output: ptr::null(),
        output_len: 0,
        model: ptr::null(),
        model_len: 0,
        prompt_tokens: RD_TOKENS_UNKNOWN,
        completion_tokens: RD_TOKENS_UNKNOWN,
        finish_reason: ptr::null(),
        finish_reason_len: 0,
        error_type: ptr::null(),
        error_type_len: 0,
        error_message: ptr::null(),
        error_message_len: 0,
        properties_json: ptr::null(),
        properties_json_len: 0,
        user_id: ptr::null(),
        user_id_len: 0,
        convo_id: ptr::null(),
        convo_id_len: 0,
        event_name: ptr::null(),
        event_name_len: 0,
        timestamp: ptr::null(),
        timestamp_len: 0,
        attachments_json: ptr::null(),
        attachments_json_len: 0,
    }
}

impl Driver {
    fn client(&self) -> Result<rd_client, StepError> {
        self.client.ok_or_else(|| failed("step before init"))
    }

    fn init(&mut self) -> Result<(), StepError> {
        if self.client.is_some() {
            return Err(failed("init twice"));
        }
        let sink = std::env::var("RAINDROP_SINK_URL").map_err(|_| failed("RAINDROP_SINK_URL is required"))?;
        let key = std::env::var("RAINDROP_WRITE_KEY").unwrap_or_default();
        if key.trim().is_empty() {
            return Err(failed("RAINDROP_WRITE_KEY is required (an empty key builds a disabled client)"));
        }
        // The drivers never mirror to a local Workshop (raindrop-wire.md §7).
        let mut config = json!({"api_key": key, "endpoint": format!("{}/v1/", sink.trim_end_matches('/')), "local_workshop_url": false});
        if let Ok(project) = std::env::var("RAINDROP_PROJECT_ID") {
            config["project_id"] = Value::String(project);
        }
        let text = config.to_string();
        let mut client = rd_client::default();
        let mut err = new_error();
        // Safety: every pointer is valid for the call.
        let code = unsafe { rd_new(text.as_ptr().cast(), text.len(), ptr::null(), &mut client, &mut err) };
        check(code, &err, "rd_new")?;
        self.client = Some(client);
        Ok(())
    }

    fn track(&mut self, args: &Args, ai: bool) -> Result<(), StepError> {
        let client = self.client()?;
        let mut s = Strings::default();
        let mut event = empty_event();
        (event.event_id, event.event_id_len) = s.arg(args, "event_id")?;
        (event.user_id, event.user_id_len) = s.required(args, "user_id")?;
        (event.event, event.event_len) = s.required(args, "event")?;
        (event.timestamp, event.timestamp_len) = s.arg(args, "timestamp")?;
        (event.properties_json, event.properties_json_len) = s.json(args, "properties");
        (event.attachments_json, event.attachments_json_len) = s.json(args, "attachments");
        if ai {
            (event.input, event.input_len) = s.arg(args, "input")?;
            (event.output, event.output_len) = s.arg(args, "output")?;
            (event.model, event.model_len) = s.arg(args, "model")?;
            (event.convo_id, event.convo_id_len) = s.arg(args, "convo_id")?;
        }
        let mut err = new_error();
        // Safety: event's pointers live in `s` until the end of this function.
        let code = unsafe {
            if ai {
                rd_track_ai(client, &event, ptr::null_mut(), 0, &mut err)
            } else {
                rd_track(client, &event, ptr::null_mut(), 0, &mut err)
            }
        };
        check(code, &err, if ai { "rd_track_ai" } else { "rd_track" })
    }

    fn begin(&mut self, args: &Args) -> Result<(), StepError> {
        let client = self.client()?;
        if self.open.is_some() {
            return Err(failed("begin while an interaction is open"));
        }
        let mut s = Strings::default();
        s.required(args, "user_id")?;
        s.required(args, "event")?;
        let (input, input_len) = s.arg(args, "input")?;
        let (event_id, event_id_len) = s.arg(args, "event_id")?;
        let options = rd_call_options { event_id, event_id_len, ..empty_options() };
        let (name, name_len) = s.text("conformance");
        let mut call = rd_call::default();
        let mut err = new_error();
        // Safety: pointers live in `s` for the call.
        let code = unsafe {
            rd_wrap_begin(
                client,
                rd_call::default(),
                name,
                name_len,
                input,
                input_len,
                &options,
                &mut call,
                ptr::null_mut(),
                0,
                &mut err,
            )
        };
        check(code, &err, "rd_wrap_begin")?;
        let mut interaction = Interaction { call, fields: Args::new() };
        merge(&mut interaction.fields, args);
        self.open = Some(interaction);
        Ok(())
    }

    fn patch(&mut self, args: &Args) -> Result<(), StepError> {
        self.client()?;
        let open = self.open.as_mut().ok_or_else(|| failed("patch without an open interaction"))?;
        merge(&mut open.fields, args);
        Ok(())
    }

    fn finish(&mut self, args: &Args) -> Result<(), StepError> {
        let client = self.client()?;
        let mut open = self.open.take().ok_or_else(|| failed("finish without an open interaction"))?;
        merge(&mut open.fields, args);
        let fields = open.fields;
        let mut s = Strings::default();
        let mut result = empty_result();
        (result.output, result.output_len) = s.arg(&fields, "output")?;
        (result.model, result.model_len) = s.arg(&fields, "model")?;
        (result.user_id, result.user_id_len) = s.arg(&fields, "user_id")?;
        (result.convo_id, result.convo_id_len) = s.arg(&fields, "convo_id")?;
        (result.event_name, result.event_name_len) = s.arg(&fields, "event")?;
        (result.timestamp, result.timestamp_len) = s.arg(&fields, "timestamp")?;
        (result.properties_json, result.properties_json_len) = s.json(&fields, "properties");
        (result.attachments_json, result.attachments_json_len) = s.json(&fields, "attachments");
        let mut err = new_error();
        // Safety: result's pointers live in `s` for the call.
        let code = unsafe { rd_wrap_end(client, open.call, &result, &mut err) };
        check(code, &err, "rd_wrap_end")
    }

    fn identify(&mut self, args: &Args) -> Result<(), StepError> {
        let client = self.client()?;
        let mut s = Strings::default();
        let (user, user_len) = s.required(args, "user_id")?;
        let (traits, traits_len) = s.json(args, "traits");
        let mut err = new_error();
        // Safety: pointers live in `s` for the call.
        let code = unsafe { rd_identify(client, user, user_len, traits, traits_len, &mut err) };
        check(code, &err, "rd_identify")
    }

    fn signal(&mut self, args: &Args) -> Result<(), StepError> {
        let client = self.client()?;
        let mut s = Strings::default();
        let (event_id, event_id_len) = s.required(args, "event_id")?;
        let (name, name_len) = s.required(args, "name")?;
        let (signal_type, signal_type_len) = s.arg(args, "signal_type")?;
        let (sentiment, sentiment_len) = s.arg(args, "sentiment")?;
        let (timestamp, timestamp_len) = s.arg(args, "timestamp")?;
        let (properties_json, properties_json_len) = s.json(args, "properties");
        let (attachment_id, attachment_id_len) = s.arg(args, "attachment_id")?;
        let (comment, comment_len) = s.arg(args, "comment")?;
        let (after, after_len) = s.arg(args, "after")?;
        let signal = rd_signal {
            event_id,
            event_id_len,
            name,
            name_len,
            signal_type,
            signal_type_len,
            timestamp,
            timestamp_len,
            properties_json,
            properties_json_len,
            attachment_id,
            attachment_id_len,
            comment,
            comment_len,
            after,
            after_len,
            sentiment,
            sentiment_len,
        };
        let mut err = new_error();
        // Safety: signal's pointers live in `s` for the call.
        let code = unsafe { rd_track_signal(client, &signal, &mut err) };
        check(code, &err, "rd_track_signal")
    }

    fn flush(&mut self) -> Result<(), StepError> {
        let client = self.client()?;
        let mut err = new_error();
        // Safety: err is valid for the call.
        check(unsafe { rd_flush(client, RD_TIMEOUT_DEFAULT, &mut err) }, &err, "rd_flush")
    }

    fn close(&mut self) -> Result<(), StepError> {
        let client = self.client()?;
        let mut err = new_error();
        // Safety: err is valid for the call.
        let code = unsafe { rd_shutdown(client, RD_TIMEOUT_DEFAULT, ptr::null_mut(), &mut err) };
        // A shutdown that hit its deadline or dropped items still returned in time: the step succeeds.
        if code == rd_result::RD_ERR_TIMEOUT || code == rd_result::RD_ERR_ITEMS_DROPPED {
            eprintln!("close: undelivered items dropped at shutdown");
            return Ok(());
        }
        check(code, &err, "rd_shutdown")
    }

    fn run(&mut self, name: &str, args: &Args) -> Result<(), StepError> {
        match name {
            "init" => self.init(),
            "track" => self.track(args, false),
            "track_ai" => self.track(args, true),
            "begin" => self.begin(args),
            "patch" => self.patch(args),
            "finish" => self.finish(args),
            "identify" => self.identify(args),
            "signal" => self.signal(args),
            "flush" => self.flush(),
            "close" => self.close(),
            other => Err(StepError::Unsupported(other.to_string())),
        }
    }
}

/// Merges an interaction's step arguments: properties merge key by key, attachments append,
/// other non-null fields replace.
fn merge(fields: &mut Args, args: &Args) {
    for (key, value) in args {
        if key == "max_ms" || value.get() == "null" {
            continue;
        }
        let existing = fields.get(key.as_str());
        let merged = match key.as_str() {
            "properties" => object(value).map(|new| {
                let mut all = existing.and_then(|raw| object(raw)).unwrap_or_default();
                all.extend(new);
                to_raw(&all)
            }),
            "attachments" => array(value).map(|new| {
                let mut all = existing.and_then(|raw| array(raw)).unwrap_or_default();
                all.extend(new);
                to_raw(&all)
            }),
            _ => None,
        };
        fields.insert(key.clone(), merged.unwrap_or_else(|| value.clone()));
    }
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--describe") {
        println!("{}", describe());
        return ExitCode::SUCCESS;
    }
    let mut input = String::new();
    if let Err(error) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("cannot read stdin: {error}");
        return ExitCode::from(1);
    }
    let steps: Vec<Box<RawValue>> = match serde_json::from_str::<Box<RawValue>>(&input) {
        Ok(raw) => match array(&raw) {
            Some(steps) => steps,
            None => {
                eprintln!("stdin must be a JSON array of steps");
                return ExitCode::from(1);
            }
        },
        Err(error) => {
            eprintln!("stdin is not JSON: {error}");
            return ExitCode::from(1);
        }
    };
    let mut driver = Driver { client: None, open: None };
    for (index, step) in steps.iter().enumerate() {
        let Some((name, args)) = object(step).filter(|o| o.len() == 1).and_then(|o| o.into_iter().next()) else {
            eprintln!("step {index} is not a single-key object");
            return ExitCode::from(1);
        };
        // Arguments that are not an object (`{"flush": null}`) mean none.
        let args = object(&args).unwrap_or_default();
        let name = name.as_str();
        let args = &args;
        let started = Instant::now();
        match driver.run(name, args) {
            Ok(()) => println!("{}", json!({"step": index, "ms": started.elapsed().as_secs_f64() * 1000.0})),
            Err(StepError::Unsupported(step)) => {
                println!("unsupported:{step}");
                return ExitCode::from(3);
            }
            Err(StepError::Failed(message)) => {
                eprintln!("step {index} ({name}) failed: {message}");
                return ExitCode::from(1);
            }
        }
    }
    if driver.open.is_some() {
        eprintln!("an interaction is still open at the end");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
