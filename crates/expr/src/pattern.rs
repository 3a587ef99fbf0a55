//! Pattern matching: `LIKE`/`ILIKE` (with `ESCAPE`) and POSIX regular
//! expressions (`~`, `~*`, `!~`, `!~*`, `regexp_replace`, `regexp_match`).
//!
//! LIKE: `%` matches any run of characters, `_` exactly one; the escape
//! character (default `\`) makes the next character literal, and a pattern may
//! not end with it (`22025 LIKE pattern must not end with escape character`).
//! Regular expressions are compiled with the `regex` crate (close to PostgreSQL's
//! ARE flavour for the patterns clients use) and cached per thread.
//! Corresponds to PostgreSQL's `utils/adt/like.c` and `regexp.c`.

use std::cell::RefCell;
use std::collections::HashMap;

use regex::Regex;
use tandem_types::{PgError, PgResult, SqlState};

#[derive(Debug, PartialEq)]
enum Tok {
    Lit(char),
    One,
    Any,
}

fn compile_like(pattern: &str, escape: Option<char>, fold: bool) -> PgResult<Vec<Tok>> {
    let mut toks = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            let n = chars.next().ok_or_else(|| {
                PgError::new(
                    SqlState::INVALID_ESCAPE_SEQUENCE,
                    "LIKE pattern must not end with escape character",
                )
            })?;
            toks.push(Tok::Lit(fold_char(n, fold)));
        } else if c == '%' {
            if toks.last() != Some(&Tok::Any) {
                toks.push(Tok::Any);
            }
        } else if c == '_' {
            toks.push(Tok::One);
        } else {
            toks.push(Tok::Lit(fold_char(c, fold)));
        }
    }
    Ok(toks)
}

fn fold_char(c: char, fold: bool) -> char {
    if fold {
        c.to_lowercase().next().unwrap_or(c)
    } else {
        c
    }
}

/// `like_escape(pattern, escape)`: the pattern rewritten for LIKE's own
/// escape character, the backslash (how `LIKE p ESCAPE e` is evaluated, as
/// in PostgreSQL): `e` followed by a character becomes a backslash and that
/// character, a literal backslash is doubled; an empty `e` turns escaping
/// off (every backslash doubled).
pub fn like_escape(pattern: &str, escape: &str) -> PgResult<String> {
    let mut esc = escape.chars();
    let e = match (esc.next(), esc.next()) {
        (e, None) => e,
        _ => {
            return Err(
                PgError::new(SqlState::INVALID_ESCAPE_SEQUENCE, "invalid escape string")
                    .with_hint("Escape string must be empty or one character."),
            )
        }
    };
    if e == Some('\\') {
        return Ok(pattern.to_string());
    }
    let mut out = String::with_capacity(pattern.len() + 2);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if Some(c) == e {
            out.push('\\');
            if let Some(n) = chars.next() {
                if n == '\\' {
                    out.push('\\');
                }
                out.push(n);
            }
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// `s LIKE pattern [ESCAPE escape]`; `case_insensitive` for ILIKE. An empty
/// escape string (`ESCAPE ''`) disables escaping: pass `None`.
pub fn like(
    s: &str,
    pattern: &str,
    escape: Option<char>,
    case_insensitive: bool,
) -> PgResult<bool> {
    let toks = compile_like(pattern, escape, case_insensitive)?;
    let text: Vec<char> = s.chars().map(|c| fold_char(c, case_insensitive)).collect();
    // iterative wildcard matching with one backtrack point (the last `%`)
    let (mut ti, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < text.len() {
        match toks.get(pi) {
            Some(Tok::Lit(c)) if *c == text[ti] => {
                ti += 1;
                pi += 1;
            }
            Some(Tok::One) => {
                ti += 1;
                pi += 1;
            }
            Some(Tok::Any) => {
                star = Some((pi, ti));
                pi += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return Ok(false),
            },
        }
    }
    Ok(toks[pi..].iter().all(|t| *t == Tok::Any))
}

/// `LIKE` on bytea (bytes instead of characters).
pub fn like_bytes(s: &[u8], pattern: &[u8]) -> PgResult<bool> {
    // bytes map 1:1 onto chars U+0000..U+00FF, which keeps `%`, `_` and `\` intact
    let s: String = s.iter().map(|&b| b as char).collect();
    let p: String = pattern.iter().map(|&b| b as char).collect();
    like(&s, &p, Some('\\'), false)
}

thread_local! {
    static REGEX_CACHE: RefCell<HashMap<(String, bool), Regex>> = RefCell::new(HashMap::new());
}

/// Compiles (or fetches) a regular expression; `case_insensitive` for `~*`.
pub fn regex(pattern: &str, case_insensitive: bool) -> PgResult<Regex> {
    let key = (pattern.to_string(), case_insensitive);
    if let Some(r) = REGEX_CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(r);
    }
    let translated = translate_pattern(pattern);
    let re = regex::RegexBuilder::new(&translated)
        .case_insensitive(case_insensitive)
        .build()
        .map_err(|e| {
            let msg = e.to_string();
            let last = msg
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("invalid pattern");
            PgError::new(
                SqlState("2201B"),
                format!(
                    "invalid regular expression: {}",
                    last.trim_start_matches("error: ").trim()
                ),
            )
        })?;
    REGEX_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 256 {
            c.clear();
        }
        c.insert(key, re.clone());
    });
    Ok(re)
}

