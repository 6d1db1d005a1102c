//! The crate's one error type: where in the query text the problem is, and what
//! was expected there instead.

use std::fmt;

/// What kind of problem a [`QueryError`] reports, so that callers can map it (the
/// server answers all three with 400, but logs limits differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryErrorKind {
    /// The text does not fit the grammar.
    Syntax,
    /// The text is well formed but cannot be answered: an unknown alias or
    /// function, a wrong argument, an aggregate mixed with ungrouped columns.
    Invalid,
    /// Running the query would exceed one of the [`crate::Limits`].
    LimitExceeded,
}

/// A query that could not be parsed or run. `offset` and `len` are the byte span of
/// the offending token in the query text (`len` 0 at the end of the input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct QueryError {
    /// What kind of problem this is.
    pub kind: QueryErrorKind,
    /// Byte offset of the offending token.
    pub offset: usize,
    /// Length in bytes of the offending token.
    pub len: usize,
    /// The offending token's text, shortened for display (empty at end of input).
    pub token: String,
    /// What was wrong and what is allowed there.
    pub message: String,
}

/// How much of a long token the message repeats; the span still covers all of it.
const TOKEN_DISPLAY_CHARS_MAX: usize = 40;

impl QueryError {
    pub(crate) fn new(
        kind: QueryErrorKind,
        text: &str,
        offset: usize,
        len: usize,
        message: impl Into<String>,
    ) -> Self {
        // Spans come from the lexer and always sit on char boundaries; `get` keeps a
        // bad span from panicking all the same.
        let raw = text.get(offset..offset + len).unwrap_or("");
        let token = match raw.char_indices().nth(TOKEN_DISPLAY_CHARS_MAX) {
            Some((cut, _)) => format!("{}...", &raw[..cut]),
            None => raw.to_owned(),
        };
        QueryError {
            kind,
            offset,
            len,
            token,
            message: message.into(),
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.len == 0 && self.token.is_empty() {
            write!(
                f,
                "at offset {} (end of input): {}",
                self.offset, self.message
            )
        } else {
            write!(
                f,
                "at offset {} ('{}'): {}",
                self.offset, self.token, self.message
            )
        }
    }
}
