//! String functions: `lower`, `substr`, `lpad`, `split_part`, `format`,
//! `quote_ident`, `md5`, `encode`/`decode`, `regexp_replace`, ...
//!
//! Positions and lengths count characters (the database encoding is UTF-8), as
//! PostgreSQL does. Corresponds to PostgreSQL's `utils/adt/varlena.c`,
//! `oracle_compat.c`, `quote.c`, `encode.c`.

use base64::Engine;
use md5::{Digest, Md5};
use tandem_types::ident::{quote_identifier, quote_literal};
use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use super::{arg_i64, arg_text, r, t, Arg, Def};
use crate::io_text::to_text;
use crate::pattern;

use DataType as T;

pub(super) fn defs() -> Vec<Def> {
    let text = || t(T::Text);
    let int = || t(T::Int4);
    let mut d = vec![
        Def::pure("lower", vec![text()], r(T::Text), |a| {
            Ok(Value::Text(arg_text(a, 0).to_lowercase()))
        }),
        Def::pure("upper", vec![text()], r(T::Text), |a| {
            Ok(Value::Text(arg_text(a, 0).to_uppercase()))
        }),
        Def::pure("initcap", vec![text()], r(T::Text), |a| {
            Ok(Value::Text(initcap(&arg_text(a, 0))))
        }),
        Def::pure("length", vec![text()], r(T::Int4), char_len),
        Def::pure("length", vec![t(T::Bytea)], r(T::Int4), byte_len),
        Def::pure("char_length", vec![text()], r(T::Int4), char_len),
        Def::pure("character_length", vec![text()], r(T::Int4), char_len),
        Def::pure("octet_length", vec![text()], r(T::Int4), byte_len),
        Def::pure("octet_length", vec![t(T::Bytea)], r(T::Int4), byte_len),
        // counts character(n)'s padding (bpcharoctetlen), unlike length()
        Def::pure(
            "octet_length",
            vec![t(T::Bpchar(None))],
            r(T::Int4),
            byte_len,
        ),
        Def::pure("bit_length", vec![text()], r(T::Int4), |a| {
            Ok(Value::Int4(arg_text(a, 0).len() as i32 * 8))
        }),
        Def::pure("get_byte", vec![t(T::Bytea), int()], r(T::Int4), get_byte),
        Def::pure(
            "substring",
            vec![text(), text()],
            r(T::Text),
            substring_regex,
        ),
        Def::pure("strpos", vec![text(), text()], r(T::Int4), strpos),
        Def::pure("position", vec![text(), text()], r(T::Int4), strpos),
        Def::pure("replace", vec![text(), text(), text()], r(T::Text), |a| {
            let (s, from, to) = (arg_text(a, 0), arg_text(a, 1), arg_text(a, 2));
            Ok(Value::Text(if from.is_empty() {
                s
            } else {
                s.replace(&from, &to)
            }))
        }),
        Def::pure(
            "translate",
            vec![text(), text(), text()],
            r(T::Text),
            translate,
        ),
        Def::pure("btrim", vec![text()], r(T::Text), |a| trim(a, true, true)),
        Def::pure("btrim", vec![text(), text()], r(T::Text), |a| {
            trim(a, true, true)
        }),
        Def::pure("trim", vec![text()], r(T::Text), |a| trim(a, true, true)),
        Def::pure("trim", vec![text(), text()], r(T::Text), |a| {
            trim(a, true, true)
        }),
        Def::pure("ltrim", vec![text()], r(T::Text), |a| trim(a, true, false)),
        Def::pure("ltrim", vec![text(), text()], r(T::Text), |a| {
            trim(a, true, false)
        }),
        Def::pure("rtrim", vec![text()], r(T::Text), |a| trim(a, false, true)),
        Def::pure("rtrim", vec![text(), text()], r(T::Text), |a| {
            trim(a, false, true)
        }),
        Def::pure("lpad", vec![text(), int()], r(T::Text), |a| pad(a, true)),
        Def::pure("lpad", vec![text(), int(), text()], r(T::Text), |a| {
            pad(a, true)
        }),
        Def::pure("rpad", vec![text(), int()], r(T::Text), |a| pad(a, false)),
        Def::pure("rpad", vec![text(), int(), text()], r(T::Text), |a| {
            pad(a, false)
        }),
        Def::pure("left", vec![text(), int()], r(T::Text), |a| {
            left_right(a, true)
        }),
        Def::pure("right", vec![text(), int()], r(T::Text), |a| {
            left_right(a, false)
        }),
        Def::pure("repeat", vec![text(), int()], r(T::Text), |a| {
            let n = arg_i64(a, 1)?.max(0) as usize;
            let s = arg_text(a, 0);
            if s.len().saturating_mul(n) > (1 << 30) {
                return Err(PgError::new(
                    SqlState::PROGRAM_LIMIT_EXCEEDED,
                    "requested length too large",
                ));
            }
            Ok(Value::Text(s.repeat(n)))
        }),
        Def::pure("reverse", vec![text()], r(T::Text), |a| {
            Ok(Value::Text(arg_text(a, 0).chars().rev().collect()))
        }),
        Def::pure(
            "split_part",
            vec![text(), text(), int()],
            r(T::Text),
            split_part,
        ),
        Def::pure("starts_with", vec![text(), text()], r(T::Bool), |a| {
            Ok(Value::Bool(arg_text(a, 0).starts_with(&arg_text(a, 1))))
        }),
        Def::pure("concat", vec![Arg::VarAny], r(T::Text), concat).lax(),
        Def::pure(
            "concat_ws",
            vec![text(), Arg::VarAny],
            r(T::Text),
            concat_ws,
        )
        .lax(),
        Def::pure("like_escape", vec![text(), text()], r(T::Text), |a| {
            Ok(Value::Text(crate::pattern::like_escape(
                &arg_text(a, 0),
                &arg_text(a, 1),
            )?))
        }),
        Def::pure("quote_ident", vec![text()], r(T::Text), |a| {
            Ok(Value::Text(quote_identifier(&arg_text(a, 0))))
        }),
        Def::pure("quote_literal", vec![Arg::Any], r(T::Text), |a| {
            Ok(Value::Text(quote_literal(&arg_text(a, 0))))
        }),
        Def::pure("quote_nullable", vec![Arg::Any], r(T::Text), |a| {
            Ok(Value::Text(match &a[0] {
                Value::Null => "NULL".to_string(),
                v => quote_literal(&to_text(v)),
            }))
        })
        .lax(),
        Def::pure("format", vec![text(), Arg::VarAny], r(T::Text), format).lax(),
        // how many of the arguments are (not) NULL
        Def::pure(
            "num_nonnulls",
            vec![Arg::Any, Arg::VarAny],
            r(T::Int4),
            |a| Ok(Value::Int4(a.iter().filter(|v| !v.is_null()).count() as i32)),
        )
        .lax(),
        Def::pure("num_nulls", vec![Arg::Any, Arg::VarAny], r(T::Int4), |a| {
            Ok(Value::Int4(a.iter().filter(|v| v.is_null()).count() as i32))
        })
        .lax(),
        Def::pure("md5", vec![text()], r(T::Text), |a| {
            Ok(Value::Text(md5_hex(arg_text(a, 0).as_bytes())))
        }),
        Def::pure("md5", vec![t(T::Bytea)], r(T::Text), |a| match &a[0] {
            Value::Bytea(b) => Ok(Value::Text(md5_hex(b))),
            v => Ok(Value::Text(md5_hex(to_text(v).as_bytes()))),
        }),
        Def::pure("sha224", vec![t(T::Bytea)], r(T::Bytea), |a| {
            Ok(digest::<sha2::Sha224>(a))
        }),
        Def::pure("sha256", vec![t(T::Bytea)], r(T::Bytea), |a| {
            Ok(digest::<sha2::Sha256>(a))
        }),
        Def::pure("sha384", vec![t(T::Bytea)], r(T::Bytea), |a| {
            Ok(digest::<sha2::Sha384>(a))
        }),
        Def::pure("sha512", vec![t(T::Bytea)], r(T::Bytea), |a| {
            Ok(digest::<sha2::Sha512>(a))
        }),
        Def::pure("encode", vec![t(T::Bytea), text()], r(T::Text), encode),
        Def::pure("decode", vec![text(), text()], r(T::Bytea), decode),
        Def::pure("to_hex", vec![t(T::Int4)], r(T::Text), |a| match &a[0] {
            Value::Int4(v) => Ok(Value::Text(format!("{:x}", *v as u32))),
            _ => Ok(Value::Text(format!("{:x}", arg_i64(a, 0)? as u32))),
        }),
        Def::pure("to_hex", vec![t(T::Int8)], r(T::Text), |a| {
            Ok(Value::Text(format!("{:x}", arg_i64(a, 0)? as u64)))
        }),
        Def::pure("chr", vec![int()], r(T::Text), chr),
        Def::pure("ascii", vec![text()], r(T::Int4), |a| {
            Ok(Value::Int4(
                arg_text(a, 0).chars().next().map(|c| c as i32).unwrap_or(0),
            ))
        }),
        Def::pure(
            "regexp_replace",
            vec![text(), text(), text()],
            r(T::Text),
            |a| {
                Ok(Value::Text(pattern::regexp_replace(
                    &arg_text(a, 0),
                    &arg_text(a, 1),
                    &arg_text(a, 2),
                    "",
                )?))
            },
        ),
        Def::pure(
            "regexp_replace",
            vec![text(), text(), text(), text()],
            r(T::Text),
            |a| {
                Ok(Value::Text(pattern::regexp_replace(
                    &arg_text(a, 0),
                    &arg_text(a, 1),
                    &arg_text(a, 2),
                    &arg_text(a, 3),
                )?))
            },
        ),
        Def::pure(
            "regexp_match",
            vec![text(), text()],
            r(T::Array(Box::new(T::Text))),
            regexp_match,
        ),
        Def::pure(
            "regexp_match",
            vec![text(), text(), text()],
            r(T::Array(Box::new(T::Text))),
            regexp_match,
        ),
        Def::pure(
            "regexp_split_to_array",
            vec![text(), text()],
            r(T::Array(Box::new(T::Text))),
            regexp_split,
        ),
        Def::pure(
            "regexp_split_to_array",
            vec![text(), text(), text()],
            r(T::Array(Box::new(T::Text))),
            regexp_split,
        ),
        Def::pure("regexp_like", vec![text(), text()], r(T::Bool), |a| {
            Ok(Value::Bool(pattern::regex_match(
                &arg_text(a, 0),
                &arg_text(a, 1),
                false,
            )?))
        }),
    ];
    // substr(x, from [, count]) and substring(x, from [, count]), on text
    // and on bytea
    for name in ["substr", "substring"] {
        d.push(Def::pure(name, vec![text(), int()], r(T::Text), substr));
        d.push(Def::pure(
            name,
            vec![text(), int(), int()],
            r(T::Text),
            substr,
        ));
        d.push(Def::pure(
            name,
            vec![t(T::Bytea), int()],
            r(T::Bytea),
            substr_bytea,
        ));
        let three = vec![t(T::Bytea), int(), int()];
        d.push(Def::pure(name, three, r(T::Bytea), substr_bytea));
    }
    d
}

