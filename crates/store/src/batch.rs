//! What a writer hands to the store: validated table names, single writes and
//! batches of writes that are applied all-or-nothing, with the size limits every
//! backend enforces and the byte accounting that group-commit backpressure uses.

use std::fmt;

use crate::StoreError;

/// Longest table name. Names are composed by the server from a world name (at most
/// 63 characters) and a table kind, so 200 leaves ample room while keeping names
/// printable in errors and logs.
pub const TABLE_NAME_CHARS_MAX: usize = 200;

/// Largest key. Keys are ids the server composes (twin ids, relationship ids, Seq
/// numbers); 16 KiB is far above any of them and small enough that a B-tree page
/// still holds several keys.
pub const KEY_BYTES_MAX: usize = 16 * 1024;

/// Largest value. Values are serialised twins, models and snapshot chunks; 64 MiB
/// bounds the memory one write can pin in a transaction. Bigger blobs must be
/// chunked by the caller.
pub const VALUE_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Bytes charged per write on top of its key and value, so that a batch of many
/// empty writes still counts against queue and batch limits (each write costs a
/// `Write` struct, two vectors and a B-tree update).
pub const WRITE_OVERHEAD_BYTES: usize = 64;

/// A validated table name: 1 to [`TABLE_NAME_CHARS_MAX`] characters from
/// `[a-z0-9_/.-]`, e.g. `w/default/twins`. Tables are created by the first write
/// that touches them.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableName(String);

impl TableName {
    /// Checks `name` against the naming rule.
    pub fn new(name: &str) -> Result<Self, StoreError> {
        let refuse = |reason: String| StoreError::InvalidTableName {
            // Keep the error readable even for a megabyte of garbage.
            name: name.chars().take(TABLE_NAME_CHARS_MAX + 8).collect(),
            reason,
            max: TABLE_NAME_CHARS_MAX,
        };
        if name.is_empty() {
            return Err(refuse("the name is empty".to_owned()));
        }
        let chars = name.chars().count();
        if chars > TABLE_NAME_CHARS_MAX {
            return Err(refuse(format!("the name has {chars} characters")));
        }
        if let Some((index, bad)) = name
            .char_indices()
            .find(|&(_, c)| !matches!(c, 'a'..='z' | '0'..='9' | '_' | '/' | '.' | '-'))
        {
            return Err(refuse(format!(
                "character {bad:?} at byte {index} is not allowed"
            )));
        }
        Ok(TableName(name.to_owned()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl AsRef<str> for TableName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for TableName {
    type Error = StoreError;
    fn try_from(name: &str) -> Result<Self, StoreError> {
        TableName::new(name)
    }
}

/// One change to one key: `Some(value)` puts, `None` deletes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// The table the key lives in.
    pub table: TableName,
    /// The key (opaque bytes, ordered bytewise).
    pub key: Vec<u8>,
    /// The new value, or `None` to delete the key.
    pub value: Option<Vec<u8>>,
}

impl Write {
    /// A write that sets `key` to `value`.
    pub fn put(table: &TableName, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        Write {
            table: table.clone(),
            key: key.into(),
            value: Some(value.into()),
        }
    }

    /// A write that deletes `key` (a no-op when it is absent).
    pub fn delete(table: &TableName, key: impl Into<Vec<u8>>) -> Self {
        Write {
            table: table.clone(),
            key: key.into(),
            value: None,
        }
    }

    /// Bytes this write is charged for limits: key, value and a fixed overhead.
    pub fn size_bytes(&self) -> usize {
        WRITE_OVERHEAD_BYTES
            .saturating_add(self.table.as_str().len())
            .saturating_add(self.key.len())
            .saturating_add(self.value.as_ref().map_or(0, Vec::len))
    }

    /// Checks the key and value against [`KEY_BYTES_MAX`] and [`VALUE_BYTES_MAX`].
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.key.len() > KEY_BYTES_MAX {
            return Err(StoreError::KeyTooLarge {
                table: self.table.as_str().to_owned(),
                bytes: self.key.len(),
                max: KEY_BYTES_MAX,
            });
        }
        if let Some(value) = &self.value
            && value.len() > VALUE_BYTES_MAX
        {
            return Err(StoreError::ValueTooLarge {
                table: self.table.as_str().to_owned(),
                bytes: value.len(),
                max: VALUE_BYTES_MAX,
            });
        }
        Ok(())
    }
}

/// Writes applied atomically, in order: when two writes touch the same key, the
/// later one wins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// The writes, in the order they apply.
    pub writes: Vec<Write>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Batch::default()
    }

