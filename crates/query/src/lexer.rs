//! Splits query text into tokens, each with its byte span. Keywords are not
//! recognised here: the parser reads an identifier as a keyword only where a
//! keyword may stand, so that `T.from` or `T.count` stay ordinary property names.

use crate::ast::Span;
use crate::error::{QueryError, QueryErrorKind};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    /// Letters, digits, `_`, and `$` in first place (`$dtId`, `$metadata`).
    Ident,
    /// A quoted string, escapes resolved.
    Str(String),
    /// A number as written (sign included), already known to parse as JSON.
    Number(serde_json::Number),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Star,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Eof,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) span: Span,
}

impl TokenKind {
    /// How a token kind is named in "expected ..." messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            TokenKind::Ident => "a name",
            TokenKind::Str(_) => "a string",
            TokenKind::Number(_) => "a number",
            TokenKind::LParen => "'('",
            TokenKind::RParen => "')'",
            TokenKind::LBracket => "'['",
            TokenKind::RBracket => "']'",
            TokenKind::Comma => "','",
            TokenKind::Dot => "'.'",
            TokenKind::Star => "'*'",
            TokenKind::Eq => "'='",
            TokenKind::Ne => "'!='",
            TokenKind::Lt => "'<'",
            TokenKind::Le => "'<='",
            TokenKind::Gt => "'>'",
            TokenKind::Ge => "'>='",
            TokenKind::Eof => "the end of the query",
        }
    }
}

fn syntax(text: &str, offset: usize, len: usize, message: impl Into<String>) -> QueryError {
    QueryError::new(QueryErrorKind::Syntax, text, offset, len, message)
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'$'
}

fn is_ident_continue(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Tokenises the whole text; the last token is always `Eof`.
pub(crate) fn lex(text: &str) -> Result<Vec<Token>, QueryError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let single = |kind| Token {
            kind,
            span: Span::new(start, 1),
        };
        let token = match c {
            b'(' => single(TokenKind::LParen),
            b')' => single(TokenKind::RParen),
            b'[' => single(TokenKind::LBracket),
            b']' => single(TokenKind::RBracket),
            b',' => single(TokenKind::Comma),
            b'.' if !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => single(TokenKind::Dot),
            b'*' => single(TokenKind::Star),
            b'=' => single(TokenKind::Eq),
            b'!' => {
                if bytes.get(i + 1) == Some(&b'=') {
                    Token {
                        kind: TokenKind::Ne,
                        span: Span::new(start, 2),
                    }
                } else {
                    return Err(syntax(
                        text,
                        start,
                        1,
                        "expected '!=' ('!' alone is not an operator; use NOT)",
                    ));
                }
            }
            b'<' => match bytes.get(i + 1) {
                Some(b'=') => Token {
                    kind: TokenKind::Le,
                    span: Span::new(start, 2),
                },
                Some(b'>') => Token {
                    kind: TokenKind::Ne,
                    span: Span::new(start, 2),
                },
                _ => single(TokenKind::Lt),
            },
            b'>' => match bytes.get(i + 1) {
                Some(b'=') => Token {
                    kind: TokenKind::Ge,
                    span: Span::new(start, 2),
                },
                _ => single(TokenKind::Gt),
            },
            b'\'' | b'"' => lex_string(text, start)?,
            b'-' | b'.' | b'0'..=b'9' => lex_number(text, start)?,
            c if is_ident_start(c) => {
                let mut end = i + 1;
                while end < bytes.len() && is_ident_continue(bytes[end]) {
                    end += 1;
                }
                Token {
                    kind: TokenKind::Ident,
                    span: Span::new(start, end - start),
                }
            }
            _ => {
                // Point at the whole character, not at one byte of it.
                let len = text[start..].chars().next().map_or(1, char::len_utf8);
                return Err(syntax(
                    text,
                    start,
                    len,
                    "unexpected character; expected a name, a string, a number or one of ( ) [ ] , . * = != <> < <= > >=",
                ));
            }
        };
        i = token.span.offset + token.span.len;
        tokens.push(token);
    }
    tokens.push(Token {
        kind: TokenKind::Eof,
        span: Span::new(text.len(), 0),
    });
    Ok(tokens)
}