fn char_len(a: &[Value]) -> PgResult<Value> {
    Ok(Value::Int4(match &a[0] {
        Value::Bytea(b) => b.len() as i32,
        v => to_text(v).chars().count() as i32,
    }))
}

fn byte_len(a: &[Value]) -> PgResult<Value> {
    Ok(Value::Int4(match &a[0] {
        Value::Bytea(b) => b.len() as i32,
        v => to_text(v).len() as i32,
    }))
}

fn initcap(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    for c in s.chars() {
        if c.is_alphanumeric() {
            if in_word {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            in_word = true;
        } else {
            out.push(c);
            in_word = false;
        }
    }
    out
}

/// `substr(s, start [, count])`: characters `start .. start+count-1` (1-based),
/// where positions before 1 simply cover nothing.
fn substr(a: &[Value]) -> PgResult<Value> {
    let (skip, take) = substr_range(a)?;
    Ok(Value::Text(
        arg_text(a, 0).chars().skip(skip).take(take).collect(),
    ))
}

/// `substr(bytes, from [, count])`: as for text, counting bytes.
fn substr_bytea(a: &[Value]) -> PgResult<Value> {
    let (skip, take) = substr_range(a)?;
    let Value::Bytea(b) = &a[0] else {
        return Ok(Value::Null);
    };
    Ok(Value::Bytea(
        b.iter().skip(skip).take(take).copied().collect(),
    ))
}

/// `get_byte(bytes, n)`: byte `n` (from 0).
fn get_byte(a: &[Value]) -> PgResult<Value> {
    let Value::Bytea(b) = &a[0] else {
        return Ok(Value::Null);
    };
    let n = arg_i64(a, 1)?;
    usize::try_from(n)
        .ok()
        .and_then(|i| b.get(i))
        .map(|&byte| Value::Int4(byte as i32))
        .ok_or_else(|| {
            PgError::new(
                SqlState::ARRAY_SUBSCRIPT_ERROR,
                format!("index {n} out of valid range, 0..{}", b.len() as i64 - 1),
            )
        })
}

/// The elements `substr(x, from [, count])` keeps: how many to skip, how
/// many to take (positions from 1; before 1 shortens the count).
fn substr_range(a: &[Value]) -> PgResult<(usize, usize)> {
    let start = arg_i64(a, 1)?;
    let end = if a.len() > 2 {
        let len = arg_i64(a, 2)?;
        if len < 0 {
            return Err(PgError::new(
                SqlState("22011"),
                "negative substring length not allowed",
            ));
        }
        start.saturating_add(len)
    } else {
        i64::MAX
    };
    let from = start.max(1);
    if end <= from {
        return Ok((0, 0));
    }
    Ok((
        usize::try_from(from - 1).unwrap_or(usize::MAX),
        usize::try_from(end - from).unwrap_or(usize::MAX),
    ))
}

/// `substring(s from pattern)`: the first match, or its first group.
fn substring_regex(a: &[Value]) -> PgResult<Value> {
    match pattern::regexp_match(&arg_text(a, 0), &arg_text(a, 1), "")? {
        Some(groups) => Ok(groups
            .into_iter()
            .next()
            .flatten()
            .map(Value::Text)
            .unwrap_or(Value::Null)),
        None => Ok(Value::Null),
    }
}

fn strpos(a: &[Value]) -> PgResult<Value> {
    let s = arg_text(a, 0);
    let needle = arg_text(a, 1);
    Ok(Value::Int4(match s.find(&needle) {
        Some(byte) => s[..byte].chars().count() as i32 + 1,
        None => 0,
    }))
}

fn translate(a: &[Value]) -> PgResult<Value> {
    let s = arg_text(a, 0);
    let from: Vec<char> = arg_text(a, 1).chars().collect();
    let to: Vec<char> = arg_text(a, 2).chars().collect();
    let out = s
        .chars()
        .filter_map(|c| match from.iter().position(|f| *f == c) {
            Some(i) => to.get(i).copied(),
            None => Some(c),
        })
        .collect();
    Ok(Value::Text(out))
}

fn trim(a: &[Value], leading: bool, trailing: bool) -> PgResult<Value> {
    let s = arg_text(a, 0);
    let set: Vec<char> = if a.len() > 1 {
        arg_text(a, 1).chars().collect()
    } else {
        vec![' ']
    };
    let mut out: &str = &s;
    if leading {
        out = out.trim_start_matches(|c| set.contains(&c));
    }
    if trailing {
        out = out.trim_end_matches(|c| set.contains(&c));
    }
    Ok(Value::Text(out.to_string()))
}

fn pad(a: &[Value], left: bool) -> PgResult<Value> {
    let s = arg_text(a, 0);
    let len = arg_i64(a, 1)?.max(0) as usize;
    let fill: Vec<char> = if a.len() > 2 {
        arg_text(a, 2).chars().collect()
    } else {
        vec![' ']
    };
    let chars: Vec<char> = s.chars().collect();
    if chars.len() >= len || fill.is_empty() {
        return Ok(Value::Text(chars.into_iter().take(len).collect()));
    }
    let padding: String = fill.iter().cycle().take(len - chars.len()).collect();
    Ok(Value::Text(if left { padding + &s } else { s + &padding }))
}

fn left_right(a: &[Value], left: bool) -> PgResult<Value> {
    let chars: Vec<char> = arg_text(a, 0).chars().collect();
    let n = arg_i64(a, 1)?;
    let len = chars.len() as i64;
    let count = if n >= 0 { n.min(len) } else { (len + n).max(0) } as usize;
    let out: String = if left {
        chars[..count].iter().collect()
    } else {
        chars[chars.len() - count..].iter().collect()
    };
    Ok(Value::Text(out))
}

fn split_part(a: &[Value]) -> PgResult<Value> {
    let s = arg_text(a, 0);
    let delim = arg_text(a, 1);
    let n = arg_i64(a, 2)?;
    if n == 0 {
        return Err(PgError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "field position must not be zero",
        ));
    }
    let parts: Vec<&str> = if delim.is_empty() {
        vec![s.as_str()]
    } else {
        s.split(delim.as_str()).collect()
    };
    let idx = if n > 0 { n - 1 } else { parts.len() as i64 + n };
    Ok(Value::Text(
        usize::try_from(idx)
            .ok()
            .and_then(|i| parts.get(i))
            .map(|p| p.to_string())
            .unwrap_or_default(),
    ))
}