    /// Appends a put of `key` = `value` in `table`.
    pub fn put(&mut self, table: &TableName, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.writes.push(Write::put(table, key, value));
    }

    /// Appends a delete of `key` in `table`.
    pub fn delete(&mut self, table: &TableName, key: impl Into<Vec<u8>>) {
        self.writes.push(Write::delete(table, key));
    }

    /// True when the batch has no writes.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Bytes this batch is charged for queue and batch limits.
    pub fn size_bytes(&self) -> usize {
        self.writes
            .iter()
            .fold(0usize, |sum, write| sum.saturating_add(write.size_bytes()))
    }

    /// Checks every write against the per-key and per-value limits.
    pub fn validate(&self) -> Result<(), StoreError> {
        self.writes.iter().try_for_each(Write::validate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_follow_the_rule() {
        for good in [
            "a",
            "w/default/twins",
            "0.9_x-y",
            &"z".repeat(TABLE_NAME_CHARS_MAX),
        ] {
            assert_eq!(
                TableName::new(good).map(|n| n.to_string()),
                Ok(good.to_owned())
            );
        }
        let cases = [
            ("", "the name is empty"),
            ("Twins", "character 'T' at byte 0 is not allowed"),
            ("w/default twins", "character ' ' at byte 9 is not allowed"),
            ("w/é", "character 'é' at byte 2 is not allowed"),
            ("a\0", "character '\\0' at byte 1 is not allowed"),
        ];
        for (bad, reason) in cases {
            match TableName::new(bad) {
                Err(StoreError::InvalidTableName { reason: got, .. }) => assert_eq!(got, reason),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
        let long = "a".repeat(TABLE_NAME_CHARS_MAX + 1);
        let error = TableName::new(&long).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "invalid table name {:?}: the name has 201 characters; allowed: 1 to 200 characters from [a-z0-9_/.-]",
                long
            )
        );
    }

    proptest::proptest! {
        #[test]
        fn any_string_is_a_table_name_exactly_when_the_rule_allows(name in "[a-z0-9_/.A-Z -]{0,210}|\\PC{0,8}") {
            let allowed = (1..=TABLE_NAME_CHARS_MAX).contains(&name.chars().count())
                && name.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'/' | b'.' | b'-'));
            let parsed = TableName::new(&name);
            proptest::prop_assert_eq!(parsed.is_ok(), allowed, "{:?} -> {:?}", name, parsed);
            if let Ok(table) = parsed {
                proptest::prop_assert_eq!(table.as_str(), name.as_str());
            }
        }
    }

    #[test]
    fn oversized_keys_and_values_are_refused_with_their_sizes() {
        let table = TableName::new("t").unwrap();
        let mut batch = Batch::new();
        batch.put(&table, vec![0; KEY_BYTES_MAX], vec![1; 10]);
        assert_eq!(batch.validate(), Ok(()));
        batch.put(&table, vec![0; KEY_BYTES_MAX + 1], vec![]);
        assert_eq!(
            batch.validate(),
            Err(StoreError::KeyTooLarge {
                table: "t".to_owned(),
                bytes: KEY_BYTES_MAX + 1,
                max: KEY_BYTES_MAX
            })
        );
        let mut batch = Batch::new();
        batch.put(&table, "k", vec![0; VALUE_BYTES_MAX + 1]);
        let error = batch.validate().unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("value of 67108865 bytes in table \"t\" is too large"),
            "{error}"
        );
    }

    #[test]
    fn size_counts_every_write_even_empty_ones() {
        let table = TableName::new("tt").unwrap();
        let mut batch = Batch::new();
        batch.delete(&table, "");
        batch.put(&table, "key", "value");
        assert_eq!(batch.size_bytes(), 2 * (WRITE_OVERHEAD_BYTES + 2) + 3 + 5);
    }
}
