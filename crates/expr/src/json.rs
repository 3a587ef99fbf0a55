//! `json` and `jsonb` values: the document tree, `jsonb`'s normal form, and
//! the operators both types share (PostgreSQL's `utils/adt/json.c`,
//! `jsonb.c`, `jsonfuncs.c`, `jsonb_op.c`).
//!
//! Both types are held as text (`Value::Text`): `json` exactly as it was
//! written, `jsonb` in its normal form ([`Json::jsonb_text`]: object keys
//! ordered by length then bytes, the last of duplicate keys kept, numbers
//! as `numeric` prints them, PostgreSQL's spacing). Operators parse the
//! text into a [`Json`] tree. Syntax errors are `io_text`'s check, so that
//! both types report PostgreSQL's messages. The functions are in
//! `functions/json.rs`.

use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use crate::BinOp;

/// A parsed document.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The number's text (a `jsonb`'s: as `numeric` prints it).
    Number(String),
    String(String),
    Array(Vec<Json>),
    /// Members in document order (`jsonb`: normal order, keys unique).
    Object(Vec<(String, Json)>),
}

/// Parses a document; a syntax error is PostgreSQL's (`invalid input
/// syntax for type json`, DETAIL saying what was expected, CONTEXT the
/// input up to the offending token).
pub fn parse(text: &str) -> PgResult<Json> {
    let mut p = Parser {
        b: text.as_bytes(),
        i: 0,
        text,
    };
    let v = p.value(0)?;
    p.ws();
    if p.i < p.b.len() {
        let (tok, end) = p.token();
        return Err(p.error(format!("Expected end of input, but found \"{tok}\"."), end));
    }
    Ok(v)
}

/// Checks a document's syntax (`json` keeps its text).
pub fn check(text: &str) -> PgResult<()> {
    parse(text).map(|_| ())
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    text: &'a str,
}