fn concat(a: &[Value]) -> PgResult<Value> {
    let mut out = String::new();
    for v in a.iter().filter(|v| !v.is_null()) {
        crate::io_text::text_out(v, &mut out);
    }
    Ok(Value::Text(out))
}

fn concat_ws(a: &[Value]) -> PgResult<Value> {
    if a[0].is_null() {
        return Ok(Value::Null);
    }
    let sep = arg_text(a, 0);
    let parts: Vec<String> = a[1..]
        .iter()
        .filter(|v| !v.is_null())
        .map(to_text)
        .collect();
    Ok(Value::Text(parts.join(&sep)))
}

/// `format(fmt, args...)` with `%s`, `%I`, `%L`, `%%` and `%n$` positions.
fn format(a: &[Value]) -> PgResult<Value> {
    if a[0].is_null() {
        return Ok(Value::Null);
    }
    let fmt = arg_text(a, 0);
    let args = &a[1..];
    let mut out = String::new();
    let mut next = 0usize;
    let mut chars = fmt.chars().peekable();
    let too_few = || {
        PgError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "too few arguments for format()",
        )
    };
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        let conv = loop {
            match chars.next() {
                Some(ch) if ch.is_ascii_digit() || ch == '$' || ch == '-' => spec.push(ch),
                Some(ch) => break ch,
                None => {
                    return Err(PgError::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        "unterminated format() type specifier",
                    )
                    .with_hint("For a single \"%\" use \"%%\"."))
                }
            }
        };
        if conv == '%' {
            out.push('%');
            continue;
        }
        let (index, width) = match spec.split_once('$') {
            Some((pos, w)) => (
                pos.parse::<usize>().ok().filter(|p| *p > 0).map(|p| p - 1),
                w.to_string(),
            ),
            None => (None, spec.clone()),
        };
        let idx = index.unwrap_or(next);
        next = idx + 1;
        let v = args.get(idx).ok_or_else(too_few)?;
        let piece = match conv {
            's' => {
                if v.is_null() {
                    String::new()
                } else {
                    to_text(v)
                }
            }
            'I' => {
                if v.is_null() {
                    return Err(PgError::new(
                        SqlState("22004"),
                        "null values cannot be formatted as an SQL identifier",
                    ));
                }
                quote_identifier(&to_text(v))
            }
            'L' => {
                if v.is_null() {
                    "NULL".to_string()
                } else {
                    quote_literal(&to_text(v))
                }
            }
            other => {
                return Err(PgError::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!("unrecognized format() type specifier \"{other}\""),
                )
                .with_hint("For a single \"%\" use \"%%\"."))
            }
        };
        let (left_align, w) = match width.strip_prefix('-') {
            Some(w) => (true, w.parse::<usize>().unwrap_or(0)),
            None => (false, width.parse::<usize>().unwrap_or(0)),
        };
        let n = piece.chars().count();
        if n < w {
            let fill = " ".repeat(w - n);
            if left_align {
                out.push_str(&piece);
                out.push_str(&fill);
            } else {
                out.push_str(&fill);
                out.push_str(&piece);
            }
        } else {
            out.push_str(&piece);
        }
    }
    Ok(Value::Text(out))
}

