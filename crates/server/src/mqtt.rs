//! The server's side of the embedded MQTT broker: who may connect (a
//! [`TokenAuthenticator`] over the server's [`Tokens`]), where mapped updates go
//! (a [`WorldsSink`] applying them to the worlds and the store's group commit),
//! and the `twinspace_mqtt_*` lines of `/metrics`.
//!
//! Tokens are looked up at every CONNECT, so a revoked token is refused at the
//! client's next connection (an open connection keeps the access it was given).

use std::fmt::Write as _;

use ingest::TwinUpdate;
use mqtt::{Access, Authenticator, Durable, Sink, SinkError, Submitted};

use crate::App;
use crate::auth::{Role, Tokens};

/// Authenticates MQTT clients with Twinspace tokens: the username is ignored,
/// the password is the token. Roles become rights per world: `ingest` may
/// publish, `viewer` may subscribe, `operator`, `editor` and `admin` may both.
#[derive(Clone)]
pub struct TokenAuthenticator {
    app: App,
}

impl TokenAuthenticator {
    /// Checks credentials against `app`'s tokens (the live table: later
    /// revocations count).
    pub fn new(app: App) -> Self {
        TokenAuthenticator { app }
    }

    fn tokens(&self) -> &Tokens {
        self.app.tokens()
    }
}

/// The MQTT rights a role gives: (publish, subscribe).
fn rights(role: Role) -> (bool, bool) {
    match role {
        Role::Ingest => (true, false),
        Role::Viewer => (false, true),
        Role::Operator | Role::Editor | Role::Admin => (true, true),
    }
}

impl Authenticator for TokenAuthenticator {
    fn authenticate(&self, _username: Option<&str>, password: Option<&[u8]>) -> Option<Access> {
        // A token is ASCII; anything else cannot be one.
        let secret = std::str::from_utf8(password?).ok()?;
        let info = self.tokens().authenticate(secret)?;
        let grants = info
            .grants
            .iter()
            .map(|grant| {
                let (publish, subscribe) = rights(grant.role);
                mqtt::Grant {
                    world: grant.world.clone(),
                    publish,
                    subscribe,
                }
            })
            .collect();
        Some(Access {
            principal: info.id.clone(),
            grants,
        })
    }
}

/// Applies the broker's mapped updates to the server's worlds through
/// [`crate::Worlds::ingest`]: each message is checked against its twin's model
/// and refused on its own, the rest of a submission is applied under one lock
/// and one store batch per world, and durability is awaited in the returned
/// future only (QoS 1 PUBACKs wait for it).
#[derive(Clone)]
pub struct WorldsSink {
    app: App,
}

impl WorldsSink {
    /// A sink writing into `app`'s worlds.
    pub fn new(app: App) -> Self {
        WorldsSink { app }
    }
}

impl Sink for WorldsSink {
    fn submit(&self, updates: Vec<TwinUpdate>) -> Submitted {
        let ingested = self.app.worlds().ingest(updates);
        let refused = ingested
            .refused
            .into_iter()
            .map(|(index, error)| (index, error.to_string()))
            .collect();
        let durable: Option<Durable> = ingested.durable.map(|durable| -> Durable {
            Box::pin(async move { durable.await.map_err(|error| SinkError(error.to_string())) })
        });
        Submitted { refused, durable }
    }
}

