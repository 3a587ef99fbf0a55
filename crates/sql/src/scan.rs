//! The scanner half of parsing (PostgreSQL's `parser/scan.l`, reduced): splits a
//! query string into statements on `;` outside quotes (`'...'`, `E'...'`,
//! `"..."`), dollar quotes (`$tag$...$tag$`) and comments (`--`, nested `/* */`),
//! and tokenizes statement text for the hand-written parser in `front_parser`.

/// A piece of the query string between `;`s.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Piece<'a> {
    pub text: &'a str,
    /// byte offset of `text` in the whole string
    pub offset: usize,
    /// whether a `;` ended it
    pub terminated: bool,
}

/// Splits on top-level `;`. Pieces holding only whitespace and comments are dropped.
pub(crate) fn split_statements<'a>(sql: &'a str) -> Vec<Piece<'a>> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let push = |from: usize, to: usize, terminated: bool, out: &mut Vec<Piece<'a>>| {
        let text = &sql[from..to];
        if !is_blank(text) {
            out.push(Piece {
                text,
                offset: from,
                terminated,
            });
        }
    };
    while i < b.len() {
        match b[i] {
            b';' => {
                push(start, i, true, &mut out);
                start = i + 1;
                i += 1;
            }
            _ => i = skip_token(b, i),
        }
    }
    push(start, b.len(), false, &mut out);
    out
}

/// Advances past one lexical unit starting at `i` (a quoted string, comment, dollar
/// quote, or a single byte), returning the next index.
pub(crate) fn skip_token(b: &[u8], i: usize) -> usize {
    match b[i] {
        b'\'' => {
            let escapes = i > 0
                && (b[i - 1] == b'e' || b[i - 1] == b'E')
                && (i < 2 || !is_ident_byte(b[i - 2]));
            skip_quoted(b, i, b'\'', escapes)
        }
        b'"' => skip_quoted(b, i, b'"', false),
        b'-' if b.get(i + 1) == Some(&b'-') => {
            let mut j = i;
            while j < b.len() && b[j] != b'\n' {
                j += 1;
            }
            j
        }
        b'/' if b.get(i + 1) == Some(&b'*') => {
            let mut depth = 0;
            let mut j = i;
            while j < b.len() {
                if b[j] == b'/' && b.get(j + 1) == Some(&b'*') {
                    depth += 1;
                    j += 2;
                } else if b[j] == b'*' && b.get(j + 1) == Some(&b'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        return j;
                    }
                } else {
                    j += 1;
                }
            }
            j
        }
        b'$' if i == 0 || !is_ident_byte(b[i - 1]) => match dollar_tag(b, i) {
            Some(tag_end) => {
                let tag = &b[i..tag_end];
                let mut j = tag_end;
                while j < b.len() {
                    if b[j..].starts_with(tag) {
                        return j + tag.len();
                    }
                    j += 1;
                }
                j
            }
            None => i + 1,
        },
        _ => i + 1,
    }
}

fn skip_quoted(b: &[u8], i: usize, q: u8, backslash_escapes: bool) -> usize {
    let mut j = i + 1;
    while j < b.len() {
        if backslash_escapes && b[j] == b'\\' {
            j += 2;
            continue;
        }
        if b[j] == q {
            if b.get(j + 1) == Some(&q) {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    j
}

/// If a dollar-quote opener (`$$` or `$tag$`) starts at `i`, the index after it.
fn dollar_tag(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if j < b.len() && (b[j].is_ascii_digit()) {
        return None;
    }
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80) {
        j += 1;
    }
    (j < b.len() && b[j] == b'$').then_some(j + 1)
}

/// Does a comment (`--` or `/*`) start at `i`?
pub(crate) fn comment_at(b: &[u8], i: usize) -> bool {
    (b[i] == b'-' && b.get(i + 1) == Some(&b'-')) || (b[i] == b'/' && b.get(i + 1) == Some(&b'*'))
}

pub(crate) fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// Only whitespace and comments?
pub(crate) fn is_blank(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
        } else if comment_at(b, i) {
            i = skip_token(b, i);
        } else {
            return false;
        }
    }
    true
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// identifier or keyword, lower-cased unless quoted
    Word {
        text: String,
        quoted: bool,
    },
    Str(String),
    Num(String),
    Punct(char),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// An unquoted word, lower-cased.
    pub(crate) fn word(&self) -> Option<&str> {
        match &self.tok {
            Tok::Word {
                text,
                quoted: false,
            } => Some(text),
            _ => None,
        }
    }
}

