//! The postgresql.conf reader: turns a file (and everything it includes) into an
//! ordered list of `name = value` items, without interpreting the values.
//!
//! Corresponds to PostgreSQL's `guc-file.l` (`ParseConfigFile`, `ParseConfigFp`,
//! `ParseConfigDirectory`, `GUC_scanstr`). Syntax, one assignment per line:
//!
//! ```text
//! name = value      # comment          name value         (the '=' is optional)
//! value: 'quoted, with '' and \n escapes' | 128MB | on | 0.9 | -1 | /unquoted-ish
//! include 'other.conf'   include_if_exists 'maybe.conf'   include_dir 'conf.d'
//! ```
//!
//! Relative include paths are relative to the including file's directory; include
//! depth is limited to 10; an `include_dir` reads its `*.conf` files in name order.
//! Errors are collected as PostgreSQL's LOG message texts; the caller decides whether
//! they are fatal (startup) or mean "no changes were applied" (reload).

use std::path::{Path, PathBuf};

/// One assignment, in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfItem {
    pub name: String,
    pub value: String,
    pub file: PathBuf,
    pub line: u32,
}

/// What reading a file produced.
#[derive(Debug, Default)]
pub struct Parsed {
    pub items: Vec<ConfItem>,
    /// Error messages (PostgreSQL's texts), to be logged at LOG level.
    pub errors: Vec<String>,
    /// Informational LOG lines (skipped missing files).
    pub notes: Vec<String>,
}

const MAX_DEPTH: u32 = 10;
const MAX_SYNTAX_ERRORS: usize = 100;

/// An OS error as PostgreSQL's `%m` prints it (no "(os error N)" suffix).
pub fn os_error_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Resolves `location` relative to the directory of `calling_file`.
fn absolute_location(location: &str, calling_file: Option<&Path>) -> PathBuf {
    let p = Path::new(location);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    match calling_file.and_then(Path::parent) {
        Some(dir) => dir.join(p),
        None => p.to_path_buf(),
    }
}

/// Reads `path`. `strict`: a missing file is an error (else a LOG note).
pub fn parse_file(path: &Path, strict: bool, out: &mut Parsed) {
    parse_file_at(path, None, strict, 0, out);
}

fn parse_file_at(
    location: &Path,
    calling: Option<&Path>,
    strict: bool,
    depth: u32,
    out: &mut Parsed,
) {
    let path = absolute_location(&location.to_string_lossy(), calling);
    if depth > MAX_DEPTH {
        out.errors.push(format!(
            "could not open configuration file \"{}\": maximum nesting depth exceeded",
            path.display()
        ));
        return;
    }
    match std::fs::read(&path) {
        Ok(bytes) => parse_text(&String::from_utf8_lossy(&bytes), &path, depth, out),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !strict => {
            out.notes.push(format!(
                "skipping missing configuration file \"{}\"",
                path.display()
            ));
        }
        Err(e) => out.errors.push(format!(
            "could not open configuration file \"{}\": {}",
            path.display(),
            os_error_text(&e)
        )),
    }
}

fn parse_dir(location: &str, calling: &Path, depth: u32, out: &mut Parsed) {
    let dir = absolute_location(location, Some(calling));
    let entries = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) => {
            out.errors.push(format!(
                "could not open configuration directory \"{}\": {}",
                dir.display(),
                os_error_text(&e)
            ));
            return;
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|n| !n.starts_with('.') && n.ends_with(".conf")) && p.is_file()
        })
        .collect();
    files.sort();
    for f in files {
        parse_file_at(&f, None, true, depth + 1, out);
    }
}

