//! End-to-end tests of live worlds against the built `twinspace` binary, with the
//! Rust client (`twinspace-client`) over real WebSockets: a REST patch reaches
//! subscribers within a tick or two; region and filter enter/leave; resume after a
//! reconnect; a client that never reads is disconnected while another keeps its
//! latency; presence of two seen by a third; a viewer cannot patch; malformed,
//! oversized and text frames close only their own connection with a clear code.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use twinspace_client::{
    Client, ClientError, Event, SubscribeExt, View, proto, sphere, subscription,
};

const BIN: &str = env!("CARGO_BIN_EXE_twinspace");
/// How long a server may take to print `listening on`.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a test waits for an expected event before failing.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);
const MODEL: &str = "dtmi:live:Machine;1";

struct Server {
    child: Child,
    url: String,
    ws: String,
    admin: String,
}

impl Server {
    /// Starts the binary with `[limits]` lines added to a config file.
    fn start(dir: &Path, limits: &str) -> Server {
        let config = dir.join("twinspace.toml");
        let mut file = std::fs::File::create(&config).unwrap();
        writeln!(file, "[limits]\n{limits}").unwrap();
        let child = Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join("data"))
            .arg("--config")
            .arg(&config)
            .env("TWINSPACE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the twinspace binary starts");
        let mut server = Server {
            child,
            url: String::new(),
            ws: String::new(),
            admin: String::new(),
        };
        let stdout = server.child.stdout.take().unwrap();
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
                server.admin = token.to_owned();
            }
            if let Some(url) = line.strip_prefix("listening on ") {
                std::thread::spawn(move || while receiver.recv().is_ok() {});
                server.url = url.to_owned();
                server.ws = format!("{}/live", url.replacen("http://", "ws://", 1));
                return server;
            }
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        let url = format!("{}{path}", self.url);
        let auth = format!("Bearer {}", self.admin);
        let response = match (method, body) {
            ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
            ("PUT", Some(body)) => agent
                .put(&url)
                .header("Authorization", &auth)
                .send_json(body),
            ("POST", Some(body)) => agent
                .post(&url)
                .header("Authorization", &auth)
                .send_json(body),
            ("PATCH", Some(body)) => agent
                .patch(&url)
                .header("Authorization", &auth)
                .send_json(body),
            other => panic!("{other:?}"),
        }
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let text = response.into_body().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Uploads the model and creates `twins` (id, temperature, position).
    fn populate(&self, twins: &[(&str, f64, [f64; 3])]) {
        let model = json!([{
            "@id": MODEL, "@type": "Interface", "@context": "dtmi:dtdl:context;3",
            "contents": [
                { "@type": "Property", "name": "temperature", "schema": "double", "writable": true },
                { "@type": "Property", "name": "label", "schema": "string", "writable": true }
            ]
        }]);
        assert_eq!(self.call("POST", "/models", Some(&model)).0, 201);
        for (id, temperature, position) in twins {
            self.put(id, *temperature, *position, "");
        }
    }

    fn put(&self, id: &str, temperature: f64, position: [f64; 3], label: &str) {
        let body = json!({
            "$metadata": { "$model": MODEL }, "temperature": temperature, "label": label,
            "$placement": { "position": position }
        });
        let (status, answer) = self.call("PUT", &format!("/digitaltwins/{id}"), Some(&body));
        assert_eq!(status, 200, "{answer}");
    }

    fn patch(&self, id: &str, path: &str, value: Value) {
        let patch = json!([{ "op": "replace", "path": path, "value": value }]);
        let (status, answer) = self.call("PATCH", &format!("/digitaltwins/{id}"), Some(&patch));
        assert_eq!(status, 204, "{answer}");
    }

    fn token(&self, role: &str) -> String {
        let (status, answer) = self.call(
            "POST",
            "/tokens",
            Some(&json!({ "role": role, "world": "default", "label": role })),
        );
        assert_eq!(status, 201, "{answer}");
        answer["token"].as_str().unwrap().to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads ticks into `view` until `done` holds; fails after `EVENT_TIMEOUT`.
async fn until(client: &mut Client, view: &mut View, done: impl Fn(&View) -> bool) {
    let deadline = Instant::now() + EVENT_TIMEOUT;
    while !done(view) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, client.next()).await {
            Ok(Ok(Event::Tick { seq, tick })) => view.apply(seq, &tick),
            Ok(Err(error)) => panic!("the connection failed while waiting: {error}"),
            Err(_) => panic!("timed out; the view is {view:#?}"),
        }
    }
}