/// `sha224(bytea)` ... `sha512(bytea)`: the digest as bytes.
fn digest<D: sha2::Digest>(a: &[Value]) -> Value {
    let bytes = match &a[0] {
        Value::Bytea(b) => D::digest(b),
        v => D::digest(to_text(v).as_bytes()),
    };
    Value::Bytea(bytes.to_vec())
}

pub fn md5_hex(b: &[u8]) -> String {
    Md5::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

fn unrecognized_encoding(name: &str) -> PgError {
    PgError::new(
        SqlState::INVALID_PARAMETER_VALUE,
        format!("unrecognized encoding: \"{name}\""),
    )
}

fn encode(a: &[Value]) -> PgResult<Value> {
    let bytes = match &a[0] {
        Value::Bytea(b) => b.clone(),
        v => to_text(v).into_bytes(),
    };
    let fmt = arg_text(a, 1).to_ascii_lowercase();
    Ok(Value::Text(match fmt.as_str() {
        "hex" => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        "base64" => {
            let s = base64::engine::general_purpose::STANDARD.encode(&bytes);
            // PostgreSQL breaks base64 output into lines of 76 characters
            s.as_bytes()
                .chunks(76)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("\n")
        }
        "escape" => {
            let mut out = String::new();
            for b in bytes {
                match b {
                    b'\\' => out.push_str("\\\\"),
                    0 | 0x80..=0xff => out.push_str(&format!("\\{b:03o}")),
                    b => out.push(b as char),
                }
            }
            out
        }
        _ => return Err(unrecognized_encoding(&arg_text(a, 1))),
    }))
}

fn decode(a: &[Value]) -> PgResult<Value> {
    let s = arg_text(a, 0);
    let fmt = arg_text(a, 1).to_ascii_lowercase();
    Ok(Value::Bytea(match fmt.as_str() {
        "hex" => crate::io_text::parse_bytea(&format!("\\x{s}"))?,
        "base64" => {
            let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(clean.as_bytes())
                .map_err(|_| {
                    PgError::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        "invalid base64 end sequence",
                    )
                })?
        }
        "escape" => crate::io_text::parse_bytea(&s)?,
        _ => return Err(unrecognized_encoding(&arg_text(a, 1))),
    }))
}