/// Parses the text of one file (`path` names it in messages and anchors includes).
pub fn parse_text(text: &str, path: &Path, depth: u32, out: &mut Parsed) {
    let mut syntax_errors = 0;
    for (n, raw) in text.lines().enumerate() {
        let line = n as u32 + 1;
        match parse_line(raw) {
            Ok(None) => {}
            Ok(Some((name, value))) => match name.to_ascii_lowercase().as_str() {
                "include" => parse_file_at(Path::new(&value), Some(path), true, depth + 1, out),
                "include_if_exists" => {
                    parse_file_at(Path::new(&value), Some(path), false, depth + 1, out)
                }
                "include_dir" => parse_dir(&value, path, depth, out),
                _ => out.items.push(ConfItem {
                    name,
                    value,
                    file: path.to_path_buf(),
                    line,
                }),
            },
            Err(near) => {
                out.errors.push(match near {
                    Some(tok) => format!(
                        "syntax error in file \"{}\" line {line}, near token \"{tok}\"",
                        path.display()
                    ),
                    None => format!(
                        "syntax error in file \"{}\" line {line}, near end of line",
                        path.display()
                    ),
                });
                syntax_errors += 1;
                if syntax_errors >= MAX_SYNTAX_ERRORS {
                    out.errors.push(format!(
                        "too many syntax errors found, abandoning file \"{}\"",
                        path.display()
                    ));
                    return;
                }
            }
        }
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Equals,
    /// Quoted string, already unescaped.
    Quoted(String),
    /// Bare word: identifier, number with unit, unquoted string.
    Word(String),
}

/// Splits one line into tokens; `Err(token text)` for an unterminated string.
fn tokenize(line: &str) -> Result<Vec<(Token, String)>, String> {
    let chars: Vec<char> = line.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            break;
        } else if c == '=' {
            toks.push((Token::Equals, "=".into()));
            i += 1;
        } else if c == '\'' {
            let start = i;
            let mut s = String::new();
            i += 1;
            let mut closed = false;
            while i < chars.len() {
                match chars[i] {
                    '\'' if chars.get(i + 1) == Some(&'\'') => {
                        s.push('\'');
                        i += 2;
                    }
                    '\'' => {
                        closed = true;
                        i += 1;
                        break;
                    }
                    '\\' if i + 1 < chars.len() => {
                        i += 1;
                        i += unescape(&chars[i..], &mut s);
                    }
                    other => {
                        s.push(other);
                        i += 1;
                    }
                }
            }
            if !closed {
                return Err(chars[start..].iter().collect());
            }
            let text: String = chars[start..i].iter().collect();
            toks.push((Token::Quoted(s), text));
        } else {
            let start = i;
            while i < chars.len()
                && !chars[i].is_whitespace()
                && !matches!(chars[i], '=' | '#' | '\'')
            {
                i += 1;
            }
            let w: String = chars[start..i].iter().collect();
            toks.push((Token::Word(w.clone()), w));
        }
    }
    Ok(toks)
}

/// Handles the character(s) after a backslash; returns how many it consumed.
fn unescape(rest: &[char], out: &mut String) -> usize {
    match rest[0] {
        'b' => out.push('\u{8}'),
        'f' => out.push('\u{c}'),
        'n' => out.push('\n'),
        'r' => out.push('\r'),
        't' => out.push('\t'),
        '0'..='7' => {
            let n = rest
                .iter()
                .take(3)
                .take_while(|c| ('0'..='7').contains(*c))
                .count();
            let s: String = rest[..n].iter().collect();
            let v = u32::from_str_radix(&s, 8).unwrap_or(0);
            out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            return n;
        }
        other => out.push(other),
    }
    1
}

fn is_name(w: &str) -> bool {
    w.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && w.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '.'))
        && !w.ends_with('.')
        && !w.contains("..")
}

/// Parses one line: `Ok(None)` for blank/comment, `Err(Some(tok))` / `Err(None)`
/// for a syntax error near a token / the end of the line.
fn parse_line(line: &str) -> Result<Option<(String, String)>, Option<String>> {
    let toks = tokenize(line).map_err(Some)?;
    let mut it = toks.into_iter();
    let Some((first, first_text)) = it.next() else {
        return Ok(None);
    };
    let name = match first {
        Token::Word(w) if is_name(&w) => w,
        _ => return Err(Some(first_text)),
    };
    let mut next = it.next();
    if matches!(next, Some((Token::Equals, _))) {
        next = it.next();
    }
    let value = match next {
        Some((Token::Quoted(s), _)) => s,
        Some((Token::Word(w), _)) => w,
        Some((Token::Equals, t)) => return Err(Some(t)),
        None => return Err(None),
    };
    if let Some((_, t)) = it.next() {
        return Err(Some(t));
    }
    Ok(Some((name, value)))
}