/// Tokenizes; errors are (message, byte offset).
pub(crate) fn lex(text: &str) -> Result<Vec<Token>, (String, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if comment_at(b, i) {
            i = skip_token(b, i);
            continue;
        }
        let start = i;
        let tok = if c == b'\'' || ((c == b'e' || c == b'E') && b.get(i + 1) == Some(&b'\'')) {
            let escapes = c != b'\'';
            let q = if escapes { i + 1 } else { i };
            let end = skip_quoted(b, q, b'\'', escapes);
            if end > b.len() || b.get(end - 1) != Some(&b'\'') || end == q + 1 {
                return Err((
                    format!(
                        "unterminated quoted string at or near \"{}\"",
                        &text[start..]
                    ),
                    start,
                ));
            }
            i = end;
            Tok::Str(unquote(&text[q + 1..end - 1], escapes))
        } else if c == b'$' && (i == 0 || !is_ident_byte(b[i - 1])) && dollar_tag(b, i).is_some() {
            let tag_end = dollar_tag(b, i).unwrap_or(i + 1);
            let end = skip_token(b, i);
            let body_end = end.saturating_sub(tag_end - i).max(tag_end);
            if !b[..end].ends_with(&b[i..tag_end]) || end < tag_end + (tag_end - i) {
                return Err((
                    format!(
                        "unterminated dollar-quoted string at or near \"{}\"",
                        &text[start..]
                    ),
                    start,
                ));
            }
            i = end;
            Tok::Str(text[tag_end..body_end].to_string())
        } else if c == b'"' {
            let end = skip_quoted(b, i, b'"', false);
            if b.get(end - 1) != Some(&b'"') || end == i + 1 {
                return Err((
                    format!(
                        "unterminated quoted identifier at or near \"{}\"",
                        &text[start..]
                    ),
                    start,
                ));
            }
            i = end;
            Tok::Word {
                text: text[start + 1..end - 1].replace("\"\"", "\""),
                quoted: true,
            }
        } else if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            while i < b.len() && is_ident_byte(b[i]) {
                i += 1;
            }
            Tok::Word {
                text: text[start..i].to_lowercase(),
                quoted: false,
            }
        } else if c.is_ascii_digit()
            || (c == b'.' && b.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            Tok::Num(text[start..i].to_string())
        } else {
            let ch = text[i..].chars().next().unwrap_or(' ');
            i += ch.len_utf8();
            Tok::Punct(ch)
        };
        out.push(Token { tok, start, end: i });
    }
    Ok(out)
}

fn unquote(inner: &str, escapes: bool) -> String {
    let s = inner.replace("''", "'");
    if !escapes {
        return s;
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some(o) => out.push(o),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_comments_and_dollar_quotes() {
        let sql =
            "select 'a;b'; select $$x;y$$ -- c;d\n; /* e; /* nested; */ f; */ select \"q;\"; ;  ";
        let pieces: Vec<&str> = split_statements(sql)
            .iter()
            .map(|p| p.text.trim())
            .collect();
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces[0], "select 'a;b'");
        assert!(pieces[1].starts_with("select $$x;y$$"));
        assert!(pieces[2].ends_with("select \"q;\""));
        assert!(split_statements("  -- only a comment\n /* and another */ ").is_empty());
        assert!(split_statements("").is_empty());
        assert_eq!(split_statements("select E'a\\';b'").len(), 1);
        assert_eq!(split_statements("select $1; select 2").len(), 2);
        assert_eq!(
            lex("select $$it's$$, $a$x$a$").expect("lexes")[1].tok,
            Tok::Str("it's".into())
        );
        assert!(crate::front_parser::parse_query("select $$it's;$$; select 1").is_ok());
    }
}