/// What the parser expects where it failed, for PostgreSQL's DETAIL.
#[derive(Clone, Copy)]
enum Expect {
    Value,
    ArrayFirst,
    ArrayNext,
    ObjectFirst,
    ObjectNext,
    Key,
    Colon,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    /// The token at the cursor (PostgreSQL's lexer: one punctuation
    /// character, a string, or a run of letters, digits and number signs)
    /// and where it ends.
    fn token(&self) -> (&str, usize) {
        let start = self.i;
        let b = self.b;
        let end = match b.get(start) {
            None => start,
            Some(b'"') => {
                let mut j = start + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                (j + 1).min(b.len())
            }
            Some(c) if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'+' | b'_') => {
                let mut j = start;
                while j < b.len()
                    && (b[j].is_ascii_alphanumeric()
                        || matches!(b[j], b'-' | b'.' | b'+' | b'_')
                        || b[j] >= 0x80)
                {
                    j += 1;
                }
                j
            }
            Some(_) => {
                let mut j = start + 1;
                while !self.text.is_char_boundary(j) {
                    j += 1;
                }
                j
            }
        };
        (&self.text[start..end], end)
    }

    fn error(&self, detail: String, token_end: usize) -> PgError {
        let end = token_end.min(self.text.len());
        let line_start = self.text[..end].rfind('\n').map_or(0, |n| n + 1);
        let line = self.text[..end].matches('\n').count() + 1;
        let mut from = line_start;
        let prefix = if end - line_start > 30 {
            from = end - 30;
            while !self.text.is_char_boundary(from) {
                from += 1;
            }
            "..."
        } else {
            ""
        };
        let suffix = if end < self.text.len() { "..." } else { "" };
        PgError::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            "invalid input syntax for type json",
        )
        .with_detail(detail)
        .with_context(format!(
            "JSON data, line {line}: {prefix}{}{suffix}",
            &self.text[from..end]
        ))
    }

    /// The error for the token at the cursor where `expect` was expected.
    fn unexpected(&self, expect: Expect) -> PgError {
        if self.i >= self.b.len() {
            return self.error("The input string ended unexpectedly.".into(), self.i);
        }
        let (tok, end) = self.token();
        let valid_word = matches!(tok, "true" | "false" | "null")
            || tok.starts_with('"')
            || tok.len() == 1 && "{}[],:".contains(tok)
            || number_ok(tok);
        if !valid_word {
            return self.error(format!("Token \"{tok}\" is invalid."), end);
        }
        let what = match expect {
            Expect::Value => "JSON value",
            Expect::ArrayFirst => "array element or \"]\"",
            Expect::ArrayNext => "\",\" or \"]\"",
            Expect::ObjectFirst => "string or \"}\"",
            Expect::ObjectNext => "\",\" or \"}\"",
            Expect::Key => "string",
            Expect::Colon => "\":\"",
        };
        self.error(format!("Expected {what}, but found \"{tok}\"."), end)
    }

    fn value(&mut self, depth: u32) -> PgResult<Json> {
        self.value_or(depth, Expect::Value)
    }

    fn value_or(&mut self, depth: u32, expect: Expect) -> PgResult<Json> {
        self.ws();
        if depth > 6400 {
            return Err(PgError::new(
                SqlState::STATEMENT_TOO_COMPLEX,
                "stack depth limit exceeded",
            ));
        }
        let Some(&c) = self.b.get(self.i) else {
            return Err(self.unexpected(expect));
        };
        Ok(match c {
            b'{' => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Object(members));
                }
                let mut expect_key = Expect::ObjectFirst;
                loop {
                    self.ws();
                    if self.b.get(self.i) != Some(&b'"') {
                        return Err(self.unexpected(expect_key));
                    }
                    let key = self.string()?;
                    self.ws();
                    if self.b.get(self.i) != Some(&b':') {
                        return Err(self.unexpected(Expect::Colon));
                    }
                    self.i += 1;
                    let v = self.value(depth + 1)?;
                    members.push((key, v));
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Object(members));
                        }
                        _ => return Err(self.unexpected(Expect::ObjectNext)),
                    }
                    expect_key = Expect::Key;
                }
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Array(items));
                }
                let mut expect_item = Expect::ArrayFirst;
                loop {
                    items.push(self.value_or(depth + 1, expect_item)?);
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Array(items));
                        }
                        _ => return Err(self.unexpected(Expect::ArrayNext)),
                    }
                    expect_item = Expect::Value;
                }
            }
            b'"' => Json::String(self.string()?),
            _ => {
                let (tok, end) = self.token();
                let v = match tok {
                    "true" => Json::Bool(true),
                    "false" => Json::Bool(false),
                    "null" => Json::Null,
                    t if number_ok(t) => Json::Number(t.to_string()),
                    _ => return Err(self.unexpected(expect)),
                };
                self.i = end;
                v
            }
        })
    }

    fn string(&mut self) -> PgResult<String> {
        let start = self.i;
        self.i += 1; // '"'
        let mut out = String::new();
        let mut run = self.i;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'"' => {
                    out.push_str(&self.text[run..self.i]);
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&self.text[run..self.i]);
                    let esc = self.b.get(self.i + 1).copied();
                    self.i += 2;
                    match esc {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => out.push(self.unicode_escape()?),
                        None => {
                            return Err(
                                self.error("The input string ended unexpectedly.".into(), self.i)
                            )
                        }
                        Some(c) => {
                            let mut end = self.i;
                            while !self.text.is_char_boundary(end) {
                                end += 1;
                            }
                            let _ = c;
                            return Err(self.error(
                                format!(
                                    "Escape sequence \"{}\" is invalid.",
                                    &self.text[self.i - 2..end]
                                ),
                                end,
                            ));
                        }
                    }
                    run = self.i;
                }
                c if c < 0x20 => {
                    return Err(self.error(
                        format!("Character with value 0x{c:02x} must be escaped."),
                        self.i + 1,
                    ))
                }
                _ => self.i += 1,
            }
        }
        self.i = start;
        Err(self.error(
            "The input string ended unexpectedly.".into(),
            self.text.len(),
        ))
    }

    /// The character of a `\uXXXX` escape (a surrogate pair is two).
    fn unicode_escape(&mut self) -> PgResult<char> {
        let hex = |p: &mut Self| -> PgResult<u32> {
            let digits = p
                .text
                .get(p.i..p.i + 4)
                .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()));
            let Some(s) = digits else {
                return Err(p.error(
                    "\"\\u\" must be followed by four hexadecimal digits.".into(),
                    (p.i + 4).min(p.text.len()),
                ));
            };
            p.i += 4;
            u32::from_str_radix(s, 16).map_err(|_| PgError::internal("hex digits"))
        };
        let hi = hex(self)?;
        let code = if (0xD800..0xDC00).contains(&hi) && self.text[self.i..].starts_with("\\u") {
            self.i += 2;
            let lo = hex(self)?;
            0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
        } else {
            hi
        };
        if code == 0 {
            return Err(PgError::new(
                SqlState::UNTRANSLATABLE_CHARACTER,
                "unsupported Unicode escape sequence",
            )
            .with_detail("\\u0000 cannot be converted to text.")
            .with_context(
                self.error(String::new(), self.i)
                    .context
                    .unwrap_or_default(),
            ));
        }
        char::from_u32(code).ok_or_else(|| {
            self.error(
                "Unicode low surrogate must follow a high surrogate.".into(),
                self.i,
            )
        })
    }
}