/// Quotes a value the way ALTER SYSTEM writes it: single quotes, with `'` and `\`
/// doubled.
pub fn quote_value(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('\'');
    for c in v.chars() {
        if c == '\'' || c == '\\' {
            s.push(c);
        }
        s.push(c);
    }
    s.push('\'');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Parsed {
        let mut p = Parsed::default();
        parse_text(text, Path::new("/x/postgresql.conf"), 0, &mut p);
        p
    }

    fn pairs(p: &Parsed) -> Vec<(&str, &str)> {
        p.items
            .iter()
            .map(|i| (i.name.as_str(), i.value.as_str()))
            .collect()
    }

    #[test]
    fn assignments_comments_and_quotes() {
        let p = parse(
            "# comment\n\
             port = 5433   # trailing\n\
             shared_buffers 256MB\n\
             listen_addresses='*'\n\
             log_line_prefix = '%m [%p] it''s \\'x\\' \\101\\tz'\n\
             \n\
             checkpoint_completion_target = 0.5\n\
             search_path = '\"$user\", public'\n\
             myext.opt = on\n\
             unix_socket_directories = '/tmp, /var/run'\n",
        );
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(
            pairs(&p),
            vec![
                ("port", "5433"),
                ("shared_buffers", "256MB"),
                ("listen_addresses", "*"),
                ("log_line_prefix", "%m [%p] it's 'x' A\tz"),
                ("checkpoint_completion_target", "0.5"),
                ("search_path", "\"$user\", public"),
                ("myext.opt", "on"),
                ("unix_socket_directories", "/tmp, /var/run"),
            ]
        );
        assert_eq!(p.items[1].line, 3);
    }

    #[test]
    fn syntax_errors_name_the_token_or_end_of_line() {
        let p = parse("port = 5432 extra\nfsync =\n= 3\nssl = 'open\n");
        assert_eq!(
            p.errors,
            vec![
                "syntax error in file \"/x/postgresql.conf\" line 1, near token \"extra\"",
                "syntax error in file \"/x/postgresql.conf\" line 2, near end of line",
                "syntax error in file \"/x/postgresql.conf\" line 3, near token \"=\"",
                "syntax error in file \"/x/postgresql.conf\" line 4, near token \"'open\"",
            ]
        );
    }

    #[test]
    fn includes_resolve_relative_to_the_including_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path();
        std::fs::create_dir(d.join("conf.d")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            d.join("postgresql.conf"),
            "port = 1\ninclude 'extra.conf'\ninclude_if_exists 'missing.conf'\ninclude_dir 'conf.d'\nwork_mem = '8MB'\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(d.join("extra.conf"), "port = 2\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(d.join("conf.d/b.conf"), "port = 4\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(d.join("conf.d/a.conf"), "port = 3\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(d.join("conf.d/.hidden.conf"), "port = 9\n")
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(d.join("conf.d/c.txt"), "port = 9\n").unwrap_or_else(|e| panic!("{e}"));
        let mut p = Parsed::default();
        parse_file(&d.join("postgresql.conf"), true, &mut p);
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(
            pairs(&p),
            vec![
                ("port", "1"),
                ("port", "2"),
                ("port", "3"),
                ("port", "4"),
                ("work_mem", "8MB")
            ]
        );
        assert_eq!(p.items[1].file, d.join("extra.conf"));
        assert_eq!(p.notes.len(), 1);
        assert!(p.notes[0].starts_with("skipping missing configuration file"));

        std::fs::write(d.join("bad.conf"), "include 'nope.conf'\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let mut p = Parsed::default();
        parse_file(&d.join("bad.conf"), true, &mut p);
        assert_eq!(
            p.errors,
            vec![format!(
                "could not open configuration file \"{}\": No such file or directory",
                d.join("nope.conf").display()
            )]
        );

        std::fs::write(d.join("loop.conf"), "include 'loop.conf'\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let mut p = Parsed::default();
        parse_file(&d.join("loop.conf"), true, &mut p);
        assert_eq!(p.errors.len(), 1);
        assert!(p.errors[0].ends_with("maximum nesting depth exceeded"));
    }

    #[test]
    fn quoting_doubles_quotes_and_backslashes() {
        assert_eq!(quote_value("it's a\\b"), "'it''s a\\\\b'");
        let p = parse(&format!("x.y = {}\n", quote_value("it's a\\b")));
        assert_eq!(pairs(&p), vec![("x.y", "it's a\\b")]);
    }
}
