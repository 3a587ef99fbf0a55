//! Connection strings: libpq's two forms, parsed into one [`ConnInfo`].
//!
//! - keyword/value: `host=h port=5433 password='a b\'c'` — values may be
//!   single-quoted; a backslash escapes the next character, quoted or not;
//!   whitespace around `=` is allowed.
//! - URI: `postgresql://[user[:password]@][host][:port][,...][/dbname][?k=v&...]`
//!   (also `postgres://`), percent-encoded, IPv6 hosts in brackets.
//!
//! Every keyword must be one of libpq's ([`KEYWORDS`]); a later setting of a
//! keyword overrides an earlier one. `host`, `hostaddr` and `port` may be
//! comma-separated lists; [`ConnInfo::targets`] pairs them as libpq does (one
//! port for all hosts, or one per host). Parse errors use libpq's texts
//! (without libpq's trailing newline; [`check_conninfo`] adds it as
//! PostgreSQL's messages show it).
//!
//! PostgreSQL counterparts: `conninfo_parse`, `conninfo_uri_parse_options`,
//! `conninfo_uri_parse_params`, `conninfo_uri_decode` and the host/port
//! pairing of `connectOptions2` in `interfaces/libpq/fe-connect.c`;
//! [`check_conninfo`] is `libpqrcv_check_conninfo` of
//! `replication/libpqwalreceiver/libpqwalreceiver.c`.

use std::collections::BTreeMap;
use std::fmt;

use tandem_types::{PgError, PgResult, SqlState};

/// libpq's connection option keywords.
pub const KEYWORDS: &[&str] = &[
    "service",
    "user",
    "password",
    "passfile",
    "channel_binding",
    "connect_timeout",
    "dbname",
    "host",
    "hostaddr",
    "port",
    "client_encoding",
    "options",
    "application_name",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "sslmode",
    "sslnegotiation",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslcertmode",
    "sslpassword",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requirepeer",
    "require_auth",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "gssencmode",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "replication",
    "target_session_attrs",
    "load_balance_hosts",
];

/// The host used when none is given: the Unix socket directory.
pub const DEFAULT_HOST: &str = "/tmp";
/// The port used when none is given.
pub const DEFAULT_PORT: u16 = 5432;

/// A connection string that does not parse, or whose hosts and ports do not
/// pair up; the message is libpq's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnInfoError(pub String);

impl fmt::Display for ConnInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnInfoError {}

/// A connection failure (`08001`) with the parser's message.
impl From<ConnInfoError> for PgError {
    fn from(e: ConnInfoError) -> PgError {
        PgError::new(SqlState("08001"), e.0)
    }
}

fn err(msg: String) -> ConnInfoError {
    ConnInfoError(msg)
}

/// One server to try: libpq's `pg_conn_host`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Host name, IP address, or Unix socket directory (starts with `/`).
    pub host: String,
    /// Numeric address to connect to instead of resolving `host`.
    pub hostaddr: Option<String>,
    pub port: u16,
}

impl Target {
    /// Whether this target is a Unix socket directory.
    pub fn is_socket_dir(&self) -> bool {
        self.hostaddr.is_none() && self.host.starts_with('/')
    }
}

/// A parsed connection string: keyword to value, in keyword order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnInfo {
    options: BTreeMap<String, String>,
}

impl ConnInfo {
    /// Parses either form (a string starting with `postgresql://` or
    /// `postgres://` is a URI).
    pub fn parse(s: &str) -> Result<ConnInfo, ConnInfoError> {
        if uri_prefix_len(s).is_some() {
            parse_uri(s)
        } else {
            parse_keywords(s)
        }
    }

    /// The value of `keyword`, if set.
    pub fn get(&self, keyword: &str) -> Option<&str> {
        self.options.get(keyword).map(String::as_str)
    }

    /// Whether `keyword` is set (even to an empty value).
    pub fn contains(&self, keyword: &str) -> bool {
        self.options.contains_key(keyword)
    }