/// Whether a lexer word is a JSON number.
fn number_ok(t: &str) -> bool {
    let b = t.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_len = i - int_start;
    if int_len == 0 || (int_len > 1 && b[int_start] == b'0') {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == s {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == s {
            return false;
        }
    }
    i == b.len()
}

/// A JSON string literal of `s` (PostgreSQL's `escape_json`).
pub fn quote(s: &str, out: &mut String) {
    tandem_types::ident::quote_json_string(s, out)
}

/// `numeric`'s text of a JSON number (`1e2` is `100`); the text itself
/// when `numeric` cannot hold it.
fn number_text(n: &str) -> String {
    match crate::numeric::parse(n) {
        Ok(d) => crate::io_text::to_text(&Value::Numeric(d)),
        Err(_) => n.to_string(),
    }
}

impl Json {
    /// The `jsonb` normal form of this document.
    pub fn normalize(self) -> Json {
        match self {
            Json::Number(n) => Json::Number(number_text(&n)),
            Json::Array(items) => Json::Array(items.into_iter().map(Json::normalize).collect()),
            Json::Object(members) => {
                let mut m: Vec<(String, Json)> = Vec::with_capacity(members.len());
                for (k, v) in members {
                    let v = v.normalize();
                    match m.iter_mut().find(|(mk, _)| *mk == k) {
                        Some(slot) => slot.1 = v,
                        None => m.push((k, v)),
                    }
                }
                m.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.cmp(&b.0)));
                Json::Object(m)
            }
            other => other,
        }
    }

    /// The document's text with PostgreSQL's `jsonb` spacing
    /// (`{"a": 1, "b": [1, 2]}`).
    pub fn jsonb_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, ": ", ", ");
        out
    }

    /// The text `json_build_object` makes (`{"a" : 1}`).
    pub fn json_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, " : ", ", ");
        out
    }

    /// The text `row_to_json` and `array_to_json` make (`{"a":1,"b":[1,2]}`).
    pub fn compact_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, ":", ",");
        out
    }

    fn write(&self, out: &mut String, colon: &str, sep: &str) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(n),
            Json::String(s) => quote(s, out),
            Json::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(sep);
                    }
                    v.write(out, colon, sep);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(sep);
                    }
                    quote(k, out);
                    out.push_str(colon);
                    v.write(out, colon, sep);
                }
                out.push('}');
            }
        }
    }

    /// `jsonb_pretty`: a member or element per line, four spaces a level.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write_pretty(&mut out, 0);
        out
    }

    fn write_pretty(&self, out: &mut String, level: usize) {
        let indent = |out: &mut String, level: usize| {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', 4 * level));
        };
        match self {
            Json::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    indent(out, level + 1);
                    v.write_pretty(out, level + 1);
                }
                indent(out, level);
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    indent(out, level + 1);
                    quote(k, out);
                    out.push_str(": ");
                    v.write_pretty(out, level + 1);
                }
                indent(out, level);
                out.push('}');
            }
            scalar => scalar.write(out, ": ", ", "),
        }
    }

    /// `jsonb_typeof`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "boolean",
            Json::Number(_) => "number",
            Json::String(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        }
    }

    /// `->` with a key.
    pub fn field(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(m) => m.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// `->` with an index (negative: from the end).
    pub fn element(&self, index: i64) -> Option<&Json> {
        match self {
            Json::Array(items) => {
                let i = if index < 0 {
                    items.len() as i64 + index
                } else {
                    index
                };
                usize::try_from(i).ok().and_then(|i| items.get(i))
            }
            _ => None,
        }
    }

    /// `#>`: a path of keys and (for arrays) indexes.
    pub fn path(&self, path: &[Option<String>]) -> Option<&Json> {
        let mut cur = self;
        for step in path {
            let step = step.as_deref()?;
            cur = match cur {
                Json::Object(_) => cur.field(step)?,
                Json::Array(_) => cur.element(step.trim().parse().ok()?)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// `->>`'s text: a string unquoted, null as SQL NULL, else the `jsonb`
    /// text.
    pub fn as_text(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::String(s) => Value::Text(s.clone()),
            other => Value::Text(other.jsonb_text()),
        }
    }

    /// `?`: a key of an object, a string element of an array, or the
    /// string itself.
    pub fn has_key(&self, key: &str) -> bool {
        match self {
            Json::Object(m) => m.iter().any(|(k, _)| k == key),
            Json::Array(items) => items
                .iter()
                .any(|v| matches!(v, Json::String(s) if s == key)),
            Json::String(s) => s == key,
            _ => false,
        }
    }

    /// `@>` (PostgreSQL's `JsonbDeepContains`).
    pub fn contains(&self, other: &Json) -> bool {
        match (self, other) {
            (Json::Object(a), Json::Object(b)) => b.iter().all(|(k, bv)| {
                a.iter()
                    .find(|(ak, _)| ak == k)
                    .is_some_and(|(_, av)| match (av, bv) {
                        (Json::Object(_), Json::Object(_)) | (Json::Array(_), Json::Array(_)) => {
                            av.contains(bv)
                        }
                        _ => av.scalar_eq(bv),
                    })
            }),
            (Json::Array(a), Json::Array(b)) => b.iter().all(|bv| match bv {
                Json::Object(_) | Json::Array(_) => a.iter().any(|av| {
                    std::mem::discriminant(av) == std::mem::discriminant(bv) && av.contains(bv)
                }),
                _ => a.iter().any(|av| av.scalar_eq(bv)),
            }),
            // a top-level array contains a scalar it has
            (Json::Array(a), b) if !matches!(b, Json::Object(_)) => {
                a.iter().any(|av| av.scalar_eq(b))
            }
            (a, b) => a.scalar_eq(b),
        }
    }

    fn scalar_eq(&self, other: &Json) -> bool {
        match (self, other) {
            (Json::Number(a), Json::Number(b)) => {
                match (crate::numeric::parse(a), crate::numeric::parse(b)) {
                    (Ok(x), Ok(y)) => x == y,
                    _ => a == b,
                }
            }
            (Json::Object(_) | Json::Array(_), _) | (_, Json::Object(_) | Json::Array(_)) => false,
            (a, b) => a == b,
        }
    }

    /// `||` (PostgreSQL's `jsonb_concat`): objects merge (the right side's
    /// keys win), anything else concatenates as arrays.
    pub fn concat(self, other: Json) -> Json {
        match (self, other) {
            (Json::Object(mut a), Json::Object(b)) => {
                for (k, v) in b {
                    match a.iter_mut().find(|(ak, _)| *ak == k) {
                        Some(slot) => slot.1 = v,
                        None => a.push((k, v)),
                    }
                }
                Json::Object(a).normalize()
            }
            (a, b) => {
                let items = |j: Json| match j {
                    Json::Array(v) => v,
                    other => vec![other],
                };
                let mut v = items(a);
                v.extend(items(b));
                Json::Array(v)
            }
        }
    }

    /// `-` with a key: the object without it, or the array without that
    /// string element.
    pub fn remove_key(self, key: &str) -> PgResult<Json> {
        Ok(match self {
            Json::Object(m) => Json::Object(m.into_iter().filter(|(k, _)| k != key).collect()),
            Json::Array(items) => Json::Array(
                items
                    .into_iter()
                    .filter(|v| !matches!(v, Json::String(s) if s == key))
                    .collect(),
            ),
            _ => return Err(scalar_error("delete from")),
        })
    }

    /// `-` with an index.
    pub fn remove_index(self, index: i64) -> PgResult<Json> {
        match self {
            Json::Array(mut items) => {
                let i = if index < 0 {
                    items.len() as i64 + index
                } else {
                    index
                };
                if let Ok(i) = usize::try_from(i) {
                    if i < items.len() {
                        items.remove(i);
                    }
                }
                Ok(Json::Array(items))
            }
            Json::Object(_) => Err(PgError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "cannot delete from object using integer index",
            )),
            _ => Err(scalar_error("delete from")),
        }
    }

    /// `jsonb_set(target, path, value, create_missing)`.
    pub fn set(&mut self, path: &[String], value: Json, create: bool) -> PgResult<()> {
        let Some((first, rest)) = path.split_first() else {
            return Ok(());
        };
        match self {
            Json::Object(m) => match m.iter_mut().find(|(k, _)| k == first) {
                Some((_, v)) if rest.is_empty() => *v = value,
                Some((_, v)) => v.set(rest, value, create)?,
                None if rest.is_empty() && create => {
                    m.push((first.clone(), value));
                    *self = std::mem::replace(self, Json::Null).normalize();
                }
                None => {}
            },
            Json::Array(items) => {
                let Ok(i) = first.trim().parse::<i64>() else {
                    return Err(PgError::new(
                        SqlState::INVALID_TEXT_REPRESENTATION,
                        format!("path element at position 1 is not an integer: \"{first}\""),
                    ));
                };
                let n = items.len() as i64;
                let at = if i < 0 { n + i } else { i };
                if (0..n).contains(&at) {
                    let slot = &mut items[at as usize];
                    if rest.is_empty() {
                        *slot = value;
                    } else {
                        slot.set(rest, value, create)?;
                    }
                } else if rest.is_empty() && create {
                    if at < 0 {
                        items.insert(0, value);
                    } else {
                        items.push(value);
                    }
                }
            }
            _ => return Err(scalar_error("set path in")),
        }
        Ok(())
    }

    /// `jsonb_strip_nulls`.
    pub fn strip_nulls(self) -> Json {
        match self {
            Json::Object(m) => Json::Object(
                m.into_iter()
                    .filter(|(_, v)| *v != Json::Null)
                    .map(|(k, v)| (k, v.strip_nulls()))
                    .collect(),
            ),
            Json::Array(items) => Json::Array(items.into_iter().map(Json::strip_nulls).collect()),
            other => other,
        }
    }
}

fn scalar_error(what: &str) -> PgError {
    PgError::new(
        SqlState::INVALID_PARAMETER_VALUE,
        format!("cannot {what} scalar"),
    )
}

fn is_json_type(t: &DataType) -> bool {
    matches!(t, DataType::Json | DataType::Jsonb)
}

/// The `json`/`jsonb` operator `op` stands for with operands of these
/// types (`@>`, `<@`, `||`, `-` on `jsonb`), if any.
pub fn json_variant(op: BinOp, l: &DataType, r: &DataType) -> Option<BinOp> {
    let jb = |t: &DataType| *t == DataType::Jsonb;
    Some(match op {
        _ if op.is_json() => op,
        BinOp::Contains if jb(l) || jb(r) => BinOp::JsonContains,
        BinOp::ContainedBy if jb(l) || jb(r) => BinOp::JsonContainedBy,
        BinOp::Concat if jb(l) || jb(r) => BinOp::JsonConcat,
        BinOp::Sub if jb(l) => BinOp::JsonDelete,
        _ => return None,
    })
}

/// The type the right operand of `op` takes, given its own type (an
/// unknown literal's is decided by the operator).
pub fn right_operand_type(op: BinOp, r: &DataType) -> DataType {
    let text_array = DataType::Array(Box::new(DataType::Text));
    let int = matches!(r, DataType::Int2 | DataType::Int4 | DataType::Int8);
    match op {
        BinOp::JsonGet | BinOp::JsonGetText | BinOp::JsonDelete if int => DataType::Int4,
        BinOp::JsonDelete if matches!(r, DataType::Array(_)) => text_array,
        BinOp::JsonGet | BinOp::JsonGetText | BinOp::JsonDelete | BinOp::JsonExists => {
            DataType::Text
        }
        BinOp::JsonPath | BinOp::JsonPathText | BinOp::JsonExistsAny | BinOp::JsonExistsAll => {
            text_array
        }
        _ => DataType::Jsonb,
    }
}

/// The result type of a `json`/`jsonb` operator (None: no such operator).
pub fn op_type(op: BinOp, l: &DataType, r: &DataType) -> Option<DataType> {
    if !is_json_type(l) && *l != DataType::Unknown {
        return None;
    }
    let _ = r;
    Some(match op {
        BinOp::JsonGet | BinOp::JsonPath => match l {
            DataType::Json => DataType::Json,
            _ => DataType::Jsonb,
        },
        BinOp::JsonGetText | BinOp::JsonPathText => DataType::Text,
        BinOp::JsonConcat | BinOp::JsonDelete => DataType::Jsonb,
        _ => DataType::Bool,
    })
}

fn text_list(v: &Value) -> Vec<Option<String>> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::Null => None,
                other => Some(crate::io_text::to_text(other)),
            })
            .collect(),
        other => vec![Some(crate::io_text::to_text(other))],
    }
}