fn lex_string(text: &str, start: usize) -> Result<Token, QueryError> {
    let bytes = text.as_bytes();
    let quote = bytes[start];
    let mut value = String::new();
    let mut i = start + 1;
    // Copy runs of plain characters in one go; they are valid UTF-8 because they end
    // at an ASCII quote or backslash.
    let mut run_start = i;
    while i < bytes.len() {
        match bytes[i] {
            c if c == quote => {
                value.push_str(&text[run_start..i]);
                return Ok(Token {
                    kind: TokenKind::Str(value),
                    span: Span::new(start, i + 1 - start),
                });
            }
            b'\\' => {
                value.push_str(&text[run_start..i]);
                let escaped = match bytes.get(i + 1) {
                    Some(b'\\') => '\\',
                    Some(b'\'') => '\'',
                    Some(b'"') => '"',
                    Some(b'n') => '\n',
                    Some(b't') => '\t',
                    Some(b'r') => '\r',
                    Some(b'/') => '/',
                    _ => {
                        let len = text[i + 1..].chars().next().map_or(0, char::len_utf8) + 1;
                        return Err(syntax(
                            text,
                            i,
                            len,
                            "unknown escape in string; allowed are \\\\ \\' \\\" \\n \\t \\r \\/",
                        ));
                    }
                };
                value.push(escaped);
                i += 2;
                run_start = i;
            }
            _ => i += 1,
        }
    }
    Err(syntax(
        text,
        start,
        text.len() - start,
        "unterminated string; expected a closing quote",
    ))
}

fn lex_number(text: &str, start: usize) -> Result<Token, QueryError> {
    let bytes = text.as_bytes();
    let mut i = start;
    if bytes[i] == b'-' {
        i += 1;
    }
    let digits_start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - digits_start;
    let mut frac_digits = 0;
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - frac_start;
    }
    if int_digits + frac_digits == 0 {
        return Err(syntax(
            text,
            start,
            i.max(start + 1) - start,
            "expected a digit",
        ));
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        let mut j = i + 1;
        if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
            j += 1;
        }
        let exp_start = j;
        while j < bytes.len() && bytes[j].is_ascii_digit() {
            j += 1;
        }
        if j == exp_start {
            return Err(syntax(
                text,
                start,
                j - start,
                "expected digits after the exponent 'e'",
            ));
        }
        i = j;
    }
    if i < bytes.len() && is_ident_continue(bytes[i]) {
        let mut end = i;
        while end < bytes.len() && is_ident_continue(bytes[end]) {
            end += 1;
        }
        return Err(syntax(
            text,
            start,
            end - start,
            "a name cannot start with a digit; expected a number",
        ));
    }
    // Whole numbers stay exact integers when they fit; everything else becomes the
    // nearest f64 (Rust's parser rounds correctly, so a re-printed number parses
    // back to the same value).
    let raw = &text[start..i];
    let is_integer = !raw.contains(['.', 'e', 'E']);
    let integer = if is_integer {
        raw.parse::<i64>()
            .map(serde_json::Number::from)
            .or_else(|_| raw.parse::<u64>().map(serde_json::Number::from))
            .ok()
    } else {
        None
    };
    let number = integer.or_else(|| {
        raw.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .and_then(serde_json::Number::from_f64)
    });
    match number {
        Some(number) => Ok(Token {
            kind: TokenKind::Number(number),
            span: Span::new(start, i - start),
        }),
        None => Err(syntax(
            text,
            start,
            i - start,
            "number out of range; expected a finite number",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<String> {
        lex(text)
            .unwrap()
            .into_iter()
            .map(|t| format!("{:?}@{}+{}", t.kind, t.span.offset, t.span.len))
            .collect()
    }

    #[test]
    fn operators_and_numbers_have_exact_spans() {
        assert_eq!(
            kinds("a<>-1.5e2 <= .5"),
            [
                "Ident@0+1",
                "Ne@1+2",
                "Number(Number(-150.0))@3+6",
                "Le@10+2",
                "Number(Number(0.5))@13+2",
                "Eof@15+0"
            ]
        );
    }

    #[test]
    fn strings_resolve_escapes() {
        assert_eq!(
            kinds(r#"'it\'s' "q\"""#),
            ["Str(\"it's\")@0+7", "Str(\"q\\\"\")@8+5", "Eof@13+0"]
        );
    }

    #[test]
    fn numbers_round_trip_through_display() {
        for text in [
            "2010000000000000000000000000004457664474921187559",
            "0.1",
            "-.5",
            "5.",
            "1e-7",
            "18446744073709551615",
            "-9223372036854775808",
        ] {
            let tokens = lex(text).unwrap();
            let TokenKind::Number(n) = &tokens[0].kind else {
                panic!("{text}")
            };
            let again = lex(&n.to_string()).unwrap();
            assert_eq!(again[0].kind, tokens[0].kind, "{text} -> {n}");
        }
    }

    #[test]
    fn non_ascii_character_error_covers_the_whole_char() {
        let err = lex("a é").unwrap_err();
        assert_eq!((err.offset, err.len), (2, 2));
    }
}
