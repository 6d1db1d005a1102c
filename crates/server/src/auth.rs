//! Bearer tokens and roles. A token is `tsk_` plus 32 random bytes in base64url;
//! the server keeps only its SHA-256 hash (table `server/tokens`, key = the
//! token's public id), so a stolen data directory does not hand out access.
//! Each token carries grants: a role on one world or on every world (`*`).
//!
//! Roles, from least to most: `viewer` (reads and queries), `operator` (also
//! patches existing twins and relationships: the people who run a site),
//! `editor` (also creates, replaces and deletes twins, relationships and
//! models), `admin` (also manages worlds and, with a `*` grant, tokens).
//! `ingest` stands apart: it is for telemetry writers (MQTT, HTTP ingest) and
//! grants nothing on the REST data plane.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parking_lot::RwLock;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store::{Batch, Store, TableName};

use crate::ApiError;

/// The store table holding token records.
pub const TOKENS_TABLE: &str = "server/tokens";
/// What every token starts with, so that leaked tokens are easy to scan for.
pub const TOKEN_PREFIX: &str = "tsk_";
/// Random bytes in a token: 256 bits, beyond guessing.
const TOKEN_SECRET_BYTES: usize = 32;
/// Grants per token: a token is for one purpose, a handful of worlds at most.
pub const GRANTS_PER_TOKEN_MAX: usize = 64;
/// Longest token label.
pub const TOKEN_LABEL_CHARS_MAX: usize = 200;
/// Most tokens the server keeps: all are held in memory for lookups.
pub const TOKENS_MAX: usize = 10_000;

/// What a token may do on a world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read twins, relationships and models; run queries.
    Viewer,
    /// Viewer, plus patch existing twins and relationships.
    Operator,
    /// Operator, plus create/replace/delete twins, relationships and models.
    Editor,
    /// Everything, including worlds (and tokens when granted on `*`).
    Admin,
    /// Write telemetry through ingest paths; nothing on the REST data plane.
    Ingest,
}

impl Role {
    /// Whether holding `self` is enough for a route that needs `needed`.
    pub fn allows(self, needed: Role) -> bool {
        match (self, needed) {
            (Role::Admin, _) => true,
            (Role::Ingest, Role::Ingest) => true,
            (Role::Ingest, _) | (_, Role::Ingest) => false,
            (have, need) => have.rank() >= need.rank(),
        }
    }

    fn rank(self) -> u8 {
        match self {
            Role::Viewer => 1,
            Role::Operator => 2,
            Role::Editor => 3,
            Role::Admin => 4,
            Role::Ingest => 0,
        }
    }

    /// Reads a role name (`viewer`, `operator`, `editor`, `admin`, `ingest`).
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            "ingest" => Some(Role::Ingest),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Editor => "editor",
            Role::Admin => "admin",
            Role::Ingest => "ingest",
        })
    }
}

/// A role on a world (`world` = `*` for every world).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// A world name, or `*`.
    pub world: String,
    /// The role there.
    pub role: Role,
}

impl Grant {
    /// Checks the world name (a valid world id or `*`).
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.world != "*" {
            world::WorldId::parse(&self.world)?;
        }
        Ok(())
    }
}

/// What the server knows about a token (never the secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Public id, used to list and revoke.
    pub id: String,
    /// A note for humans ("ci", "alice's laptop").
    pub label: String,
    /// What the token may do.
    pub grants: Vec<Grant>,
    /// When it was made (RFC 3339).
    pub created: String,
}

impl TokenInfo {
    /// Whether the token has `needed` (or more) on `world`. Server-wide routes
    /// ask with `world` = `*`, which only a `*` grant satisfies.
    pub fn can(&self, world: &str, needed: Role) -> bool {
        self.grants
            .iter()
            .any(|g| (g.world == "*" || g.world == world) && g.role.allows(needed))
    }
}

/// The stored form: the info plus the hex SHA-256 of the secret.
#[derive(Serialize, Deserialize)]
struct TokenRecord {
    #[serde(flatten)]
    info: TokenInfo,
    sha256: String,
}

/// The server's tokens: loaded from the store at start, changed through it.
pub struct Tokens {
    store: Arc<dyn Store>,
    table: TableName,
    by_hash: RwLock<HashMap<[u8; 32], Arc<TokenInfo>>>,
}

fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

impl Tokens {
    /// Reads every token record from `store`.
    pub fn load(store: Arc<dyn Store>) -> Result<Tokens, ApiError> {
        let table = TableName::new(TOKENS_TABLE)?;
        let mut by_hash = HashMap::new();
        let mut bad = None;
        store.scan(&table, &mut |key, value| {
            match serde_json::from_slice::<TokenRecord>(value) {
                Ok(record) => {
                    let mut hash = [0u8; 32];
                    match hex::decode_to_slice(&record.sha256, &mut hash) {
                        Ok(()) => {
                            by_hash.insert(hash, Arc::new(record.info));
                        }
                        Err(error) => {
                            bad = Some(format!("{}: {error}", String::from_utf8_lossy(key)))
                        }
                    }
                }
                Err(error) => bad = Some(format!("{}: {error}", String::from_utf8_lossy(key))),
            }
            bad.is_none()
        })?;
        if let Some(bad) = bad {
            return Err(ApiError::Internal(format!("unreadable token record {bad}")));
        }
        Ok(Tokens {
            store,
            table,
            by_hash: RwLock::new(by_hash),
        })
    }

    /// True when no token exists (first start).
    pub fn is_empty(&self) -> bool {
        self.by_hash.read().is_empty()
    }