fn doc(v: &Value) -> PgResult<Json> {
    match v {
        Value::Text(s) => parse(s),
        other => parse(&crate::io_text::to_text(other)),
    }
}

fn jsonb_value(j: Json) -> Value {
    Value::Text(j.jsonb_text())
}

fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Int2(i) => Some(*i as i64),
        Value::Int4(i) => Some(*i as i64),
        Value::Int8(i) => Some(*i),
        _ => None,
    }
}

/// Evaluates a `json`/`jsonb` operator on non-NULL operands.
pub fn binary_op(op: BinOp, l: Value, r: Value) -> PgResult<Value> {
    let j = doc(&l)?;
    let found = |x: Option<&Json>, text: bool| match (x, text) {
        (None, _) => Value::Null,
        (Some(v), true) => v.as_text(),
        (Some(v), false) => jsonb_value(v.clone()),
    };
    Ok(match op {
        BinOp::JsonGet | BinOp::JsonGetText => {
            let text = op == BinOp::JsonGetText;
            match int_of(&r) {
                Some(i) => found(j.element(i), text),
                None => found(j.field(&crate::io_text::to_text(&r)), text),
            }
        }
        BinOp::JsonPath | BinOp::JsonPathText => {
            found(j.path(&text_list(&r)), op == BinOp::JsonPathText)
        }
        BinOp::JsonExists => Value::Bool(j.has_key(&crate::io_text::to_text(&r))),
        BinOp::JsonExistsAny => Value::Bool(text_list(&r).iter().flatten().any(|k| j.has_key(k))),
        BinOp::JsonExistsAll => Value::Bool(text_list(&r).iter().flatten().all(|k| j.has_key(k))),
        BinOp::JsonContains => Value::Bool(j.contains(&doc(&r)?)),
        BinOp::JsonContainedBy => Value::Bool(doc(&r)?.contains(&j)),
        BinOp::JsonConcat => jsonb_value(j.concat(doc(&r)?)),
        BinOp::JsonDelete => match (&r, int_of(&r)) {
            (_, Some(i)) => jsonb_value(j.remove_index(i)?),
            (Value::Array(_), _) => {
                let mut j = j;
                for k in text_list(&r).into_iter().flatten() {
                    j = j.remove_key(&k)?;
                }
                jsonb_value(j)
            }
            _ => jsonb_value(j.remove_key(&crate::io_text::to_text(&r))?),
        },
        _ => return Err(PgError::internal("not a json operator")),
    })
}

