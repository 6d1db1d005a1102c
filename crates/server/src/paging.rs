//! Continuation tokens for paged answers (queries, model and relationship
//! lists). A token is opaque to clients: base64url of `{h, f, r, i, n}` (a hash
//! of what is being paged, the floor index of a [`Resume`], then the three
//! integers of its [`Cursor`]) followed by a MAC
//! keyed with a secret drawn at server start. A token that was altered, is not
//! ours, or belongs to another query or list is refused with a 400
//! `InvalidContinuationToken` that says which.
//!
//! # Consistency between pages
//!
//! Tokens carry no snapshot of the world: a token stays valid however much the
//! world changes after the first page (a world receiving live telemetry changes
//! many times a second, and ADT clients expect paging to finish). What holds:
//!
//! - Each page is consistent in itself: it is computed under one read lock, so it
//!   reflects the world at a single `Seq`. Rows of twins created, changed or
//!   deleted between pages may appear or be missed, as with ADT; a changed twin
//!   is judged by its state when the page that reaches it is computed.
//! - A query token holds a [`Resume`]: `floor`, the index of the twin (or, for
//!   `FROM RELATIONSHIPS`, the relationship) the last page stopped at, and a
//!   [`Cursor`] counted from there (`rows_in_root` JOIN rows of that candidate
//!   already returned, `returned` rows so far for `TOP`). The next page runs
//!   [`world::query::execute_from`] over the candidates whose index is at least
//!   `floor`, in index order.
//! - Scans in index order are every `FROM` except `$dtId` lookups: a full scan
//!   of twins or relationships, and the `IS_OF_MODEL`, region and indexed-value
//!   candidate lists (sorted by twin index before use). For them, a candidate an
//!   earlier page finished is never visited again, so no row is ever returned
//!   twice, whatever was created or deleted; the one exception is JOIN rows of
//!   the candidate a page stopped inside, if its relationships changed before
//!   the next page (`rows_in_root` counts rows, it does not name them). A twin
//!   that exists and matches throughout is never missed; the one exception, in
//!   JOIN queries, is when the candidate a page stopped inside is deleted or
//!   stops being a candidate before the next page: the next candidate then loses
//!   its first `rows_in_root` rows. A twin created between pages appears when its
//!   index (a new slot at the end, or a slot freed by a deletion) lies at or
//!   beyond the floor, and is missed otherwise.
//! - `$dtId = '…'` and `$dtId IN [...]` candidates come in the list's order and
//!   resume by position: a listed twin created or deleted before that position
//!   shifts it, so the next page may repeat or miss one row per such change.
//! - `GROUP BY` and aggregate answers are recomputed over the whole world on each
//!   page and paged by row position: after a change, a group's row may repeat or
//!   be missed, and pages may reflect different states.
//! - Model and relationship lists resume at a position in the list: an item
//!   added before the position makes the next page repeat one, an item removed
//!   before it makes the next page miss one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use world::query::Cursor;

use crate::ApiError;

/// Longest token accepted; ours are about 100 characters.
const TOKEN_CHARS_MAX: usize = 1_024;
/// Bytes of MAC kept: 128 bits, beyond forging by trial.
const MAC_BYTES: usize = 16;

/// Makes and checks continuation tokens.
pub(crate) struct Paging {
    key: [u8; 32],
}

/// Where a paged answer resumes: a [`Cursor`] into the candidates of the `FROM`
/// scan, counted from the first candidate whose twin (or relationship) index is
/// at least `floor` (from the first candidate when `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Resume {
    /// Lowest twin (or relationship) index still to visit.
    pub(crate) floor: Option<u32>,
    /// Position among the candidates from `floor` on.
    pub(crate) cursor: Cursor,
}

#[derive(Serialize, Deserialize)]
struct Position {
    /// Hash of what is paged (the query text, or the list's identity).
    h: String,
    /// [`Resume::floor`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    f: Option<u32>,
    /// [`Cursor::roots`]: candidates fully consumed (for lists: the offset).
    r: u64,
    /// [`Cursor::rows_in_root`].
    i: u64,
    /// [`Cursor::returned`].
    n: u64,
}

impl Default for Paging {
    fn default() -> Self {
        Self::new()
    }
}

impl Paging {
    /// A paging key drawn from the OS's random source: tokens do not survive a restart.
    pub(crate) fn new() -> Paging {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Paging { key }
    }

