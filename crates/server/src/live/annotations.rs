//! Annotations: notes pinned to a twin or a point, stored with the world in the
//! table `w/{world}/annotations` (key: the annotation id; value: a version byte,
//! the author's token id as a length-prefixed string, then the protobuf
//! `Annotation`). The author's token id is kept so that the author may delete
//! their own note; it never goes out on the wire.
//!
//! Each world's live state holds the stored annotations in memory (loaded at its
//! first connection), so a new connection gets the list in its first frame
//! without reading the store. A create or delete is committed through the shared
//! group commit first; only once durable is the cache changed and every
//! connection told, under the hub's lock, so a connection joining at the same
//! moment sees the note either in its first list or as an event, never both or
//! neither.

use std::collections::BTreeMap;

use prost::Message as _;
use store::{Batch, Store, StoreError, TableName};
use world::WorldId;

/// Most annotations one world holds. Equal to the hub's per-connection annotation
/// backlog, so the full list always fits a new connection's first frame.
pub(crate) const ANNOTATIONS_PER_WORLD_MAX: usize = live::ANNOTATION_BACKLOG_MAX;

/// Longest note, in bytes of UTF-8 (as `live.proto` documents).
pub(crate) const TEXT_BYTES_MAX: usize = 4_096;

/// The record format's version byte; anything else is refused on load.
const RECORD_VERSION: u8 = 1;

/// The store table of a world's annotations.
pub(crate) fn table(world: &WorldId) -> Result<TableName, StoreError> {
    TableName::new(&format!("w/{world}/annotations"))
}

/// One stored annotation and who wrote it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Stored {
    /// The token id of the author.
    pub(crate) author_token: String,
    pub(crate) annotation: proto::Annotation,
}

impl Stored {
    /// The stored form (see the module documentation).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let token = self.author_token.as_bytes();
        // Token ids are short; one that does not fit in u16 is cut (it then only
        // loses its author the right to delete, which editors keep).
        let len = u16::try_from(token.len()).unwrap_or(u16::MAX);
        let mut out = Vec::with_capacity(3 + usize::from(len) + 64);
        out.push(RECORD_VERSION);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&token[..usize::from(len)]);
        // A Vec grows as needed, so the encoding cannot run out of room.
        self.annotation.encode_raw(&mut out);
        out
    }

    /// Reads the stored form; `None` when it is not one.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Stored> {
        let (&version, rest) = bytes.split_first()?;
        if version != RECORD_VERSION || rest.len() < 2 {
            return None;
        }
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let rest = &rest[2..];
        if rest.len() < len {
            return None;
        }
        let author_token = std::str::from_utf8(&rest[..len]).ok()?.to_owned();
        let annotation = proto::Annotation::decode(&rest[len..]).ok()?;
        Some(Stored {
            author_token,
            annotation,
        })
    }
}

/// A world's annotations in memory, by id, plus creates under way (so the bound
/// holds while commits are in flight).
#[derive(Debug, Default)]
pub(crate) struct Annotations {
    pub(crate) by_id: BTreeMap<String, Stored>,
    pub(crate) reserved: usize,
}

impl Annotations {
    /// Reads every stored annotation of `world`. Records that do not decode are
    /// skipped (and logged): one damaged note must not keep a world off the air.
    pub(crate) fn load(store: &dyn Store, world: &WorldId) -> Result<Annotations, StoreError> {
        let table = table(world)?;
        let mut by_id = BTreeMap::new();
        store.scan(&table, &mut |key, value| {
            match Stored::decode(value) {
                Some(stored) => {
                    by_id.insert(stored.annotation.id.clone(), stored);
                }
                None => tracing::error!(
                    world = %world,
                    key = %String::from_utf8_lossy(key),
                    "an annotation record does not decode; skipped"
                ),
            }
            true
        })?;
        Ok(Annotations { by_id, reserved: 0 })
    }