/// A SQL value of type `ty` as a JSON document (PostgreSQL's
/// `datum_to_json`): numbers and booleans as themselves, `json`/`jsonb` as
/// the document, arrays element by element, timestamps in ISO 8601, the
/// rest as strings of their text.
pub fn to_json(v: &Value, ty: &DataType) -> PgResult<Json> {
    Ok(match (v, ty) {
        (Value::Null, _) => Json::Null,
        (Value::Bool(b), _) => Json::Bool(*b),
        (Value::Int2(_) | Value::Int4(_) | Value::Int8(_) | Value::Numeric(_), _) => {
            Json::Number(crate::io_text::to_text(v))
        }
        (Value::Float4(_) | Value::Float8(_), _) => {
            let s = crate::io_text::to_text(v);
            match s.parse::<f64>() {
                Ok(f) if f.is_finite() => Json::Number(s),
                _ => Json::String(s),
            }
        }
        (Value::Text(s), DataType::Json | DataType::Jsonb) => parse(s)?,
        (Value::Array(items), _) => {
            let elem = match ty {
                DataType::Array(e) => (**e).clone(),
                _ => DataType::Unknown,
            };
            Json::Array(
                items
                    .iter()
                    .map(|i| to_json(i, &elem))
                    .collect::<PgResult<_>>()?,
            )
        }
        (Value::Timestamp(_) | Value::TimestampTz(_), _) => {
            let mut s = crate::io_text::to_text(v).replacen(' ', "T", 1);
            // `+00` -> `+00:00`
            let tail = s.rfind(['+', '-']).filter(|&i| i + 3 == s.len() && i > 10);
            if tail.is_some() {
                s.push_str(":00");
            }
            Json::String(s)
        }
        _ => Json::String(crate::io_text::to_text(v)),
    })
}