fn temperature(view: &View, sub: u32, twin: &str) -> Option<f64> {
    view.of(sub).get(twin)?.fields.get("temperature")?.as_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_patch_reaches_subscribers_within_a_tick_or_two() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "live_tick_hz = 20");
    server.populate(&[("m1", 20.0, [0.0, 0.0, 0.0]), ("m2", 30.0, [5.0, 0.0, 0.0])]);
    let mut client = Client::connect(&server.ws, &server.admin, "", "")
        .await
        .unwrap();
    assert_eq!(client.welcome().tick_hz, 20);
    assert_eq!(client.welcome().role, "admin");
    client.subscribe(subscription(1)).await.unwrap();
    let mut view = View::default();
    until(&mut client, &mut view, |v| v.synced.contains_key(&1)).await;
    assert_eq!(view.of(1).len(), 2);
    assert_eq!(view.of(1)["m1"].model, MODEL);
    let mut worst = Duration::ZERO;
    for value in 1..=5 {
        let start = Instant::now();
        let server_ref = &server;
        tokio::task::block_in_place(|| {
            server_ref.patch("m1", "/temperature", json!(f64::from(value)))
        });
        until(&mut client, &mut view, |v| {
            temperature(v, 1, "m1") == Some(f64::from(value))
        })
        .await;
        worst = worst.max(start.elapsed());
    }
    println!("REST patch acknowledged → update received: worst of 5 = {worst:?} (tick 50 ms)");
    // A tick is 50 ms; a durable write and one tick, with room for a busy machine.
    assert!(worst < Duration::from_millis(1_000), "{worst:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_sees_twins_enter_and_leave_as_they_move_and_as_it_moves() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    server.populate(&[
        ("near", 20.0, [1.0, 0.0, 0.0]),
        ("far", 20.0, [100.0, 0.0, 0.0]),
    ]);
    let mut client = Client::connect(&server.ws, &server.admin, "", "")
        .await
        .unwrap();
    client
        .subscribe(
            subscription(7)
                .region(sphere([0.0, 0.0, 0.0], 10.0))
                .fields(&["$placement"]),
        )
        .await
        .unwrap();
    let mut view = View::default();
    until(&mut client, &mut view, |v| v.synced.contains_key(&7)).await;
    assert_eq!(view.of(7).keys().copied().collect::<Vec<_>>(), ["near"]);
    // `far` moves in (over REST), `near` moves out (over the live protocol).
    tokio::task::block_in_place(|| {
        server.patch("far", "/$placement/position", json!([2.0, 2.0, 0.0]))
    });
    client.move_twin("near", [50.0, 0.0, 0.0]).await.unwrap();
    until(&mut client, &mut view, |v| {
        v.of(7).keys().copied().collect::<Vec<_>>() == ["far"]
    })
    .await;
    let pose = view.of(7)["far"]
        .world_pose
        .expect("the pose comes with $placement");
    assert_eq!(pose.position.unwrap().x, 2.0);
    // The viewpoint moves to `near`: it enters, `far` leaves.
    client
        .move_region(7, sphere([50.0, 0.0, 0.0], 5.0))
        .await
        .unwrap();
    until(&mut client, &mut view, |v| {
        v.of(7).keys().copied().collect::<Vec<_>>() == ["near"]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_sees_twins_enter_and_leave_as_a_property_crosses_a_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    server.populate(&[("a", 20.0, [0.0, 0.0, 0.0]), ("b", 80.0, [0.0, 0.0, 0.0])]);
    let mut client = Client::connect(&server.ws, &server.admin, "", "")
        .await
        .unwrap();
    client
        .subscribe(
            subscription(1)
                .query("SELECT * FROM DIGITALTWINS T WHERE T.temperature > 50")
                .fields(&["temperature"]),
        )
        .await
        .unwrap();
    let error = client
        .subscribe(subscription(2).query("SELECT * FROM DIGITALTWINS T JOIN C RELATED T.next"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ClientError::Refused { code, .. } if code == "InvalidQuery"),
        "{error}"
    );
    let mut view = View::default();
    until(&mut client, &mut view, |v| v.synced.contains_key(&1)).await;
    assert_eq!(view.of(1).keys().copied().collect::<Vec<_>>(), ["b"]);
    tokio::task::block_in_place(|| {
        server.patch("a", "/temperature", json!(60.0));
        server.patch("b", "/temperature", json!(40.0));
    });
    until(&mut client, &mut view, |v| {
        v.of(1).keys().copied().collect::<Vec<_>>() == ["a"]
    })
    .await;
    assert_eq!(temperature(&view, 1, "a"), Some(60.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_a_reconnect_loses_nothing_and_repeats_nothing_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    let twins: Vec<(String, f64)> = (0..20)
        .map(|n| (format!("t{n:02}"), f64::from(n)))
        .collect();
    let refs: Vec<(&str, f64, [f64; 3])> = twins
        .iter()
        .map(|(id, t)| (id.as_str(), *t, [0.0, 0.0, 0.0]))
        .collect();
    server.populate(&refs);
    let query = "SELECT * FROM DIGITALTWINS T WHERE T.temperature >= 10";
    let mut client = Client::connect(&server.ws, &server.admin, "", "")
        .await
        .unwrap();
    client
        .subscribe(subscription(1).query(query))
        .await
        .unwrap();
    let mut view = View::default();
    until(&mut client, &mut view, |v| v.synced.contains_key(&1)).await;
    assert_eq!(view.of(1).len(), 10);
    // Make sure the view's seq is the world's: a ping answers after the tick.
    client.ping().await.unwrap();
    client.close().await.unwrap();

    // While away: one leaves the filter, one enters, one changes.
    tokio::task::block_in_place(|| {
        server.patch("t15", "/temperature", json!(1.0));
        server.patch("t03", "/temperature", json!(99.0));
        server.patch("t12", "/label", json!("changed"));
    });
    let mut client = Client::connect(&server.ws, &server.admin, "", "")
        .await
        .unwrap();
    client
        .subscribe(subscription(1).query(query).resume_after(view.seq))
        .await
        .unwrap();
    let mut events = 0;
    let deadline = Instant::now() + EVENT_TIMEOUT;
    while view.synced.get(&1) != Some(&true) {
        assert!(Instant::now() < deadline, "no resumed sync: {view:?}");
        if let Ok(Ok(Event::Tick { seq, tick })) =
            tokio::time::timeout(EVENT_TIMEOUT, client.next()).await
        {
            assert!(tick.resets.is_empty(), "a resume must not reset");
            events += tick.events.len();
            view.apply(seq, &tick);
        }
    }
    assert_eq!(events, 3, "only the three changed twins are sent again");
    // A fresh client's snapshot is the same.
    let mut fresh_client = Client::connect(&server.ws, &server.admin, "", "")
        .await
        .unwrap();
    fresh_client
        .subscribe(subscription(1).query(query))
        .await
        .unwrap();
    let mut fresh = View::default();
    until(&mut fresh_client, &mut fresh, |v| v.synced.contains_key(&1)).await;
    assert_eq!(view.twins, fresh.twins);
    assert_eq!(view.of(1)["t12"].fields["label"], json!("changed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_disconnected_while_another_keeps_its_latency() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "live_behind_ms_max = 1000");
    // 400 twins with 32 KiB labels: a 12 MiB snapshot, more than the socket
    // buffers hold, so a client that does not read stops taking frames.
    server.populate(&[]);
    let label = "x".repeat(32 * 1024);
    tokio::task::block_in_place(|| {
        for n in 0..400 {
            server.put(&format!("big{n:03}"), 1.0, [0.0, 0.0, 0.0], &label);
        }
    });
    let mut sleeper = Client::connect(&server.ws, &server.admin, "", "")
        .await
        .unwrap();
    sleeper.subscribe(subscription(1)).await.unwrap();
    let mut reader = Client::connect(&server.ws, &server.admin, "", "")
        .await
        .unwrap();
    reader
        .subscribe(subscription(1).fields(&["temperature"]))
        .await
        .unwrap();
    let mut view = View::default();
    until(&mut reader, &mut view, |v| v.synced.contains_key(&1)).await;
    let mut worst = Duration::ZERO;
    for value in 2..8 {
        let start = Instant::now();
        tokio::task::block_in_place(|| {
            server.patch("big000", "/temperature", json!(f64::from(value)))
        });
        until(&mut reader, &mut view, |v| {
            temperature(v, 1, "big000") == Some(f64::from(value))
        })
        .await;
        worst = worst.max(start.elapsed());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    println!("latency of a reading client next to a stalled one: worst {worst:?}");
    assert!(worst < Duration::from_millis(1_000), "{worst:?}");
    // The sleeper wakes up: after what the socket buffered, the server's close.
    let deadline = Instant::now() + Duration::from_secs(30);
    let closed = loop {
        assert!(Instant::now() < deadline, "the sleeper was never closed");
        match tokio::time::timeout(EVENT_TIMEOUT, sleeper.next()).await {
            Ok(Ok(_)) => {}
            Ok(Err(ClientError::Closed { code, reason })) => break (code, reason),
            Ok(Err(other)) => panic!("{other}"),
            Err(_) => panic!("the sleeper hears nothing"),
        }
    };
    assert_eq!(closed.0, proto::close::TOO_SLOW, "{closed:?}");
    println!("the stalled client was closed: {} {}", closed.0, closed.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_of_two_is_seen_by_a_third() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    let mut watcher = Client::connect(&server.ws, &server.admin, "", "")
        .await
        .unwrap();
    let mut alice = Client::connect(&server.ws, &server.admin, "alice", "#ff0000")
        .await
        .unwrap();
    let mut bob = Client::connect(&server.ws, &server.admin, "bob", "#0000ff")
        .await
        .unwrap();
    alice
        .set_presence(proto::SetPresence {
            head: Some(proto::Pose {
                position: Some(proto::Vec3::from_array([1.0, 1.7, 2.0])),
                ..proto::Pose::default()
            }),
            selected_twin_id: "m1".into(),
            ..proto::SetPresence::default()
        })
        .await
        .unwrap();
    bob.chat("hello from bob").await.unwrap();
    let mut names = std::collections::BTreeMap::new();
    let mut chat = Vec::new();
    let deadline = Instant::now() + EVENT_TIMEOUT;
    while names.len() < 2
        || chat.is_empty()
        || names.get("alice").is_none_or(|s: &String| s.is_empty())
    {
        assert!(
            Instant::now() < deadline,
            "presence incomplete: {names:?} {chat:?}"
        );
        if let Ok(Ok(Event::Tick { tick, .. })) =
            tokio::time::timeout(EVENT_TIMEOUT, watcher.next()).await
        {
            for p in tick.presence {
                names.insert(p.display_name.clone(), p.selected_twin_id.clone());
            }
            chat.extend(tick.chat.into_iter().map(|c| (c.display_name, c.text)));
        }
    }
    assert_eq!(names["alice"], "m1");
    assert_eq!(chat, [("bob".to_owned(), "hello from bob".to_owned())]);
    // Bob leaves; the watcher sees it.
    bob.close().await.unwrap();
    let deadline = Instant::now() + EVENT_TIMEOUT;
    'wait: loop {
        assert!(Instant::now() < deadline, "no leave");
        if let Ok(Ok(Event::Tick { tick, .. })) =
            tokio::time::timeout(EVENT_TIMEOUT, watcher.next()).await
        {
            for p in tick.presence {
                if p.kind() == proto::presence_event::Kind::Leave {
                    break 'wait;
                }
            }
        }
    }
    // A client without a display name is not a participant.
    let error = watcher.chat("hi").await.unwrap_err();
    assert!(
        matches!(&error, ClientError::Refused { code, .. } if code == "NotAParticipant"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_token_cannot_patch_and_a_bad_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    server.populate(&[("m1", 20.0, [0.0, 0.0, 0.0])]);
    let viewer = tokio::task::block_in_place(|| server.token("viewer"));
    let mut client = Client::connect(&server.ws, &viewer, "", "").await.unwrap();
    assert_eq!(client.welcome().role, "viewer");
    let error = client
        .patch("m1", "/temperature", &json!(5.0), false)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ClientError::Refused { code, .. } if code == "Forbidden"),
        "{error}"
    );
    let error = client.move_twin("m1", [1.0, 2.0, 3.0]).await.unwrap_err();
    assert!(
        matches!(&error, ClientError::Refused { code, .. } if code == "Forbidden"),
        "{error}"
    );
    let operator = tokio::task::block_in_place(|| server.token("operator"));
    let mut op = Client::connect(&server.ws, &operator, "", "")
        .await
        .unwrap();
    let seq = op
        .patch("m1", "/temperature", &json!(5.0), false)
        .await
        .unwrap();
    assert!(seq > 0);
    let error = op
        .patch("m1", "/nope", &json!(5.0), false)
        .await
        .unwrap_err();
    assert!(matches!(&error, ClientError::Refused { .. }), "{error}");
    let (_, twin) = tokio::task::block_in_place(|| server.call("GET", "/digitaltwins/m1", None));
    assert_eq!(twin["temperature"], json!(5.0));
    match Client::connect(&server.ws, "tsk_not-a-token", "", "").await {
        Err(ClientError::Closed { code, .. }) => assert_eq!(code, proto::close::UNAUTHENTICATED),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_oversized_and_text_frames_close_only_their_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "live_frame_bytes_max = 1024");
    let mut bystander = Client::connect(&server.ws, &server.admin, "", "")
        .await
        .unwrap();
    let cases: [(&str, u16); 3] = [
        ("malformed", proto::close::MALFORMED),
        ("oversized", proto::close::TOO_BIG),
        ("text", proto::close::TEXT_FRAME),
    ];
    for (case, expected) in cases {
        let mut client = Client::connect(&server.ws, &server.admin, "", "")
            .await
            .unwrap();
        match case {
            "malformed" => client
                .send_raw(vec![0x12, 0xff, 0xff, 0xff, 0x01])
                .await
                .unwrap(),
            "oversized" => client.send_raw(vec![0u8; 2048]).await.unwrap(),
            _ => client.send_text("{\"subscribe\": 1}").await.unwrap(),
        }
        let error = match tokio::time::timeout(EVENT_TIMEOUT, client.next()).await {
            Ok(Err(error)) => error,
            other => panic!("{case}: expected a close, got {other:?}"),
        };
        match error {
            ClientError::Closed { code, reason } => {
                assert_eq!(code, expected, "{case}: {reason}");
                assert!(!reason.is_empty(), "{case}: a reason is given");
                println!("{case}: closed with {code}: {reason}");
            }
            other => panic!("{case}: {other}"),
        }
        bystander
            .ping()
            .await
            .expect("the other connection is unaffected");
    }
    // A first message that is not Hello.
    let (mut socket, _) = tokio_tungstenite::connect_async(&server.ws).await.unwrap();
    use futures_util::{SinkExt, StreamExt};
    use prost::Message as _;
    let ping = proto::ClientMessage {
        request_id: 1,
        body: Some(proto::client_message::Body::Ping(proto::Ping {
            payload: 1,
        })),
    };
    socket
        .send(tokio_tungstenite::tungstenite::Message::Binary(
            ping.encode_to_vec().into(),
        ))
        .await
        .unwrap();
    match socket.next().await {
        Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(frame)))) => {
            assert_eq!(
                u16::from(frame.code),
                proto::close::PROTOCOL,
                "{}",
                frame.reason
            );
        }
        other => panic!("{other:?}"),
    }
}

/// Reads ticks into `view` until the view's annotations satisfy `done`.
async fn until_annotations(
    client: &mut Client,
    view: &mut View,
    done: impl Fn(&std::collections::BTreeMap<String, proto::Annotation>) -> bool,
) {
    until(client, view, |v| done(&v.annotations)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annotations_are_role_checked_reach_everyone_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), "");
    server.populate(&[("m1", 20.0, [0.0, 0.0, 0.0])]);
    let (viewer, operator, other_operator, editor) = tokio::task::block_in_place(|| {
        (
            server.token("viewer"),
            server.token("operator"),
            server.token("operator"),
            server.token("editor"),
        )
    });
    let mut watcher = Client::connect(&server.ws, &viewer, "", "").await.unwrap();
    let mut ada = Client::connect(&server.ws, &operator, "Ada", "#ff0000")
        .await
        .unwrap();
    // A viewer may not create; an unknown twin and an empty note are refused.
    let refused = watcher
        .create_annotation("m1", None, "mine")
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, ClientError::Refused { code, .. } if code == "Forbidden"),
        "{refused}"
    );
    let refused = ada.create_annotation("nope", None, "x").await.unwrap_err();
    assert!(
        matches!(&refused, ClientError::Refused { code, .. } if code == "TwinNotFound"),
        "{refused}"
    );
    let refused = ada.create_annotation("m1", None, "").await.unwrap_err();
    assert!(
        matches!(&refused, ClientError::Refused { code, .. } if code == "InvalidArgument"),
        "{refused}"
    );
    let pinned = ada
        .create_annotation("m1", Some([0.0, 1.0, 0.0]), "flange leaks")
        .await
        .unwrap();
    let point = ada
        .create_annotation("", Some([5.0, 0.0, 5.0]), "spill here")
        .await
        .unwrap();
    assert_ne!(pinned, point);
    let mut view = View::default();
    until_annotations(&mut watcher, &mut view, |a| a.len() == 2).await;
    assert_eq!(view.annotations[&pinned].twin_id, "m1");
    assert_eq!(view.annotations[&pinned].author, "Ada");
    assert_eq!(view.annotations[&point].text, "spill here");
    // Another operator may not delete Ada's note; Ada may delete her own.
    let mut bob = Client::connect(&server.ws, &other_operator, "Bob", "")
        .await
        .unwrap();
    let refused = bob.delete_annotation(&point).await.unwrap_err();
    assert!(
        matches!(&refused, ClientError::Refused { code, .. } if code == "Forbidden"),
        "{refused}"
    );
    ada.delete_annotation(&point).await.unwrap();
    until_annotations(&mut watcher, &mut view, |a| a.len() == 1).await;
    let missing = ada.delete_annotation(&point).await.unwrap_err();
    assert!(
        matches!(&missing, ClientError::Refused { code, .. } if code == "AnnotationNotFound"),
        "{missing}"
    );
    drop((watcher, ada, bob));
    // After a restart the stored note is listed to a new connection.
    drop(server);
    server = Server::start(dir.path(), "");
    let mut late = Client::connect(&server.ws, &viewer, "", "").await.unwrap();
    let mut view = View::default();
    until_annotations(&mut late, &mut view, |a| a.contains_key(&pinned)).await;
    assert_eq!(view.annotations.len(), 1);
    assert_eq!(view.annotations[&pinned].text, "flange leaks");
    // An editor may delete anyone's note; the others see it go.
    let mut editor = Client::connect(&server.ws, &editor, "", "").await.unwrap();
    editor.delete_annotation(&pinned).await.unwrap();
    until_annotations(&mut late, &mut view, |a| a.is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_shows_the_recorded_past_at_speed_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "live_tick_hz = 20");
    server.populate(&[("m1", 20.0, [0.0, 0.0, 0.0])]);
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    // A recorded past: 21 … 25, 100 ms apart, and a move.
    for value in 21..=25 {
        std::thread::sleep(Duration::from_millis(100));
        let server_ref = &server;
        tokio::task::block_in_place(|| {
            server_ref.patch("m1", "/temperature", json!(f64::from(value)))
        });
    }
    tokio::task::block_in_place(|| {
        server.patch("m1", "/$placement/position", json!([4.0, 5.0, 0.0]))
    });
    let mut client = Client::connect(&server.ws, &server.admin, "", "")
        .await
        .unwrap();
    let mut view = View::default();
    // From the instant before the first patch, at 10× real time: the snapshot
    // shows the twin as it was then.
    client.replay_start(7, start, 10.0).await.unwrap();
    until(&mut client, &mut view, |v| {
        v.replay.as_ref().is_some_and(|p| p.snapshot)
    })
    .await;
    assert_eq!(temperature(&view, 7, "m1"), Some(20.0), "{view:#?}");
    assert!(view.of(7)["m1"].model == MODEL);
    // It plays the changes forward in order and reaches the present (at 10× it
    // gains 9 s a second on it).
    let mut seen = vec![20.0];
    let deadline = Instant::now() + EVENT_TIMEOUT;
    while !view.replay.as_ref().is_some_and(|p| p.caught_up) {
        assert!(
            Instant::now() < deadline,
            "the replay never caught up: {view:#?}"
        );
        match tokio::time::timeout(EVENT_TIMEOUT, client.next()).await {
            Ok(Ok(Event::Tick { seq, tick })) => view.apply(seq, &tick),
            other => panic!("no replay tick: {other:?}"),
        }
        if let Some(t) = temperature(&view, 7, "m1")
            && seen.last() != Some(&t)
        {
            seen.push(t);
        }
    }
    assert_eq!(seen.last(), Some(&25.0), "{seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "in recorded order: {seen:?}"
    );
    let position = &view.of(7)["m1"].fields["$placement"]["position"];
    assert_eq!(position, &json!([4.0, 5.0, 0.0]), "{view:#?}");
    // Seeking back and stopping are answered; a bad speed is refused.
    let bad = client.replay_start(8, start, 0.0).await;
    assert!(bad.is_err(), "speed 0 is refused");
    client
        .replay(twinspace_client::proto::Replay {
            action: twinspace_client::proto::replay::Action::Stop.into(),
            ..Default::default()
        })
        .await
        .unwrap();
}