fn chr(a: &[Value]) -> PgResult<Value> {
    let n = arg_i64(a, 0)?;
    if n == 0 {
        return Err(PgError::new(
            SqlState::PROGRAM_LIMIT_EXCEEDED,
            "null character not permitted",
        ));
    }
    let c = u32::try_from(n)
        .ok()
        .and_then(char::from_u32)
        .ok_or_else(|| {
            PgError::new(
                SqlState::PROGRAM_LIMIT_EXCEEDED,
                format!("requested character too large for encoding: {n}"),
            )
        })?;
    Ok(Value::Text(c.to_string()))
}

fn regexp_split(a: &[Value]) -> PgResult<Value> {
    let flags = if a.len() > 2 {
        arg_text(a, 2)
    } else {
        String::new()
    };
    let pieces = pattern::regexp_split(&arg_text(a, 0), &arg_text(a, 1), &flags)?;
    Ok(Value::Array(pieces.into_iter().map(Value::Text).collect()))
}

fn regexp_match(a: &[Value]) -> PgResult<Value> {
    let flags = if a.len() > 2 {
        arg_text(a, 2)
    } else {
        String::new()
    };
    Ok(
        match pattern::regexp_match(&arg_text(a, 0), &arg_text(a, 1), &flags)? {
            Some(groups) => Value::Array(
                groups
                    .into_iter()
                    .map(|g| g.map(Value::Text).unwrap_or(Value::Null))
                    .collect(),
            ),
            None => Value::Null,
        },
    )
}