/// The text `json` functions put for a value: a `json`/`jsonb` value's own
/// text, else [`to_json`]'s document.
pub fn json_text_of(v: &Value, ty: &DataType) -> PgResult<String> {
    match (v, ty) {
        // a row as row_to_json printed it (the binder's whole-row json)
        (Value::Text(s), DataType::Json | DataType::Jsonb | DataType::Record) => Ok(s.clone()),
        // arrays as array_to_json prints them: `[1,2]`
        (Value::Array(_), _) => Ok(to_json(v, ty)?.compact_text()),
        _ => Ok(to_json(v, ty)?.json_text()),
    }
}

/// A `jsonb` value's text in normal form.
pub fn jsonb_in(text: &str) -> PgResult<String> {
    Ok(parse(text)?.normalize().jsonb_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jb(s: &str) -> String {
        jsonb_in(s).unwrap()
    }

    #[test]
    fn jsonb_normal_form_is_postgres() {
        assert_eq!(
            jb(r#"{"bb":1,"a":[1,2.50,1e2],"a":{"y":null,"x":"q\"\u00e9"},"c":true}"#),
            r#"{"a": {"x": "q\"é", "y": null}, "c": true, "bb": 1}"#
        );
        assert_eq!(jb("[1e2, -0.0, 1.50]"), "[100, 0.0, 1.50]");
        assert_eq!(jb(" \"\\n\\u0001\" "), r#""\n\u0001""#);
        assert!(jsonb_in(r#""\u0000""#).is_err());
        assert!(jsonb_in("{a}").is_err());
    }

    #[test]
    fn operators_follow_postgres() {
        let j = parse(r#"{"a": [1, {"b": "x"}], "c": null}"#)
            .unwrap()
            .normalize();
        assert_eq!(
            j.field("a")
                .and_then(|a| a.element(-1))
                .map(Json::jsonb_text),
            Some(r#"{"b": "x"}"#.into())
        );
        let path = [
            Some("a".to_string()),
            Some("1".to_string()),
            Some("b".to_string()),
        ];
        assert_eq!(
            j.path(&path).map(Json::as_text),
            Some(Value::Text("x".into()))
        );
        assert_eq!(j.field("c").map(Json::as_text), Some(Value::Null));
        let sub = parse(r#"{"a": [{"b": "x"}]}"#).unwrap();
        assert!(j.contains(&sub));
        assert!(!sub.contains(&j));
        assert!(parse("[1, 2]").unwrap().contains(&parse("1").unwrap()));
        assert!(j.has_key("c") && !j.has_key("b"));
        let merged = parse(r#"{"a": 1}"#)
            .unwrap()
            .concat(parse(r#"{"a": 2, "b": 3}"#).unwrap());
        assert_eq!(merged.jsonb_text(), r#"{"a": 2, "b": 3}"#);
        assert_eq!(
            parse("[1]")
                .unwrap()
                .concat(parse("2").unwrap())
                .jsonb_text(),
            "[1, 2]"
        );
        let mut s = parse(r#"{"a": [1, 2]}"#).unwrap();
        s.set(&["a".into(), "0".into()], Json::Bool(true), true)
            .unwrap();
        s.set(&["z".into()], Json::Null, true).unwrap();
        assert_eq!(s.jsonb_text(), r#"{"a": [true, 2], "z": null}"#);
    }
}
