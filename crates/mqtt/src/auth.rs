//! Who a client is and which worlds it may reach. The broker asks an
//! [`Authenticator`] once per CONNECT (username any, password a Twinspace token);
//! the answer, an [`Access`], decides every later PUBLISH and SUBSCRIBE. Access
//! depends only on the token: the client id and username are never consulted,
//! so `+`, `#` or `/` in them cannot widen what a client reaches.

use std::collections::HashMap;

/// Checks credentials.
pub trait Authenticator: Send + Sync + 'static {
    /// The access of the client presenting these credentials, or `None` to
    /// refuse the connection (bad username or password).
    fn authenticate(&self, username: Option<&str>, password: Option<&[u8]>) -> Option<Access>;
}

/// What one authenticated client may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// Who it is (a token's public id): sessions are kept per principal and
    /// client id, so another token can never take over a session.
    pub principal: String,
    /// Per-world rights.
    pub grants: Vec<Grant>,
}

/// Rights on one world, or on every world (`world` = `*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// A world id, or `*`.
    pub world: String,
    /// May publish (telemetry in, anything under the world's topics).
    pub publish: bool,
    /// May subscribe to the world's topics.
    pub subscribe: bool,
}

impl Access {
    /// May publish to `world` (`*` asks for a grant on every world).
    pub fn may_publish(&self, world: &str) -> bool {
        self.grants
            .iter()
            .any(|g| g.publish && (g.world == "*" || g.world == world))
    }

    /// May subscribe to `world` (`*` asks for a grant on every world).
    pub fn may_subscribe(&self, world: &str) -> bool {
        self.grants
            .iter()
            .any(|g| g.subscribe && (g.world == "*" || g.world == world))
    }
}

/// A fixed table of passwords, for tests, benchmarks and single-user setups.
/// The server authenticates through its token store instead.
#[derive(Clone, Debug, Default)]
pub struct PasswordTable {
    by_password: HashMap<Vec<u8>, Access>,
}

impl PasswordTable {
    /// An empty table: every client is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a password and the access it gives.
    pub fn insert(&mut self, password: impl Into<Vec<u8>>, access: Access) {
        self.by_password.insert(password.into(), access);
    }
}

impl Authenticator for PasswordTable {
    fn authenticate(&self, _username: Option<&str>, password: Option<&[u8]>) -> Option<Access> {
        self.by_password.get(password?).cloned()
    }
}
