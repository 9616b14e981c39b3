//! The loopback test sink as a program, for the Python, Go and C++ tests (and by hand): the
//! server of `tests/support/sink.rs`, on 127.0.0.1.
//!
//!   target/release/examples/sink [--port N] [--port-file PATH] [--dump PATH] [--exit-on-eof]
//!
//! Prints its base URL (`http://127.0.0.1:PORT/v1/`) on stdout, writes the port to the port file
//! (whole, by rename), appends each request to the dump file as one JSON line, and runs until
//! killed (or, with --exit-on-eof, until its standard input closes: a test harness that dies
//! takes its sink with it). Scripted replies through `POST /_sink/...`: tests/README.md.

#[path = "../tests/support/sink.rs"]
mod sink;

use std::io::{Read, Write};
use std::path::PathBuf;

fn main() {
    let mut port = 0u16;
    let mut port_file: Option<PathBuf> = None;
    let mut dump: Option<PathBuf> = None;
    let mut exit_on_eof = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().unwrap_or_else(|| usage(&format!("{name} needs a value")));
        match a.as_str() {
            "--port" => port = value("--port").parse().unwrap_or_else(|_| usage("--port: a port number")),
            "--port-file" => port_file = Some(value("--port-file").into()),
            "--dump" => dump = Some(value("--dump").into()),
            "--exit-on-eof" => exit_on_eof = true,
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let server = sink::Sink::start_on(port, dump, false).unwrap_or_else(|e| {
        eprintln!("sink: {e}");
        std::process::exit(1)
    });
    if let Some(p) = port_file {
        let tmp = p.with_extension("tmp");
        std::fs::write(&tmp, format!("{}\n", server.port())).and_then(|()| std::fs::rename(&tmp, &p)).unwrap_or_else(
            |e| {
                eprintln!("sink: port file {}: {e}", p.display());
                std::process::exit(1)
            },
        );
    }
    println!("{}", server.url());
    let _ = std::io::stdout().flush();
    if exit_on_eof {
        let mut buf = [0u8; 256];
        while !matches!(std::io::stdin().read(&mut buf), Ok(0) | Err(_)) {}
        std::process::exit(0);
    }
    loop {
        std::thread::park();
    }
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("sink: {problem}");
    }
    eprintln!("usage: sink [--port N] [--port-file PATH] [--dump PATH] [--exit-on-eof]");
    std::process::exit(2)
}
