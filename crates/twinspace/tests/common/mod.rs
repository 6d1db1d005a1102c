//! What the end-to-end tests share: the built `twinspace serve` started on a free
//! loopback port with a temp data directory (its printed URL, first admin token
//! and MQTT addresses read from stdout), an HTTP client, and the checks for
//! external tools that CI must have.
#![allow(dead_code, reason = "each test binary uses a part of the harness")]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_twinspace");
/// How long a server may take to print `listening on` (a debug build restoring
/// a world is the slow case).
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `twinspace serve`; killed (and reaped) when dropped, so a failing
/// test never leaves a server behind.
pub(crate) struct Server {
    pub(crate) child: Child,
    /// `http://127.0.0.1:PORT` (or https).
    pub(crate) url: String,
    /// The first admin token, printed only at the first start of a store.
    pub(crate) admin: Option<String>,
    /// The embedded broker's TCP address, when it listens.
    pub(crate) mqtt: String,
    /// The embedded broker's WebSocket address, when it listens.
    pub(crate) ws: String,
}

impl Server {
    /// `twinspace serve --bind 127.0.0.1:0 --data-dir DIR EXTRA…`.
    pub(crate) fn start(data_dir: &Path, extra: &[&str]) -> Server {
        Server::start_with(data_dir, extra, &[])
    }

    /// Like `start`, with environment variables.
    pub(crate) fn start_with(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("TWINSPACE_LOG", "warn");
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the twinspace binary starts");
        // Owned by `Server` from here on, so its Drop reaps the process on any panic.
        let mut server = Server {
            child,
            url: String::new(),
            admin: None,
            mqtt: String::new(),
            ws: String::new(),
        };
        let stdout = server.child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = receiver
                .recv_timeout(left)
                .expect("the server prints 'listening on' in time");
            if let Some(token) =
                line.strip_prefix("admin token (shown only this once; store it now): ")
            {
                server.admin = Some(token.to_owned());
            }
            if let Some(address) = line.strip_prefix("mqtt listening on mqtt://") {
                server.mqtt = address.to_owned();
            }
            if let Some(address) = line.strip_prefix("mqtt over websocket listening on ws://") {
                server.ws = address.to_owned();
            }
            if let Some(url) = line.strip_prefix("listening on ") {
                // Keep draining stdout so the server never blocks on a full pipe.
                std::thread::spawn(move || while receiver.recv().is_ok() {});
                server.url = url.to_owned();
                return server;
            }
        }
    }

    /// The first admin token (the store was new).
    pub(crate) fn admin(&self) -> String {
        self.admin
            .clone()
            .expect("a first start prints an admin token")
    }

    /// Stops the server with SIGTERM and checks that it exits cleanly.
    pub(crate) fn terminate(mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be polled") {
                assert!(status.success(), "graceful shutdown exits 0, got {status}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server with SIGKILL, mid-whatever-it-does.
    pub(crate) fn kill9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client that returns every status as an answer (and accepts the
/// server's self-signed certificate in the TLS tests).
pub(crate) fn agent() -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .disable_verification(true)
        .build();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .tls_config(tls)
        .build()
        .new_agent()
}

/// One request with a JSON body (or none) on a fresh connection: the status and
/// the parsed body (`Null` when empty, a string when not JSON).
pub(crate) fn call(method: &str, url: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
    call_with(&agent(), method, url, token, body)
}

/// `call` on a given agent (its connections are reused).
pub(crate) fn call_with(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    token: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let result = match (method, body) {
        ("GET", _) => agent.get(url).header("Authorization", &auth).call(),
        ("DELETE", _) => agent.delete(url).header("Authorization", &auth).call(),
        ("PUT", Some(b)) => agent.put(url).header("Authorization", &auth).send_json(b),
        ("POST", Some(b)) => agent.post(url).header("Authorization", &auth).send_json(b),
        ("PATCH", Some(b)) => agent.patch(url).header("Authorization", &auth).send_json(b),
        other => panic!("{other:?} is not a request these tests make"),
    };
    let response = result.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().expect("a UTF-8 body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

/// Whether an external tool may be missing: only outside CI (`CI=true`), where
/// the test says so and returns; in CI a missing tool fails the test.
pub(crate) fn missing(what: &str) -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(!ci, "{what} is missing, and CI must run this test");
    eprintln!("skipping: {what} is missing (scripts/test installs it)");
    true
}

/// Whether `tool` runs.
pub(crate) fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A free TCP port on 127.0.0.1 (bound, then released for a peer to take).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