/// Appends the broker's counters to the metrics page.
pub(crate) fn render_metrics(out: &mut String, metrics: &mqtt::Metrics) {
    let mut line = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP twinspace_mqtt_{name} {help}\n# TYPE twinspace_mqtt_{name} {kind}\ntwinspace_mqtt_{name} {value}"
        );
    };
    line(
        "connections",
        "gauge",
        "MQTT connections open now.",
        metrics.connections_open,
    );
    line(
        "connections_total",
        "counter",
        "MQTT connections accepted.",
        metrics.connections_total,
    );
    line(
        "connections_refused_auth_total",
        "counter",
        "MQTT CONNECTs refused for bad credentials.",
        metrics.connections_refused_auth,
    );
    line(
        "connections_refused_limit_total",
        "counter",
        "MQTT connections refused because connections_max were open.",
        metrics.connections_refused_limit,
    );
    line(
        "messages_in_total",
        "counter",
        "MQTT PUBLISH packets received.",
        metrics.publishes_received,
    );
    line(
        "messages_out_total",
        "counter",
        "MQTT messages delivered to subscribers.",
        metrics.messages_delivered,
    );
    line(
        "updates_total",
        "counter",
        "MQTT messages that became twin updates.",
        metrics.updates_mapped,
    );
    line(
        "unmatched_total",
        "counter",
        "MQTT messages no mapping rule is about (relayed only).",
        metrics.messages_unmatched,
    );
    line(
        "publishes_denied_total",
        "counter",
        "MQTT PUBLISHes refused by the access check (a world not granted).",
        metrics.publishes_denied,
    );
    line(
        "subscribes_denied_total",
        "counter",
        "MQTT subscriptions refused by the access check.",
        metrics.subscribes_denied,
    );
    line(
        "dropped_qos0_total",
        "counter",
        "QoS 0 messages dropped because a subscriber's queue was full.",
        metrics.qos0_dropped,
    );
    line(
        "dropped_qos1_total",
        "counter",
        "QoS 1 messages dropped because a subscriber's queue was full.",
        metrics.qos1_dropped,
    );
    line(
        "dead_letters_total",
        "counter",
        "Dead letters published.",
        metrics.dead_letters,
    );
    line(
        "sink_failures_total",
        "counter",
        "Submissions whose durability failed.",
        metrics.sink_failures,
    );
    line(
        "disconnects_protocol_total",
        "counter",
        "Clients disconnected for malformed packets or protocol errors.",
        metrics.disconnects_protocol,
    );
    line(
        "disconnects_packet_too_large_total",
        "counter",
        "Clients disconnected for a packet over packet_bytes_max.",
        metrics.disconnects_packet_too_large,
    );
    line(
        "disconnects_keep_alive_total",
        "counter",
        "Clients disconnected for missing their keep-alive.",
        metrics.disconnects_keep_alive,
    );
    let _ = writeln!(
        out,
        "# HELP twinspace_mqtt_rejected_total MQTT messages rejected, by reason.\n# TYPE twinspace_mqtt_rejected_total counter"
    );
    for (reason, count) in &metrics.rejected {
        let _ = writeln!(
            out,
            "twinspace_mqtt_rejected_total{{reason=\"{reason}\"}} {count}"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::auth::Grant;

    fn app(dir: &tempfile::TempDir) -> App {
        let store: Arc<dyn store::Store> = Arc::new(
            store::RedbStore::open(&dir.path().join("db")).expect("a store in a temp dir"),
        );
        let options = crate::ServerOptions {
            limits: crate::Limits::default(),
            ..crate::ServerOptions::default()
        };
        App::open(store, options).expect("the app opens").app
    }

    #[test]
    fn roles_become_rights_per_world_and_revocation_counts() {
        let dir = tempfile::tempdir().expect("temp dir");
        let app = app(&dir);
        let tokens = app.tokens();
        let grants = vec![
            Grant {
                world: "plant".into(),
                role: Role::Ingest,
            },
            Grant {
                world: "office".into(),
                role: Role::Viewer,
            },
        ];
        let (secret, info) = tokens
            .create(grants, "sensor", crate::worlds::now())
            .expect("token created");
        let auth = TokenAuthenticator::new(app.clone());
        let access = auth
            .authenticate(Some("anyone"), Some(secret.as_bytes()))
            .expect("a valid token is accepted");
        assert!(access.may_publish("plant"));
        assert!(!access.may_subscribe("plant"));
        assert!(access.may_subscribe("office"));
        assert!(!access.may_publish("office"));
        assert!(!access.may_publish("other"));
        assert_eq!(access.principal, info.id);
        assert!(auth.authenticate(None, Some(b"tsk_wrong")).is_none());
        assert!(auth.authenticate(None, None).is_none());
        assert!(auth.authenticate(None, Some(&[0xff, 0xfe])).is_none());
        assert!(tokens.revoke(&info.id).expect("revoked"));
        assert!(
            auth.authenticate(None, Some(secret.as_bytes())).is_none(),
            "a revoked token is refused at the next connect"
        );
    }

    #[test]
    fn star_grants_reach_every_world() {
        let dir = tempfile::tempdir().expect("temp dir");
        let app = app(&dir);
        let grants = vec![Grant {
            world: "*".into(),
            role: Role::Operator,
        }];
        let (secret, _) = app
            .tokens()
            .create(grants, "ops", crate::worlds::now())
            .expect("token created");
        let access = TokenAuthenticator::new(app.clone())
            .authenticate(None, Some(secret.as_bytes()))
            .expect("accepted");
        assert!(access.may_publish("anything") && access.may_subscribe("anything"));
        assert!(access.may_publish("*"));
    }
}