    /// The annotations in id order, as a new connection's first list.
    pub(crate) fn list(&self) -> Vec<proto::Annotation> {
        self.by_id.values().map(|s| s.annotation.clone()).collect()
    }
}

/// The batch that stores `stored`.
pub(crate) fn put_batch(world: &WorldId, stored: &Stored) -> Result<Batch, StoreError> {
    let mut batch = Batch::new();
    batch.put(
        &table(world)?,
        stored.annotation.id.as_bytes().to_vec(),
        stored.encode(),
    );
    Ok(batch)
}

/// The batch that deletes annotation `id`.
pub(crate) fn delete_batch(world: &WorldId, id: &str) -> Result<Batch, StoreError> {
    let mut batch = Batch::new();
    batch.delete(&table(world)?, id.as_bytes().to_vec());
    Ok(batch)
}

/// Checks a `CreateAnnotation`'s text and point; the twin is checked by the
/// caller against the world. Returns what was wrong.
pub(crate) fn check(request: &proto::CreateAnnotation) -> Result<(), String> {
    if request.text.is_empty() {
        return Err("CreateAnnotation.text is empty; a note needs 1 to 4,096 bytes".into());
    }
    if request.text.len() > TEXT_BYTES_MAX {
        return Err(format!(
            "CreateAnnotation.text is {} bytes; at most {TEXT_BYTES_MAX} are allowed",
            request.text.len()
        ));
    }
    if request.twin_id.is_empty() && request.point.is_none() {
        return Err("CreateAnnotation needs a twin_id, a point, or both".into());
    }
    if let Some(point) = &request.point
        && ![point.x, point.y, point.z].iter().all(|c| c.is_finite())
    {
        return Err("CreateAnnotation.point has a coordinate that is not a finite number".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Stored {
        Stored {
            author_token: "tok_abc".into(),
            annotation: proto::Annotation {
                id: "an-1".into(),
                twin_id: "pump-1".into(),
                point: Some(proto::Vec3 {
                    x: 1.0,
                    y: 2.0,
                    z: 3.0,
                }),
                text: "leaks at the flange".into(),
                author: "Ada".into(),
                created_at_unix_ns: 42,
            },
        }
    }

    #[test]
    fn a_record_round_trips_and_damaged_ones_are_refused() {
        let stored = sample();
        let bytes = stored.encode();
        assert_eq!(Stored::decode(&bytes), Some(stored));
        assert_eq!(Stored::decode(&[]), None);
        assert_eq!(Stored::decode(&[2, 0, 0]), None, "unknown version");
        assert_eq!(Stored::decode(&[1, 9, 0, b'a']), None, "token cut short");
        let mut bad_tail = bytes[..bytes.len() - 3].to_vec();
        bad_tail.push(0xff);
        assert_eq!(Stored::decode(&bad_tail), None, "protobuf cut short");
    }

    #[test]
    fn checks_refuse_empty_long_unpinned_and_non_finite_notes() {
        let ok = proto::CreateAnnotation {
            twin_id: String::new(),
            point: Some(proto::Vec3::default()),
            text: "x".into(),
        };
        assert!(check(&ok).is_ok());
        let empty = proto::CreateAnnotation {
            text: String::new(),
            ..ok.clone()
        };
        assert!(check(&empty).unwrap_err().contains("empty"));
        let long = proto::CreateAnnotation {
            text: "x".repeat(TEXT_BYTES_MAX + 1),
            ..ok.clone()
        };
        assert!(check(&long).unwrap_err().contains("4096"));
        let unpinned = proto::CreateAnnotation {
            point: None,
            ..ok.clone()
        };
        assert!(check(&unpinned).unwrap_err().contains("twin_id"));
        let nan = proto::CreateAnnotation {
            point: Some(proto::Vec3 {
                x: f64::NAN,
                y: 0.0,
                z: 0.0,
            }),
            ..ok
        };
        assert!(check(&nan).unwrap_err().contains("finite"));
    }
}