    fn subject_hash(subject: &str) -> String {
        hex::encode(&Sha256::digest(subject.as_bytes())[..12])
    }

    fn mac(&self, payload: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.key);
        hasher.update(payload.as_bytes());
        hasher.update(self.key);
        URL_SAFE_NO_PAD.encode(&hasher.finalize()[..MAC_BYTES])
    }

    /// A token that resumes `subject` (a query's text, a list's identity) at `at`.
    pub(crate) fn resume_token(&self, subject: &str, at: Resume) -> String {
        let Resume { floor, cursor } = at;
        let position = Position {
            h: Self::subject_hash(subject),
            f: floor,
            r: cursor.roots,
            i: cursor.rows_in_root,
            n: cursor.returned,
        };
        let json = serde_json::to_string(&position).unwrap_or_default();
        let payload = URL_SAFE_NO_PAD.encode(json);
        let mac = self.mac(&payload);
        format!("{payload}.{mac}")
    }

    /// Where a token resumes, after checking that it is ours, unaltered and for
    /// this `subject`. The world may have changed since: see the module doc.
    pub(crate) fn resume(&self, token: &str, subject: &str) -> Result<Resume, ApiError> {
        let invalid = |why: &str| {
            ApiError::bad_request(
                "InvalidContinuationToken",
                format!("the continuation token {why}"),
            )
        };
        if token.len() > TOKEN_CHARS_MAX {
            return Err(invalid("is longer than any this server makes"));
        }
        let (payload, mac) = token
            .split_once('.')
            .ok_or_else(|| invalid("is malformed"))?;
        if self.mac(payload) != mac {
            return Err(invalid(
                "was not made by this server process or was altered (tokens do not survive a restart); start again without it",
            ));
        }
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| invalid("is malformed"))?;
        let position: Position =
            serde_json::from_slice(&json).map_err(|_| invalid("is malformed"))?;
        if position.h != Self::subject_hash(subject) {
            return Err(invalid(
                "belongs to a different query or list; send the same request it came with",
            ));
        }
        Ok(Resume {
            floor: position.f,
            cursor: Cursor {
                roots: position.r,
                rows_in_root: position.i,
                returned: position.n,
            },
        })
    }

    /// A token for the items from `offset` on of the list `subject`.
    pub(crate) fn token(&self, subject: &str, offset: usize) -> String {
        let offset = offset as u64;
        let cursor = Cursor {
            roots: offset,
            rows_in_root: 0,
            returned: offset,
        };
        self.resume_token(
            subject,
            Resume {
                floor: None,
                cursor,
            },
        )
    }

    /// The offset in the list `subject` a token points at, after the checks of
    /// [`Paging::resume`].
    pub(crate) fn offset(&self, token: &str, subject: &str) -> Result<usize, ApiError> {
        let at = self.resume(token, subject)?;
        Ok(usize::try_from(at.cursor.roots).unwrap_or(usize::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_tampering_and_other_subjects() {
        let paging = Paging::new();
        let token = paging.token("SELECT * FROM digitaltwins", 200);
        assert_eq!(
            paging.offset(&token, "SELECT * FROM digitaltwins").unwrap(),
            200
        );
        let at = Resume {
            floor: Some(77),
            cursor: Cursor {
                roots: 12,
                rows_in_root: 3,
                returned: 40,
            },
        };
        let token = paging.resume_token("SELECT * FROM digitaltwins", at);
        assert_eq!(
            paging.resume(&token, "SELECT * FROM digitaltwins").unwrap(),
            at
        );
        let other = paging
            .resume(&token, "SELECT T FROM digitaltwins T")
            .unwrap_err();
        assert_eq!(other.code(), "InvalidContinuationToken");
        assert!(other.to_string().contains("different query"), "{other}");
        // Flip one character of the payload.
        let mut bytes = token.into_bytes();
        bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        let error = paging
            .resume(&tampered, "SELECT * FROM digitaltwins")
            .unwrap_err();
        assert_eq!(error.code(), "InvalidContinuationToken");
        assert!(error.to_string().contains("altered"), "{error}");
        assert!(paging.offset("garbage", "x").is_err());
        assert!(paging.offset(&"x.".repeat(600), "x").is_err());
        // Another process's key.
        let foreign = Paging::new().token("x", 1);
        assert!(paging.offset(&foreign, "x").is_err());
    }
}