#[cfg(test)]
mod tests {
    use crate::functions::call_pure;
    use crate::io_text::to_text;
    use tandem_types::Value;

    fn tx(s: &str) -> Value {
        Value::Text(s.into())
    }
    fn f(name: &str, args: Vec<Value>) -> String {
        match call_pure(name, args) {
            Ok(v) => to_text(&v),
            Err(e) => format!("ERROR {}: {}", e.code.0, e.message),
        }
    }

    /// Expected values checked against PostgreSQL 15.
    #[test]
    fn basic_string_functions() {
        assert_eq!(f("lower", vec![tx("ÀBC")]), "àbc");
        assert_eq!(f("upper", vec![tx("abc")]), "ABC");
        assert_eq!(f("initcap", vec![tx("hello wORLD-foo")]), "Hello World-Foo");
        assert_eq!(f("length", vec![tx("héllo")]), "5");
        assert_eq!(f("octet_length", vec![tx("héllo")]), "6");
        assert_eq!(
            f("substr", vec![tx("hello"), Value::Int4(2), Value::Int4(3)]),
            "ell"
        );
        assert_eq!(
            f("substr", vec![tx("hello"), Value::Int4(0), Value::Int4(3)]),
            "he"
        );
        assert_eq!(f("substring", vec![tx("hello"), Value::Int4(3)]), "llo");
        assert_eq!(
            f("substr", vec![tx("hello"), Value::Int4(1), Value::Int4(-1)]),
            "ERROR 22011: negative substring length not allowed"
        );
        assert_eq!(f("substring", vec![tx("abc123"), tx("[0-9]+")]), "123");
        assert_eq!(f("strpos", vec![tx("héllo"), tx("llo")]), "3");
        assert_eq!(f("position", vec![tx("abc"), tx("z")]), "0");
        assert_eq!(f("replace", vec![tx("abcabc"), tx("b"), tx("X")]), "aXcaXc");
        assert_eq!(
            f("translate", vec![tx("12345"), tx("143"), tx("ax")]),
            "a2x5"
        );
        assert_eq!(f("btrim", vec![tx("  x  ")]), "x");
        assert_eq!(f("btrim", vec![tx("xyxhixy"), tx("xy")]), "hi");
        assert_eq!(f("ltrim", vec![tx("  x  ")]), "x  ");
        assert_eq!(f("rtrim", vec![tx("  x  ")]), "  x");
        assert_eq!(f("lpad", vec![tx("hi"), Value::Int4(5), tx("xy")]), "xyxhi");
        assert_eq!(f("lpad", vec![tx("hello"), Value::Int4(2)]), "he");
        assert_eq!(f("rpad", vec![tx("hi"), Value::Int4(5)]), "hi   ");
        assert_eq!(f("left", vec![tx("abcde"), Value::Int4(2)]), "ab");
        assert_eq!(f("left", vec![tx("abcde"), Value::Int4(-2)]), "abc");
        assert_eq!(f("right", vec![tx("abcde"), Value::Int4(2)]), "de");
        assert_eq!(f("right", vec![tx("abcde"), Value::Int4(-2)]), "cde");
        assert_eq!(f("repeat", vec![tx("ab"), Value::Int4(3)]), "ababab");
        assert_eq!(f("repeat", vec![tx("ab"), Value::Int4(-1)]), "");
        assert_eq!(f("reverse", vec![tx("abc")]), "cba");
        assert_eq!(
            f("split_part", vec![tx("a,b,c"), tx(","), Value::Int4(2)]),
            "b"
        );
        assert_eq!(
            f("split_part", vec![tx("a,b,c"), tx(","), Value::Int4(-1)]),
            "c"
        );
        assert_eq!(
            f("split_part", vec![tx("a,b,c"), tx(","), Value::Int4(5)]),
            ""
        );
        assert_eq!(
            f("split_part", vec![tx("a"), tx(","), Value::Int4(0)]),
            "ERROR 22023: field position must not be zero"
        );
        assert_eq!(f("starts_with", vec![tx("alphabet"), tx("alph")]), "t");
        assert_eq!(f("lower", vec![Value::Null]), "");
    }

