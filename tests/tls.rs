//! TLS roots (issue 13 #12): a private CA is trusted through `ca_file` or `SSL_CERT_FILE`, never
//! by default, and a bad bundle is refused at `rd_new`. Real HTTPS on loopback: certificates made
//! by the `openssl` CLI, served by Python's `ssl` module.

use raindrop_dspy::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl").args(args).current_dir(dir).stderr(Stdio::null()).status().expect("openssl");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA and a server certificate for 127.0.0.1 signed by it.
fn make_certificates() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rd-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=raindrop test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    );
    openssl(
        &dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    dir
}

const SERVER: &str = r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
        print("POST " + self.path, flush=True)
    def log_message(self, *a): pass
server = http.server.HTTPServer(("127.0.0.1", 0), H)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// The HTTPS server, its port, and the lines it prints (one per POST received).
fn start_server(dir: &Path) -> (Child, u16, mpsc::Receiver<String>) {
    let mut child = Command::new("python3")
        .args(["-c", SERVER])
        .arg(dir.join("server.pem"))
        .arg(dir.join("server.key"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let (tx, rx) = mpsc::channel();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port: u16 = lines.next().unwrap().unwrap().trim().parse().unwrap();
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(|line| drop(tx.send(line))));
    (child, port, rx)
}

fn new_error() -> rd_error {
    rd_error { code: rd_result::RD_OK, message: [0; RD_ERROR_MESSAGE_LEN] }
}

fn new_client(config: &str) -> Result<rd_client, String> {
    let mut client = rd_client::default();
    let mut err = new_error();
    // Safety: the config is borrowed for the call.
    let code = unsafe { rd_new(config.as_ptr().cast(), config.len(), std::ptr::null(), &mut client, &mut err) };
    if code == rd_result::RD_OK {
        return Ok(client);
    }
    Err(unsafe { std::ffi::CStr::from_ptr(err.message.as_ptr()) }.to_string_lossy().into_owned())
}

/// Sends one event and waits for its final state; true when the server received it.
fn delivered(config: &str, received: &mpsc::Receiver<String>) -> bool {
    while received.try_recv().is_ok() {}
    let client = new_client(config).expect("rd_new");
    let mut event: rd_event = unsafe { std::mem::zeroed() };
    event.user_id = c"u".as_ptr();
    event.user_id_len = 1;
    event.input = c"q".as_ptr();
    event.input_len = 1;
    let mut err = new_error();
    // Safety: the event's pointers are static.
    assert_eq!(unsafe { rd_track_ai(client, &event, std::ptr::null_mut(), 0, &mut err) }, rd_result::RD_OK);
    let mut stats: rd_stats = unsafe { std::mem::zeroed() };
    unsafe { rd_flush(client, 10_000, &mut err) };
    // Safety: stats and err are valid for the call.
    unsafe { rd_get_stats(client, &mut stats, &mut err) };
    unsafe { rd_shutdown(client, 1_000, std::ptr::null_mut(), &mut err) };
    let got = received.recv_timeout(Duration::from_millis(200)).is_ok();
    assert_eq!(got, stats.delivered == 1, "stats agree with the server");
    got
}

#[test]
fn private_ca_trusted_only_through_ca_file_or_ssl_cert_file() {
    let dir = make_certificates();
    let (mut server, port, received) = start_server(&dir);
    let ca = dir.join("ca.pem").display().to_string();
    let base = format!(
        r#""api_key": "k", "endpoint": "https://127.0.0.1:{port}/v1/", "retry_budget_ms": 300, "retry_initial_backoff_ms": 50"#
    );
    std::env::remove_var("SSL_CERT_FILE");
    // Default roots (Mozilla) and the platform's: the private CA is not trusted.
    assert!(!delivered(&format!("{{{base}}}"), &received), "self-signed CA refused by default");
    assert!(!delivered(&format!(r#"{{{base}, "tls_roots": "platform"}}"#), &received), "not in the platform roots");
    // ca_file trusts it.
    assert!(delivered(&format!(r#"{{{base}, "ca_file": {ca:?}}}"#), &received), "ca_file");
    // So does SSL_CERT_FILE, when ca_file is not given.
    std::env::set_var("SSL_CERT_FILE", &ca);
    assert!(delivered(&format!("{{{base}}}"), &received), "SSL_CERT_FILE");
    std::env::remove_var("SSL_CERT_FILE");
    // A bundle that cannot be read, or holds no certificate, is refused at rd_new.
    let missing = new_client(&format!(r#"{{{base}, "ca_file": "/nonexistent/ca.pem"}}"#)).unwrap_err();
    assert!(missing.contains("ca_file") && !missing.contains("nonexistent"), "{missing}");
    let key = dir.join("server.key").display().to_string();
    let no_cert = new_client(&format!(r#"{{{base}, "ca_file": {key:?}}}"#)).unwrap_err();
    assert!(no_cert.contains("ca_file"), "{no_cert}");
    assert!(new_client(&format!(r#"{{{base}, "tls_roots": "none"}}"#)).unwrap_err().contains("tls_roots"));
    server.kill().ok();
    server.wait().ok();
    std::fs::remove_dir_all(&dir).ok();
}
