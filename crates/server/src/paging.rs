//! Continuation tokens for paged answers (queries, model and relationship
//! lists). A token is opaque to clients: base64url of `{h, o, s}` (a hash of what
//! is being paged, the offset of the next row, the world's `Seq` when the first
//! page was made) followed by a MAC keyed with a secret drawn at server start.
//! A token that was altered, belongs to another query, or was made before the
//! world changed is refused with a 400 that says which.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ApiError;

/// Longest token accepted; ours are about 100 characters.
const TOKEN_CHARS_MAX: usize = 1_024;
/// Bytes of MAC kept: 128 bits, beyond forging by trial.
const MAC_BYTES: usize = 16;

/// Makes and checks continuation tokens.
pub(crate) struct Paging {
    key: [u8; 32],
}

#[derive(Serialize, Deserialize)]
struct Position {
    /// Hash of what is paged (the query text, or the list's identity).
    h: String,
    /// Offset of the next row.
    o: usize,
    /// The world's `Seq` when paging started.
    s: u64,
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

    /// A token for the rows from `offset` on of `subject`, at world `seq`.
    pub(crate) fn token(&self, subject: &str, offset: usize, seq: u64) -> String {
        let position = Position {
            h: Self::subject_hash(subject),
            o: offset,
            s: seq,
        };
        let json = serde_json::to_string(&position).unwrap_or_default();
        let payload = URL_SAFE_NO_PAD.encode(json);
        let mac = self.mac(&payload);
        format!("{payload}.{mac}")
    }

    /// The offset a token points at, after checking that it is ours, for this
    /// `subject`, and that the world is still at `seq`.
    pub(crate) fn offset(&self, token: &str, subject: &str, seq: u64) -> Result<usize, ApiError> {
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
        if position.s != seq {
            return Err(ApiError::bad_request(
                "ContinuationTokenStale",
                format!(
                    "the continuation token is stale: the world changed (from seq {} to {seq}) since the first page; run the request again from the start",
                    position.s
                ),
            ));
        }
        Ok(position.o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_tampering_staleness_and_other_subjects() {
        let paging = Paging::new();
        let token = paging.token("SELECT * FROM digitaltwins", 200, 7);
        assert_eq!(
            paging
                .offset(&token, "SELECT * FROM digitaltwins", 7)
                .unwrap(),
            200
        );
        let stale = paging
            .offset(&token, "SELECT * FROM digitaltwins", 8)
            .unwrap_err();
        assert_eq!(stale.code(), "ContinuationTokenStale");
        let other = paging
            .offset(&token, "SELECT T FROM digitaltwins T", 7)
            .unwrap_err();
        assert!(other.to_string().contains("different query"), "{other}");
        // Flip one character of the payload.
        let mut bytes = token.into_bytes();
        bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        let error = paging
            .offset(&tampered, "SELECT * FROM digitaltwins", 7)
            .unwrap_err();
        assert!(error.to_string().contains("altered"), "{error}");
        assert!(paging.offset("garbage", "x", 0).is_err());
        // Another process's key.
        let foreign = Paging::new().token("x", 1, 0);
        assert!(paging.offset(&foreign, "x", 0).is_err());
    }
}