    #[test]
    fn quote_ident_quotes_every_keyword_that_is_not_unreserved() {
        // PostgreSQL quotes column-name and type/function-name keywords too,
        // not only reserved ones: SELECT quote_ident('left') gives "left".
        assert_eq!(f("quote_ident", vec![tx("left")]), "\"left\"");
        assert_eq!(f("quote_ident", vec![tx("join")]), "\"join\"");
        assert_eq!(f("quote_ident", vec![tx("between")]), "\"between\"");
        assert_eq!(f("quote_ident", vec![tx("int")]), "\"int\"");
        assert_eq!(f("quote_ident", vec![tx("abort")]), "abort");
        assert_eq!(f("quote_ident", vec![tx("a$b")]), "\"a$b\"");
        assert_eq!(
            f("format", vec![tx("SELECT %I"), tx("right")]),
            "SELECT \"right\""
        );
    }

    #[test]
    fn concat_quote_format() {
        assert_eq!(
            f(
                "concat",
                vec![tx("a"), Value::Null, Value::Int4(1), Value::Bool(true)]
            ),
            "a1t"
        );
        assert_eq!(
            f(
                "concat_ws",
                vec![tx(","), tx("a"), Value::Null, Value::Int4(2)]
            ),
            "a,2"
        );
        assert_eq!(f("quote_ident", vec![tx("foo")]), "foo");
        assert_eq!(f("quote_ident", vec![tx("Foo bar")]), "\"Foo bar\"");
        assert_eq!(f("quote_ident", vec![tx("select")]), "\"select\"");
        assert_eq!(f("quote_ident", vec![tx("a\"b")]), "\"a\"\"b\"");
        // every keyword that is not unreserved is quoted, not only reserved ones
        assert_eq!(f("quote_ident", vec![tx("left")]), "\"left\"");
        assert_eq!(f("quote_ident", vec![tx("between")]), "\"between\"");
        assert_eq!(f("quote_ident", vec![tx("abort")]), "abort");
        assert_eq!(f("quote_literal", vec![tx("it's")]), "'it''s'");
        assert_eq!(f("quote_literal", vec![tx("a\\b")]), "E'a\\\\b'");
        assert_eq!(f("quote_literal", vec![Value::Int4(42)]), "'42'");
        assert_eq!(f("quote_nullable", vec![Value::Null]), "NULL");
        assert_eq!(
            f(
                "format",
                vec![
                    tx("INSERT INTO %I VALUES(%L, %s, %L)"),
                    tx("My Table"),
                    tx("O'Reilly"),
                    Value::Null,
                    Value::Null
                ]
            ),
            "INSERT INTO \"My Table\" VALUES('O''Reilly', , NULL)"
        );
        assert_eq!(
            f("format", vec![tx("%2$s %1$s %%"), tx("a"), tx("b")]),
            "b a %"
        );
        assert_eq!(
            f("format", vec![tx("|%-5s|%5s|"), tx("ab"), tx("cd")]),
            "|ab   |   cd|"
        );
        assert_eq!(
            f("format", vec![tx("%s %s"), tx("a")]),
            "ERROR 22023: too few arguments for format()"
        );
        assert_eq!(
            f("format", vec![tx("%x"), tx("a")]),
            "ERROR 22023: unrecognized format() type specifier \"x\""
        );
        assert_eq!(
            f("format", vec![tx("%I"), Value::Null]),
            "ERROR 22004: null values cannot be formatted as an SQL identifier"
        );
    }