    /// All settings, in keyword order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.options.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The settings as a keyword/value string, in keyword order, with the
    /// password shown as `********` (`pg_stat_wal_receiver.conninfo`; libpq's
    /// `PQconninfo` as `libpqrcv_get_conninfo` shows it).
    pub fn masked(&self) -> String {
        self.iter()
            .map(|(k, v)| {
                let v = if k == "password" { "********" } else { v };
                if v.is_empty() || v.contains([' ', '\'', '\\']) {
                    format!("{k}={}", quote_conninfo_value(v))
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The settings as a keyword/value string that names `target` alone
    /// (its host, hostaddr and port replace the lists): one server of a
    /// multi-host string, to connect to that server only.
    pub fn for_target(&self, target: &Target) -> String {
        let mut opts = self.options.clone();
        opts.remove("hostaddr");
        opts.insert("host".into(), target.host.clone());
        if let Some(a) = &target.hostaddr {
            opts.insert("hostaddr".into(), a.clone());
        }
        opts.insert("port".into(), target.port.to_string());
        opts.iter()
            .map(|(k, v)| format!("{k}={}", quote_conninfo_value(v)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The servers to try, in order (libpq's `connectOptions2`): `host` and
    /// `hostaddr` are comma-separated lists of the same length (either may be
    /// missing); `port` is one port for every host or one per host. An empty
    /// element means the default ([`DEFAULT_HOST`], [`DEFAULT_PORT`]).
    pub fn targets(&self) -> Result<Vec<Target>, ConnInfoError> {
        let split = |k: &str| -> Option<Vec<&str>> {
            self.get(k)
                .filter(|v| !v.is_empty())
                .map(|v| v.split(',').collect())
        };
        let hosts = split("host");
        let addrs = split("hostaddr");
        if let (Some(h), Some(a)) = (&hosts, &addrs) {
            if h.len() != a.len() {
                return Err(err(format!(
                    "could not match {} host names to {} hostaddr values",
                    h.len(),
                    a.len()
                )));
            }
        }
        let n = addrs.as_ref().or(hosts.as_ref()).map(Vec::len).unwrap_or(1);
        let ports = match split("port") {
            None => vec![""; n],
            Some(p) if p.len() == 1 => vec![p[0]; n],
            Some(p) if p.len() == n => p,
            Some(p) => {
                return Err(err(format!(
                    "could not match {} port numbers to {n} hosts",
                    p.len()
                )))
            }
        };
        let mut out = Vec::with_capacity(n);
        for (i, port) in ports.into_iter().enumerate() {
            let hostaddr = addrs
                .as_ref()
                .map(|a| a[i])
                .filter(|a| !a.is_empty())
                .map(str::to_string);
            let host = hosts
                .as_ref()
                .map(|h| h[i])
                .filter(|h| !h.is_empty())
                .map(str::to_string)
                .or_else(|| hostaddr.clone())
                .unwrap_or_else(|| DEFAULT_HOST.to_string());
            out.push(Target {
                host,
                hostaddr,
                port: parse_port(port)?,
            });
        }
        Ok(out)
    }
}

/// A port element: empty means the default; libpq's two errors otherwise.
fn parse_port(p: &str) -> Result<u16, ConnInfoError> {
    let p = p.trim();
    if p.is_empty() {
        return Ok(DEFAULT_PORT);
    }
    let n: i64 = p.parse().map_err(|_| {
        err(format!(
            "invalid integer value \"{p}\" for connection option \"port\""
        ))
    })?;
    u16::try_from(n)
        .ok()
        .filter(|&n| n != 0)
        .ok_or_else(|| err(format!("invalid port number: \"{p}\"")))
}

/// [`ConnInfo::parse`] as a connection error (`08001`).
pub fn parse_conninfo(s: &str) -> PgResult<ConnInfo> {
    Ok(ConnInfo::parse(s)?)
}

/// `walrcv_check_conninfo`: the string must parse (CREATE / ALTER
/// SUBSCRIPTION ... CONNECTION). A syntax error (`42601`) whose message ends
/// in a newline, as libpq's do.
pub fn check_conninfo(conninfo: &str) -> PgResult<()> {
    ConnInfo::parse(conninfo).map(|_| ()).map_err(|e| {
        PgError::new(
            SqlState::SYNTAX_ERROR,
            format!("invalid connection string syntax: {e}\n"),
        )
    })
}

/// libpq's `isspace` in the C locale.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

fn store(out: &mut ConnInfo, key: String, value: String) -> Result<(), ConnInfoError> {
    if !KEYWORDS.contains(&key.as_str()) {
        return Err(err(format!("invalid connection option \"{key}\"")));
    }
    out.options.insert(key, value);
    Ok(())
}

/// The keyword/value form (`conninfo_parse`).
fn parse_keywords(s: &str) -> Result<ConnInfo, ConnInfoError> {
    let mut out = ConnInfo::default();
    let mut chars = s.chars().peekable();
    let skip_space = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while chars.next_if(|&c| is_space(c)).is_some() {}
    };
    loop {
        skip_space(&mut chars);
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|&c| c != '=' && !is_space(c)) {
            key.push(c);
        }
        skip_space(&mut chars);
        if chars.next() != Some('=') {
            return Err(err(format!(
                "missing \"=\" after \"{key}\" in connection info string"
            )));
        }
        skip_space(&mut chars);
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => {
                        return Err(err(
                            "unterminated quoted string in connection info string".into()
                        ))
                    }
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|&c| !is_space(c)) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        store(&mut out, key, value)?;
    }
}

fn uri_prefix_len(s: &str) -> Option<usize> {
    ["postgresql://", "postgres://"]
        .iter()
        .find(|p| s.starts_with(*p))
        .map(|p| p.len())
}

/// The URI form (`conninfo_uri_parse_options`). Positions in errors count
/// bytes from 1, as libpq's do.
fn parse_uri(uri: &str) -> Result<ConnInfo, ConnInfoError> {
    let mut out = ConnInfo::default();
    let bytes = uri.as_bytes();
    let start = uri_prefix_len(uri).ok_or_else(|| {
        err(format!(
            "invalid URI propagated to internal parser routine: \"{uri}\""
        ))
    })?;
    let at = |i: usize| bytes.get(i).copied();
    let scan = |mut i: usize, stop: &[u8]| {
        while at(i).is_some_and(|b| !stop.contains(&b)) {
            i += 1;
        }
        i
    };
    let decoded = |from: usize, to: usize| uri_decode(&uri[from..to]);

    // user[:password]@ — only if an '@' comes before the first '/'
    let mut p = scan(start, b"@/");
    if at(p) == Some(b'@') {
        let user_end = scan(start, b":@");
        let user = decoded(start, user_end)?;
        if !user.is_empty() {
            out.options.insert("user".into(), user);
        }
        if at(user_end) == Some(b':') {
            let password = decoded(user_end + 1, p)?;
            if !password.is_empty() {
                out.options.insert("password".into(), password);
            }
        }
        p += 1;
    } else {
        p = start;
    }

    // host[:port] pairs separated by commas
    let mut hosts = String::new();
    let mut ports = String::new();
    let mut terminator;
    loop {
        let host;
        if at(p) == Some(b'[') {
            let h = p + 1;
            p = scan(h, b"]");
            if at(p).is_none() {
                return Err(err(format!(
                    "end of string reached when looking for matching \"]\" in IPv6 host address in URI: \"{uri}\""
                )));
            }
            if p == h {
                return Err(err(format!(
                    "IPv6 host address may not be empty in URI: \"{uri}\""
                )));
            }
            host = &uri[h..p];
            p += 1;
            if let Some(c) = at(p).filter(|c| !b":/?,".contains(c)) {
                return Err(err(format!(
                    "unexpected character \"{}\" at position {} in URI (expected \":\" or \"/\"): \"{uri}\"",
                    char::from(c),
                    p + 1
                )));
            }
        } else {
            let h = p;
            p = scan(h, b":/?,");
            host = &uri[h..p];
        }
        terminator = at(p);
        hosts.push_str(host);
        if terminator == Some(b':') {
            let port = p + 1;
            p = scan(port, b"/?,");
            terminator = at(p);
            ports.push_str(&uri[port..p]);
        }
        if terminator != Some(b',') {
            break;
        }
        p += 1;
        hosts.push(',');
        ports.push(',');
    }
    if !hosts.is_empty() {
        out.options.insert("host".into(), uri_decode(&hosts)?);
    }
    if !ports.is_empty() {
        out.options.insert("port".into(), uri_decode(&ports)?);
    }

    // /dbname
    if terminator.is_some_and(|t| t != b'?') {
        let db = p + 1;
        p = scan(db, b"?");
        terminator = at(p);
        let dbname = decoded(db, p)?;
        if !dbname.is_empty() {
            out.options.insert("dbname".into(), dbname);
        }
    }

    // ?key=value&...
    if terminator.is_some() {
        parse_uri_params(&uri[p + 1..], &mut out)?;
    }
    Ok(out)
}

/// The query part of a URI (`conninfo_uri_parse_params`).
fn parse_uri_params(params: &str, out: &mut ConnInfo) -> Result<(), ConnInfoError> {
    let mut rest = params;
    while !rest.is_empty() {
        let (param, next) = rest.split_once('&').unwrap_or((rest, ""));
        rest = next;
        let Some((key, value)) = param.split_once('=') else {
            return Err(err(format!(
                "missing key/value separator \"=\" in URI query parameter: \"{param}\""
            )));
        };
        if value.contains('=') {
            return Err(err(format!(
                "extra key/value separator \"=\" in URI query parameter: \"{key}\""
            )));
        }
        let mut key = uri_decode(key)?;
        let mut value = uri_decode(value)?;
        // JDBC's spelling
        if key == "ssl" && value == "true" {
            key = "sslmode".into();
            value = "require".into();
        }
        if !KEYWORDS.contains(&key.as_str()) {
            return Err(err(format!("invalid URI query parameter: \"{key}\"")));
        }
        out.options.insert(key, value);
    }
    Ok(())
}

/// Percent-decoding (`conninfo_uri_decode`).
fn uri_decode(s: &str) -> Result<String, ConnInfoError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = |j: usize| bytes.get(j).and_then(|&b| char::from(b).to_digit(16));
        let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2)) else {
            return Err(err(format!("invalid percent-encoded token: \"{s}\"")));
        };
        let b = (hi * 16 + lo) as u8;
        if b == 0 {
            return Err(err(format!(
                "forbidden value %00 in percent-encoded value: \"{s}\""
            )));
        }
        out.push(b);
        i += 3;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Percent-encodes everything but URI's unreserved characters.
fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Quotes a value for the keyword/value form.
pub fn quote_conninfo_value(v: &str) -> String {
    let mut s = String::from("'");
    for c in v.chars() {
        if c == '\'' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('\'');
    s
}

/// `conninfo` with `application_name` set to `name` unless it sets one
/// itself (the walreceiver's `cluster_name`, a subscription's name). The
/// string is parsed, so the words `application_name` inside another value do
/// not count. A string that does not parse is returned unchanged: connecting
/// with it reports the error.
pub fn with_application_name(conninfo: &str, name: &str) -> String {
    match ConnInfo::parse(conninfo) {
        Ok(c) if !c.contains("application_name") => {
            if uri_prefix_len(conninfo).is_none() {
                // in front: a trailing backslash cannot swallow the separator
                format!("application_name={} {conninfo}", quote_conninfo_value(name))
            } else {
                let sep = match conninfo.find('?') {
                    None => "?",
                    Some(_) if conninfo.ends_with(['?', '&']) => "",
                    Some(_) => "&",
                };
                format!("{conninfo}{sep}application_name={}", uri_encode(name))
            }
        }
        _ => conninfo.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Vec<(String, String)>, String> {
        ConnInfo::parse(s)
            .map(|c| {
                c.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .map_err(|e| e.0)
    }

    fn kv(pairs: &[(&str, &str)]) -> Result<Vec<(String, String)>, String> {
        let mut v: Vec<_> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        v.sort();
        Ok(v)
    }

    #[test]
    fn keyword_form_quotes_and_escapes() {
        assert_eq!(
            parse("host=127.0.0.1 port = 5433 password='a b\\'c' user=rep"),
            kv(&[
                ("host", "127.0.0.1"),
                ("port", "5433"),
                ("password", "a b'c"),
                ("user", "rep")
            ])
        );
        assert_eq!(parse("dbname=a\\ b\\\\c"), kv(&[("dbname", "a b\\c")]));
        assert_eq!(parse("dbname=''"), kv(&[("dbname", "")]));
        assert_eq!(parse("  \t\n"), kv(&[]));
        assert_eq!(parse(""), kv(&[]));
        // a later setting wins
        assert_eq!(parse("port=1 port=2"), kv(&[("port", "2")]));
        // a trailing backslash is dropped
        assert_eq!(parse("user=a\\"), kv(&[("user", "a")]));
        let q = quote_conninfo_value("it's a \\ test");
        assert_eq!(
            parse(&format!("password={q}")),
            kv(&[("password", "it's a \\ test")])
        );
    }

    #[test]
    fn keyword_form_errors() {
        assert_eq!(
            parse("foo"),
            Err("missing \"=\" after \"foo\" in connection info string".into())
        );
        assert_eq!(
            parse("host=x foo bar"),
            Err("missing \"=\" after \"foo\" in connection info string".into())
        );
        assert_eq!(
            parse("host='x"),
            Err("unterminated quoted string in connection info string".into())
        );
        // the value is read before the keyword is checked
        assert_eq!(
            parse("hots='x"),
            Err("unterminated quoted string in connection info string".into())
        );
        assert_eq!(
            parse("hots=x"),
            Err("invalid connection option \"hots\"".into())
        );
        assert_eq!(parse("=x"), Err("invalid connection option \"\"".into()));
    }

    #[test]
    fn check_conninfo_words_errors_as_postgres() {
        assert!(check_conninfo("host=127.0.0.1 port=5432 dbname='a b' user=x").is_ok());
        assert!(check_conninfo("postgresql://h/db").is_ok());
        assert!(check_conninfo("").is_ok());
        let e = check_conninfo("foo").unwrap_err();
        assert_eq!(e.code, SqlState::SYNTAX_ERROR);
        assert_eq!(
            e.message,
            "invalid connection string syntax: missing \"=\" after \"foo\" in connection info string\n"
        );
        // pairing hosts and ports is a connection-time check, as in libpq
        assert!(check_conninfo("host=a,b,c port=1,2").is_ok());
    }

    #[test]
    fn uri_form() {
        assert_eq!(
            parse("postgresql://rep:s%40cret@db.example:5433/app?sslmode=disable&application_name=x%20y"),
            kv(&[
                ("user", "rep"),
                ("password", "s@cret"),
                ("host", "db.example"),
                ("port", "5433"),
                ("dbname", "app"),
                ("sslmode", "disable"),
                ("application_name", "x y"),
            ])
        );
        assert_eq!(parse("postgres://"), kv(&[]));
        assert_eq!(parse("postgresql://h"), kv(&[("host", "h")]));
        assert_eq!(parse("postgresql:///db"), kv(&[("dbname", "db")]));
        assert_eq!(
            parse("postgresql://[::1]:5433/db"),
            kv(&[("host", "::1"), ("port", "5433"), ("dbname", "db")])
        );
        assert_eq!(
            parse("postgresql://%2Ftmp%2Fsock/db"),
            kv(&[("host", "/tmp/sock"), ("dbname", "db")])
        );
        assert_eq!(
            parse("postgresql://a:1,[::1],c:3/"),
            kv(&[("host", "a,::1,c"), ("port", "1,,3")])
        );
        assert_eq!(
            parse("postgresql://h?ssl=true"),
            kv(&[("host", "h"), ("sslmode", "require")])
        );
        // an '@' after the first '/' is not a user designator
        assert_eq!(
            parse("postgresql://h/d@b"),
            kv(&[("host", "h"), ("dbname", "d@b")])
        );
    }

    #[test]
    fn uri_errors() {
        assert_eq!(
            parse("postgresql://[::1"),
            Err("end of string reached when looking for matching \"]\" in IPv6 host address in URI: \"postgresql://[::1\"".into())
        );
        assert_eq!(
            parse("postgresql://[]/db"),
            Err("IPv6 host address may not be empty in URI: \"postgresql://[]/db\"".into())
        );
        assert_eq!(
            parse("postgresql://[::1]x"),
            Err("unexpected character \"x\" at position 19 in URI (expected \":\" or \"/\"): \"postgresql://[::1]x\"".into())
        );
        assert_eq!(
            parse("postgresql://h?a=b=c"),
            Err("extra key/value separator \"=\" in URI query parameter: \"a\"".into())
        );
        assert_eq!(
            parse("postgresql://h?abc"),
            Err("missing key/value separator \"=\" in URI query parameter: \"abc\"".into())
        );
        assert_eq!(
            parse("postgresql://h?hots=1"),
            Err("invalid URI query parameter: \"hots\"".into())
        );
        assert_eq!(
            parse("postgresql://h/a%zz"),
            Err("invalid percent-encoded token: \"a%zz\"".into())
        );
        assert_eq!(
            parse("postgresql://h/a%2"),
            Err("invalid percent-encoded token: \"a%2\"".into())
        );
        assert_eq!(
            parse("postgresql://h/a%00"),
            Err("forbidden value %00 in percent-encoded value: \"a%00\"".into())
        );
    }

    fn targets(s: &str) -> Result<Vec<(String, u16)>, String> {
        ConnInfo::parse(s)
            .and_then(|c| c.targets())
            .map(|t| t.into_iter().map(|t| (t.host, t.port)).collect())
            .map_err(|e| e.0)
    }

    #[test]
    fn multi_host_targets() {
        let t = |h: &str, p| (h.to_string(), p);
        assert_eq!(targets(""), Ok(vec![t("/tmp", 5432)]));
        assert_eq!(targets("host=a"), Ok(vec![t("a", 5432)]));
        assert_eq!(targets("host=a,b port=7"), Ok(vec![t("a", 7), t("b", 7)]));
        assert_eq!(
            targets("host=a,,c port=1,2,"),
            Ok(vec![t("a", 1), t("/tmp", 2), t("c", 5432)])
        );
        assert_eq!(
            targets("postgresql://a:1,b:2/db"),
            Ok(vec![t("a", 1), t("b", 2)])
        );
        assert_eq!(
            targets("host=a,b,c port=1,2"),
            Err("could not match 2 port numbers to 3 hosts".into())
        );
        assert_eq!(
            targets("host=a,b hostaddr=10.0.0.1"),
            Err("could not match 2 host names to 1 hostaddr values".into())
        );
        assert_eq!(
            targets("port=x"),
            Err("invalid integer value \"x\" for connection option \"port\"".into())
        );
        assert_eq!(
            targets("port=70000"),
            Err("invalid port number: \"70000\"".into())
        );
        let c = ConnInfo::parse("hostaddr=10.0.0.1,10.0.0.2 port=5").unwrap();
        let ts = c.targets().unwrap();
        assert_eq!(ts.len(), 2);
        assert_eq!(ts[1].hostaddr.as_deref(), Some("10.0.0.2"));
        assert!(!ts[1].is_socket_dir());
    }

    #[test]
    fn one_target_of_many() {
        let c = ConnInfo::parse("host=a,b port=5,6 dbname='x y' target_session_attrs=read-write")
            .unwrap();
        let t = c.targets().unwrap();
        let one = ConnInfo::parse(&c.for_target(&t[1])).unwrap();
        assert_eq!(one.get("host"), Some("b"));
        assert_eq!(one.get("port"), Some("6"));
        assert_eq!(one.get("dbname"), Some("x y"));
        assert_eq!(one.targets().unwrap().len(), 1);
        let c = ConnInfo::parse("hostaddr=127.0.0.1,127.0.0.2 port=7").unwrap();
        let t = c.targets().unwrap();
        let one = ConnInfo::parse(&c.for_target(&t[1])).unwrap();
        assert_eq!(one.get("hostaddr"), Some("127.0.0.2"));
        assert_eq!(one.targets().unwrap(), vec![t[1].clone()]);
    }

    #[test]
    fn masked_hides_the_password() {
        let c = ConnInfo::parse("user=u password=secret host=h dbname='a b'").unwrap();
        assert_eq!(c.masked(), "dbname='a b' host=h password=******** user=u");
    }

    #[test]
    fn application_name_default_is_parsed_not_searched() {
        let app = |c: &str| {
            ConnInfo::parse(&with_application_name(c, "s 1"))
                .unwrap()
                .get("application_name")
                .map(str::to_string)
        };
        assert_eq!(app("host=h"), Some("s 1".into()));
        assert_eq!(app(""), Some("s 1".into()));
        assert_eq!(app("host=h application_name=mine"), Some("mine".into()));
        // the word inside another value is not a setting
        assert_eq!(
            app("host=h password='application_name=x'"),
            Some("s 1".into())
        );
        assert_eq!(app("dbname=application_name"), Some("s 1".into()));
        assert_eq!(app("user=a\\"), Some("s 1".into()));
        // an explicitly empty name is a setting
        assert_eq!(app("application_name=''"), Some(String::new()));
        assert_eq!(app("postgresql://h/db"), Some("s 1".into()));
        assert_eq!(app("postgresql://h/db?sslmode=disable"), Some("s 1".into()));
        assert_eq!(app("postgresql://h/db?"), Some("s 1".into()));
        assert_eq!(
            app("postgresql://h/db?application_name=mine"),
            Some("mine".into())
        );
        // unparseable strings are left for the connection attempt to report
        assert_eq!(with_application_name("foo", "x"), "foo");
    }
}
