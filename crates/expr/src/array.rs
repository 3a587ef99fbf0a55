//! Array literals: `{1,2,3}`, `{"a b",NULL}`, `{{1,2},{3,4}}`.
//!
//! Arrays are `Value::Array` of elements (nested `Value::Array`s for more
//! dimensions), lower bound 1. Quoting follows `array_out`: an element is quoted
//! when it is empty, spells `NULL`, or holds `{`, `}`, `,`, `"`, `\` or white
//! space; inside quotes `"` and `\` are backslash-escaped.
//! Corresponds to PostgreSQL's `utils/adt/arrayfuncs.c` (`array_in`, `array_out`).

use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use crate::io_text::{text_in, to_text};

fn malformed(text: &str, detail: &str) -> PgError {
    PgError::new(
        SqlState::INVALID_TEXT_REPRESENTATION,
        format!("malformed array literal: \"{text}\""),
    )
    .with_detail(detail.to_string())
}

struct Parser<'a> {
    text: &'a str,
    chars: Vec<char>,
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.chars.len() && self.chars[self.pos].is_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn eof(&self) -> PgError {
        malformed(self.text, "Unexpected end of input.")
    }

    fn unexpected(&self, c: char) -> PgError {
        malformed(self.text, &format!("Unexpected \"{c}\" character."))
    }

    /// `{ elem, elem, ... }` starting at `{`.
    fn level(&mut self, elem: &DataType) -> PgResult<Vec<Value>> {
        self.pos += 1; // '{'
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some('}') {
            self.pos += 1;
            return Ok(items);
        }
        loop {
            self.skip_ws();
            let c = self.peek().ok_or_else(|| self.eof())?;
            let item = match c {
                '{' => Value::Array(self.level(elem)?),
                '"' => {
                    let s = self.quoted()?;
                    text_in(&s, elem)?
                }
                ',' | '}' => return Err(self.unexpected(c)),
                _ => {
                    let (s, had_escape) = self.unquoted()?;
                    if !had_escape && s.eq_ignore_ascii_case("null") {
                        Value::Null
                    } else {
                        text_in(&s, elem)?
                    }
                }
            };
            items.push(item);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {
                    self.pos += 1;
                    return Ok(items);
                }
                Some(c) => return Err(self.unexpected(c)),
                None => return Err(self.eof()),
            }
        }
    }

    fn quoted(&mut self) -> PgResult<String> {
        self.pos += 1;
        let mut s = String::new();
        loop {
            let c = self.peek().ok_or_else(|| self.eof())?;
            self.pos += 1;
            match c {
                '"' => return Ok(s),
                '\\' => {
                    let n = self.peek().ok_or_else(|| self.eof())?;
                    self.pos += 1;
                    s.push(n);
                }
                _ => s.push(c),
            }
        }
    }

    fn unquoted(&mut self) -> PgResult<(String, bool)> {
        let mut s = String::new();
        let mut escaped = false;
        let mut trailing_ws_from: Option<usize> = None;
        while let Some(c) = self.peek() {
            match c {
                ',' | '}' => break,
                '{' | '"' => return Err(self.unexpected(c)),
                '\\' => {
                    self.pos += 1;
                    let n = self.peek().ok_or_else(|| self.eof())?;
                    s.push(n);
                    escaped = true;
                    trailing_ws_from = None;
                }
                c if c.is_whitespace() => {
                    if trailing_ws_from.is_none() {
                        trailing_ws_from = Some(s.len());
                    }
                    s.push(c);
                }
                _ => {
                    s.push(c);
                    trailing_ws_from = None;
                }
            }
            self.pos += 1;
        }
        if let Some(cut) = trailing_ws_from {
            s.truncate(cut);
        }
        Ok((s, escaped))
    }
}

/// `array_in` for an array of `elem`.
pub fn parse_array(text: &str, elem: &DataType) -> PgResult<Value> {
    let mut p = Parser {
        text,
        chars: text.chars().collect(),
        pos: 0,
    };
    p.skip_ws();
    if p.peek() == Some('[') {
        // explicit dimensions `[1:3]=`: accepted and ignored (lower bound 1 assumed)
        while let Some(c) = p.peek() {
            p.pos += 1;
            if c == '=' {
                break;
            }
        }
        p.skip_ws();
    }
    if p.peek() != Some('{') {
        return Err(malformed(
            text,
            "Array value must start with \"{\" or dimension information.",
        ));
    }
    let items = p.level(elem)?;
    p.skip_ws();
    if p.pos != p.chars.len() {
        return Err(malformed(text, "Junk after closing right brace."));
    }
    Ok(Value::Array(items))
}

fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.eq_ignore_ascii_case("null")
        || s.chars()
            .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_ascii_whitespace())
}

/// `array_out`.
pub fn format_array(items: &[Value], out: &mut String) {
    out.push('{');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match item {
            Value::Null => out.push_str("NULL"),
            Value::Array(inner) => format_array(inner, out),
            other => {
                let s = to_text(other);
                if needs_quotes(&s) {
                    out.push('"');
                    for c in s.chars() {
                        if c == '"' || c == '\\' {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                } else {
                    out.push_str(&s);
                }
            }
        }
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(text: &str, elem: DataType) -> String {
        to_text(&parse_array(text, &elem).unwrap())
    }

    #[test]
    fn output_quoting_matches_array_out() {
        assert_eq!(
            rt(
                "{\"a b\",NULL,\"\",\"null\",\"x\\\\y\",\"q\\\"r\"}",
                DataType::Text
            ),
            "{\"a b\",NULL,\"\",\"null\",\"x\\\\y\",\"q\\\"r\"}"
        );
        assert_eq!(rt("  {1, 2 , 3}  ", DataType::Int4), "{1,2,3}");
        assert_eq!(rt("{}", DataType::Int4), "{}");
        assert_eq!(rt("{{1,2},{3,4}}", DataType::Int4), "{{1,2},{3,4}}");
        assert_eq!(rt("{\\\\x01}", DataType::Bytea), "{\"\\\\x01\"}");
        assert_eq!(rt("[1:2]={7,8}", DataType::Int8), "{7,8}");
        assert_eq!(rt("{a b , c}", DataType::Text), "{\"a b\",c}");
        let v = parse_array("{1,NULL}", &DataType::Int4).unwrap();
        assert_eq!(v, Value::Array(vec![Value::Int4(1), Value::Null]));
    }

    #[test]
    fn malformed_literals_fail_like_postgres() {
        let e = parse_array("{1,2", &DataType::Int4).unwrap_err();
        assert_eq!(e.message, "malformed array literal: \"{1,2\"");
        assert_eq!(e.detail.as_deref(), Some("Unexpected end of input."));
        let e = parse_array("x", &DataType::Int4).unwrap_err();
        assert_eq!(
            e.detail.as_deref(),
            Some("Array value must start with \"{\" or dimension information.")
        );
        let e = parse_array("{1}x", &DataType::Int4).unwrap_err();
        assert_eq!(e.detail.as_deref(), Some("Junk after closing right brace."));
        let e = parse_array("{a}", &DataType::Int4).unwrap_err();
        assert_eq!(e.message, "invalid input syntax for type integer: \"a\"");
    }
}