    #[test]
    fn hashing_and_encodings() {
        assert_eq!(
            f("md5", vec![tx("abc")]),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            f("md5", vec![Value::Bytea(b"abc".to_vec())]),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            f("encode", vec![Value::Bytea(vec![1, 2, 255]), tx("hex")]),
            "0102ff"
        );
        assert_eq!(
            f(
                "encode",
                vec![Value::Bytea(b"hello".to_vec()), tx("base64")]
            ),
            "aGVsbG8="
        );
        assert_eq!(
            f(
                "encode",
                vec![Value::Bytea(vec![b'a', 0, b'\\', 200]), tx("escape")]
            ),
            "a\\000\\\\\\310"
        );
        assert_eq!(
            f("decode", vec![tx("aGVsbG8="), tx("base64")]),
            "\\x68656c6c6f"
        );
        assert_eq!(f("decode", vec![tx("0102ff"), tx("hex")]), "\\x0102ff");
        assert_eq!(f("decode", vec![tx("a\\000b"), tx("escape")]), "\\x610062");
        assert_eq!(
            f("encode", vec![Value::Bytea(vec![1]), tx("foo")]),
            "ERROR 22023: unrecognized encoding: \"foo\""
        );
        assert_eq!(f("to_hex", vec![Value::Int4(255)]), "ff");
        assert_eq!(f("to_hex", vec![Value::Int4(-1)]), "ffffffff");
        assert_eq!(f("to_hex", vec![Value::Int8(-1)]), "ffffffffffffffff");
        assert_eq!(f("chr", vec![Value::Int4(65)]), "A");
        assert_eq!(
            f("chr", vec![Value::Int4(0)]),
            "ERROR 54000: null character not permitted"
        );
        assert_eq!(f("ascii", vec![tx("A")]), "65");
        assert_eq!(
            f(
                "regexp_replace",
                vec![tx("foo bar"), tx("o+"), tx("0"), tx("g")]
            ),
            "f0 bar"
        );
        assert_eq!(
            f("regexp_match", vec![tx("foobar"), tx("(o+)(b)")]),
            "{oo,b}"
        );
        assert_eq!(f("regexp_match", vec![tx("foobar"), tx("z")]), "");
    }
}