    /// The token whose secret this is, if any.
    pub fn authenticate(&self, secret: &str) -> Option<Arc<TokenInfo>> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return None;
        }
        self.by_hash.read().get(&hash_secret(secret)).cloned()
    }

    /// Every token, ordered by id.
    pub fn list(&self) -> Vec<TokenInfo> {
        let mut all: Vec<TokenInfo> = self
            .by_hash
            .read()
            .values()
            .map(|t| (**t).clone())
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// Makes a token, stores its hash durably, and returns the secret (shown once)
    /// with the token's info.
    pub fn create(
        &self,
        grants: Vec<Grant>,
        label: &str,
        now: world::Timestamp,
    ) -> Result<(String, TokenInfo), ApiError> {
        if grants.is_empty() || grants.len() > GRANTS_PER_TOKEN_MAX {
            return Err(ApiError::bad_request(
                "InvalidArgument",
                format!(
                    "a token needs 1 to {GRANTS_PER_TOKEN_MAX} grants, {} were given",
                    grants.len()
                ),
            ));
        }
        for grant in &grants {
            grant.validate()?;
        }
        if label.chars().count() > TOKEN_LABEL_CHARS_MAX || label.chars().any(char::is_control) {
            return Err(ApiError::bad_request(
                "InvalidArgument",
                format!(
                    "a token label has at most {TOKEN_LABEL_CHARS_MAX} characters and no control characters"
                ),
            ));
        }
        if self.by_hash.read().len() >= TOKENS_MAX {
            return Err(ApiError::Conflict {
                code: "TooManyTokens",
                message: format!(
                    "the server holds {TOKENS_MAX} tokens, the most allowed; revoke some first"
                ),
            });
        }
        let secret = format!(
            "{TOKEN_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(random_bytes::<TOKEN_SECRET_BYTES>())
        );
        let hash = hash_secret(&secret);
        let info = TokenInfo {
            id: hex::encode(random_bytes::<6>()),
            label: label.to_owned(),
            grants,
            created: now.to_rfc3339(),
        };
        let record = TokenRecord {
            info: info.clone(),
            sha256: hex::encode(hash),
        };
        let value = serde_json::to_vec(&record).map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut batch = Batch::new();
        batch.put(&self.table, info.id.as_bytes(), value);
        self.store.commit(&[batch])?;
        self.by_hash.write().insert(hash, Arc::new(info.clone()));
        Ok((secret, info))
    }

    /// Deletes a token durably; false when there was none with this id.
    pub fn revoke(&self, id: &str) -> Result<bool, ApiError> {
        let hash = self
            .by_hash
            .read()
            .iter()
            .find(|(_, t)| t.id == id)
            .map(|(h, _)| *h);
        let Some(hash) = hash else { return Ok(false) };
        let mut batch = Batch::new();
        batch.delete(&self.table, id.as_bytes());
        self.store.commit(&[batch])?;
        self.by_hash.write().remove(&hash);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_order_and_ingest_stands_apart() {
        assert!(Role::Editor.allows(Role::Viewer));
        assert!(Role::Operator.allows(Role::Operator));
        assert!(!Role::Viewer.allows(Role::Operator));
        assert!(!Role::Editor.allows(Role::Admin));
        assert!(Role::Admin.allows(Role::Ingest));
        assert!(!Role::Ingest.allows(Role::Viewer));
        assert!(!Role::Editor.allows(Role::Ingest));
        for role in ["viewer", "operator", "editor", "admin", "ingest"] {
            assert_eq!(
                Role::parse(role).map(|r| r.to_string()),
                Some(role.to_owned())
            );
        }
    }

    #[test]
    fn tokens_survive_reload_and_only_hashes_are_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(store::RedbStore::open(&dir.path().join("db")).unwrap());
        let tokens = Tokens::load(Arc::clone(&store)).unwrap();
        assert!(tokens.is_empty());
        let grants = vec![Grant {
            world: "plant-7".into(),
            role: Role::Editor,
        }];
        let (secret, info) = tokens.create(grants, "ci", world::Timestamp(0)).unwrap();
        assert!(
            secret.starts_with("tsk_") && secret.len() == 4 + 43,
            "{secret}"
        );
        let mut stored = Vec::new();
        store
            .scan(&TableName::new(TOKENS_TABLE).unwrap(), &mut |_, v| {
                stored.push(String::from_utf8_lossy(v).into_owned());
                true
            })
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert!(
            !stored[0].contains(&secret[4..]),
            "the secret must not be stored"
        );

        let reloaded = Tokens::load(Arc::clone(&store)).unwrap();
        let found = reloaded.authenticate(&secret).unwrap();
        assert_eq!(*found, info);
        assert!(found.can("plant-7", Role::Viewer));
        assert!(!found.can("other", Role::Viewer));
        assert!(!found.can("plant-7", Role::Admin));
        assert!(reloaded.authenticate("tsk_wrong").is_none());
        assert!(reloaded.authenticate(&secret[4..]).is_none());

        assert!(reloaded.revoke(&info.id).unwrap());
        assert!(!reloaded.revoke(&info.id).unwrap());
        assert!(Tokens::load(store).unwrap().authenticate(&secret).is_none());
    }

    #[test]
    fn bad_grants_and_labels_are_refused() {
        let store: Arc<dyn Store> = Arc::new(store::RedbStore::open_in_memory().unwrap());
        let tokens = Tokens::load(store).unwrap();
        let now = world::Timestamp(0);
        assert!(tokens.create(vec![], "x", now).is_err());
        let bad_world = vec![Grant {
            world: "Bad World".into(),
            role: Role::Viewer,
        }];
        assert!(tokens.create(bad_world, "x", now).is_err());
        let ok = vec![Grant {
            world: "*".into(),
            role: Role::Viewer,
        }];
        assert!(tokens.create(ok.clone(), "a\nb", now).is_err());
        assert!(tokens.create(ok, "fine", now).is_ok());
    }
}