/// PostgreSQL ARE spellings the `regex` crate writes differently
/// (`\m`/`\M` word boundaries, `\y`).
fn translate_pattern(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('m') | Some('M') | Some('y') => out.push_str(r"\b"),
                Some('Y') => out.push_str(r"\B"),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `s ~ pattern` / `s ~* pattern`.
pub fn regex_match(s: &str, pattern: &str, case_insensitive: bool) -> PgResult<bool> {
    Ok(regex(pattern, case_insensitive)?.is_match(s))
}

/// `regexp_replace(s, pattern, replacement [, flags])`: `g` replaces all,
/// `i` ignores case; `\1`..`\9` and `\&` in the replacement refer to groups.
pub fn regexp_replace(s: &str, pattern: &str, replacement: &str, flags: &str) -> PgResult<String> {
    let global = flags.contains('g');
    let re = regex(pattern, flags.contains('i'))?;
    let mut out = String::new();
    let mut last = 0;
    for caps in re.captures_iter(s) {
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&s[last..m.start()]);
        let mut chars = replacement.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.peek().copied() {
                Some(d @ '1'..='9') => {
                    chars.next();
                    let idx = d as usize - '0' as usize;
                    if let Some(g) = caps.get(idx) {
                        out.push_str(g.as_str());
                    }
                }
                Some('&') => {
                    chars.next();
                    out.push_str(m.as_str());
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            }
        }
        last = m.end();
        if !global {
            break;
        }
    }
    out.push_str(&s[last..]);
    Ok(out)
}

/// `regexp_split_to_array(s, pattern [, flags])`: the pieces between the
/// matches. A zero-length match at the start or end of `s`, or right after
/// another match, splits nothing (PostgreSQL's degenerate matches).
pub fn regexp_split(s: &str, pattern: &str, flags: &str) -> PgResult<Vec<String>> {
    if flags.contains('g') {
        return Err(PgError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "regexp_split_to_array() does not support the \"global\" option",
        ));
    }
    let re = regex(pattern, flags.contains('i'))?;
    let mut pieces = Vec::new();
    let mut piece_start = 0;
    let mut last_end = None;
    for m in re.find_iter(s) {
        if m.start() == m.end()
            && (m.start() == 0 || m.start() == s.len() || last_end == Some(m.start()))
        {
            continue;
        }
        pieces.push(s[piece_start..m.start()].to_string());
        piece_start = m.end();
        last_end = Some(m.end());
    }
    pieces.push(s[piece_start..].to_string());
    Ok(pieces)
}

/// `regexp_match(s, pattern)`: the capture groups (or the whole match) of the
/// first match, `None` when there is none.
pub fn regexp_match(s: &str, pattern: &str, flags: &str) -> PgResult<Option<Vec<Option<String>>>> {
    let re = regex(pattern, flags.contains('i'))?;
    let Some(caps) = re.captures(s) else {
        return Ok(None);
    };
    if caps.len() == 1 {
        return Ok(Some(vec![caps.get(0).map(|m| m.as_str().to_string())]));
    }
    Ok(Some(
        (1..caps.len())
            .map(|i| caps.get(i).map(|m| m.as_str().to_string()))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_and_escapes() {
        assert!(like("abc", "a%", Some('\\'), false).unwrap());
        assert!(like("abc", "_b_", Some('\\'), false).unwrap());
        assert!(!like("abc", "_b", Some('\\'), false).unwrap());
        assert!(like("a%c", "a\\%c", Some('\\'), false).unwrap());
        assert!(!like("abc", "a\\%c", Some('\\'), false).unwrap());
        assert!(like("a_c", "a#_c", Some('#'), false).unwrap());
        assert!(like("", "%", Some('\\'), false).unwrap());
        assert!(like("mississippi", "%ss%pi", Some('\\'), false).unwrap());
        assert!(like("ABC", "a%", Some('\\'), true).unwrap());
        assert!(like("é", "_", Some('\\'), false).unwrap());
        let e = like("a", "a\\", Some('\\'), false).unwrap_err();
        assert_eq!(
            (e.code.0, e.message.as_str()),
            ("22025", "LIKE pattern must not end with escape character")
        );
    }

    #[test]
    fn regexes() {
        assert!(regex_match("foobar", "^foo", false).unwrap());
        assert!(regex_match("FOObar", "^foo", true).unwrap());
        assert!(!regex_match("FOObar", "^foo", false).unwrap());
        assert!(regex_match("pg_toast_1", "^pg_toast", false).unwrap());
        assert_eq!(
            regexp_replace("hello world", "o", "0", "").unwrap(),
            "hell0 world"
        );
        assert_eq!(
            regexp_replace("hello world", "o", "0", "g").unwrap(),
            "hell0 w0rld"
        );
        assert_eq!(regexp_replace("abc", "(b)", "[\\1]", "").unwrap(), "a[b]c");
        assert_eq!(
            regexp_match("foobar", "(o+)(b)", "").unwrap(),
            Some(vec![Some("oo".into()), Some("b".into())])
        );
        assert_eq!(regex("(", false).unwrap_err().code.0, "2201B");
    }
}
