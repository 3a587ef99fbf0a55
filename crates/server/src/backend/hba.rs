//! Client authentication rules: parsing `pg_hba.conf` and finding the first line
//! that matches a connection.
//!
//! ```text
//! local      DATABASE  USER  METHOD  [OPTIONS]
//! host       DATABASE  USER  ADDRESS METHOD  [OPTIONS]     (also hostssl, hostnossl,
//! host       DATABASE  USER  IP MASK METHOD  [OPTIONS]      hostgssenc, hostnogssenc)
//! ```
//!
//! DATABASE and USER are comma lists. Keywords (unquoted): `all`, `sameuser`,
//! `samerole`/`samegroup`, `replication` for databases; `all` and `+group` for
//! users; `all`, `samehost`, `samenet` for addresses. A physical replication
//! connection matches only lines whose database list holds `replication`; any
//! other connection skips that keyword. The first matching line decides; none is
//! `no pg_hba.conf entry for ...`.
//!
//! Simplifications (documented differences): role membership is not modelled, so
//! `+group` and `samerole` match a role of that very name; `samehost` matches the
//! server address the client connected to and loopback; `samenet` is treated as
//! `samehost`; host names other than `localhost` never match; `@file` inclusion is
//! not supported. The file is parsed pure (tested without sockets); the postmaster
//! reloads it on SIGHUP, keeping the old rules if the new file has errors.
//!
//! Corresponds to PostgreSQL's `src/backend/libpq/hba.c`.

use std::net::IpAddr;

use tandem_types::{PgError, PgResult, SqlState};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnType {
    Local,
    Host,
    HostSsl,
    HostNoSsl,
    HostGssEnc,
    HostNoGssEnc,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    Trust,
    Reject,
    ScramSha256,
    Md5,
    Password,
    /// A method PostgreSQL has and tandem does not (peer, ident, gss, ldap, cert, ...).
    Unsupported(String),
}

#[cfg(test)]
impl Method {
    fn name(&self) -> &str {
        match self {
            Method::Trust => "trust",
            Method::Reject => "reject",
            Method::ScramSha256 => "scram-sha-256",
            Method::Md5 => "md5",
            Method::Password => "password",
            Method::Unsupported(n) => n,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    All,
    SameHost,
    SameNet,
    Cidr { addr: IpAddr, bits: u8 },
    Hostname(String),
}

/// A list item: `keyword` is true for an unquoted keyword-looking token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub quoted: bool,
}

impl Token {
    fn is_keyword(&self, kw: &str) -> bool {
        !self.quoted && self.text == kw
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HbaLine {
    pub line_number: usize,
    pub raw: String,
    pub conn_type: ConnType,
    pub databases: Vec<Token>,
    pub users: Vec<Token>,
    pub address: Option<Address>,
    pub method: Method,
}

/// What is known about a connection when pg_hba.conf is consulted.
#[derive(Clone, Debug)]
pub struct ConnInfo<'a> {
    /// `None` for a Unix-domain socket.
    pub client: Option<IpAddr>,
    /// The server-side address of the connection.
    pub local: Option<IpAddr>,
    pub ssl: bool,
    pub database: &'a str,
    pub user: &'a str,
    /// `replication=true`: matches only `replication` lines.
    pub physical_replication: bool,
}

/// Splits one line into fields; each field is a comma list of tokens. Quotes
/// group characters (and make keywords literal); `#` starts a comment.
fn tokenize(line: &str) -> Result<Vec<Vec<Token>>, String> {
    let mut fields: Vec<Vec<Token>> = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.peek() {
            None | Some('#') => break,
            _ => {}
        }
        let mut field = Vec::new();
        loop {
            let mut text = String::new();
            let mut quoted = false;
            let mut in_quotes = false;
            while let Some(&c) = chars.peek() {
                if in_quotes {
                    chars.next();
                    if c == '"' {
                        in_quotes = false;
                    } else {
                        text.push(c);
                    }
                } else if c == '"' {
                    chars.next();
                    in_quotes = true;
                    quoted = true;
                } else if c.is_whitespace() || c == ',' || c == '#' {
                    break;
                } else {
                    chars.next();
                    text.push(c);
                }
            }
            if in_quotes {
                return Err("unterminated quoted string".into());
            }
            field.push(Token { text, quoted });
            if chars.peek() == Some(&',') {
                chars.next();
                continue;
            }
            break;
        }
        fields.push(field);
    }
    Ok(fields)
}

fn single<'a>(field: Option<&'a Vec<Token>>, what: &str) -> Result<&'a Token, String> {
    match field {
        Some(f) if f.len() == 1 => Ok(&f[0]),
        Some(_) => Err(format!("multiple values specified for {what}")),
        None => Err(format!("end-of-line before {what} specification")),
    }
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    text.parse().ok()
}

fn mask_bits(mask: IpAddr) -> Option<u8> {
    let (bits, width) = match mask {
        IpAddr::V4(m) => (u32::from(m) as u128, 32),
        IpAddr::V6(m) => (u128::from(m), 128),
    };
    let ones = bits.count_ones();
    let expected = if ones == 0 {
        0
    } else {
        (u128::MAX << (128 - ones)) >> (128 - width)
    };
    (bits == expected).then_some(ones as u8)
}

fn parse_line(line_number: usize, raw: &str, fields: Vec<Vec<Token>>) -> Result<HbaLine, String> {
    let mut it = fields.iter();
    let kind = single(it.next(), "connection type")?;
    let conn_type = match kind.text.as_str() {
        "local" => ConnType::Local,
        "host" => ConnType::Host,
        "hostssl" => ConnType::HostSsl,
        "hostnossl" => ConnType::HostNoSsl,
        "hostgssenc" => ConnType::HostGssEnc,
        "hostnogssenc" => ConnType::HostNoGssEnc,
        other => return Err(format!("invalid connection type \"{other}\"")),
    };
    let databases = it
        .next()
        .cloned()
        .ok_or("end-of-line before database specification")?;
    let users = it
        .next()
        .cloned()
        .ok_or("end-of-line before role specification")?;
    let address = if conn_type == ConnType::Local {
        None
    } else {
        let tok = single(it.next(), "IP address")?;
        Some(if tok.is_keyword("all") {
            Address::All
        } else if tok.is_keyword("samehost") {
            Address::SameHost
        } else if tok.is_keyword("samenet") {
            Address::SameNet
        } else if let Some((ip, bits)) = tok.text.split_once('/') {
            let addr = parse_ip(ip).ok_or_else(|| format!("invalid IP address \"{ip}\""))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits: u8 = bits
                .parse()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("invalid CIDR mask in address \"{}\"", tok.text))?;
            Address::Cidr { addr, bits }
        } else if let Some(addr) = parse_ip(&tok.text) {
            let mask_tok = single(it.next(), "netmask")?;
            let mask = parse_ip(&mask_tok.text)
                .filter(|m| m.is_ipv4() == addr.is_ipv4())
                .ok_or_else(|| format!("invalid IP mask \"{}\"", mask_tok.text))?;
            let bits =
                mask_bits(mask).ok_or_else(|| format!("invalid IP mask \"{}\"", mask_tok.text))?;
            Address::Cidr { addr, bits }
        } else {
            Address::Hostname(tok.text.clone())
        })
    };
    let method_tok = single(it.next(), "authentication method")?;
    let method = match method_tok.text.as_str() {
        "trust" => Method::Trust,
        "reject" => Method::Reject,
        "scram-sha-256" => Method::ScramSha256,
        "md5" => Method::Md5,
        "password" => Method::Password,
        m @ ("peer" | "ident" | "gss" | "sspi" | "pam" | "ldap" | "radius" | "cert" | "bsd") => {
            Method::Unsupported(m.to_string())
        }
        other => return Err(format!("invalid authentication method \"{other}\"")),
    };
    // Options (name=value) are accepted and ignored.
    Ok(HbaLine {
        line_number,
        raw: raw.trim().to_string(),
        conn_type,
        databases,
        users,
        address,
        method,
    })
}

/// Parses a whole pg_hba.conf. Errors name the line as PostgreSQL's log does:
/// `<problem>` with context `line N of configuration file "F"`.
pub fn parse(text: &str, file_name: &str) -> PgResult<Vec<HbaLine>> {
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let fields = match tokenize(raw) {
            Ok(f) => f,
            Err(e) => {
                errors.push((i + 1, e));
                continue;
            }
        };
        if fields.is_empty() {
            continue;
        }
        if fields[0].first().is_some_and(|t| {
            t.text.starts_with('@') || t.text == "include" || t.text.starts_with("include_")
        }) {
            errors.push((i + 1, "file inclusion is not supported".to_string()));
            continue;
        }
        match parse_line(i + 1, raw, fields) {
            Ok(l) => lines.push(l),
            Err(e) => errors.push((i + 1, e)),
        }
    }
    if let Some((n, e)) = errors.first() {
        return Err(PgError::new(SqlState::INVALID_PARAMETER_VALUE, e.clone())
            .with_detail(format!("line {n} of configuration file \"{file_name}\"")));
    }
    Ok(lines)
}

fn in_cidr(client: IpAddr, addr: IpAddr, bits: u8) -> bool {
    let (c, a, width) = match (client, addr) {
        (IpAddr::V4(c), IpAddr::V4(a)) => (u32::from(c) as u128, u32::from(a) as u128, 32u32),
        (IpAddr::V6(c), IpAddr::V6(a)) => (u128::from(c), u128::from(a), 128u32),
        _ => return false,
    };
    if bits == 0 {
        return true;
    }
    let shift = width - bits as u32;
    (c >> shift) == (a >> shift)
}

fn database_matches(line: &HbaLine, c: &ConnInfo<'_>) -> bool {
    line.databases.iter().any(|t| {
        if c.physical_replication {
            return t.is_keyword("replication");
        }
        if t.is_keyword("replication") {
            false
        } else if t.is_keyword("all") {
            true
        } else if t.is_keyword("sameuser") || t.is_keyword("samerole") || t.is_keyword("samegroup")
        {
            c.database == c.user
        } else {
            t.text == c.database
        }
    })
}

fn user_matches(line: &HbaLine, c: &ConnInfo<'_>) -> bool {
    line.users.iter().any(|t| {
        if t.is_keyword("all") {
            true
        } else if !t.quoted && t.text.starts_with('+') {
            &t.text[1..] == c.user
        } else {
            t.text == c.user
        }
    })
}

fn address_matches(line: &HbaLine, client: IpAddr, local: Option<IpAddr>) -> bool {
    match &line.address {
        None | Some(Address::All) => true,
        Some(Address::SameHost) | Some(Address::SameNet) => {
            client.is_loopback() || Some(client) == local
        }
        Some(Address::Cidr { addr, bits }) => in_cidr(client, *addr, *bits),
        Some(Address::Hostname(h)) => h == "localhost" && client.is_loopback(),
    }
}

/// The first line matching the connection, if any.
pub fn find<'a>(lines: &'a [HbaLine], c: &ConnInfo<'_>) -> Option<&'a HbaLine> {
    lines.iter().find(|line| {
        let type_ok = match (line.conn_type, c.client) {
            (ConnType::Local, None) => true,
            (ConnType::Local, Some(_)) | (_, None) => false,
            (ConnType::Host, _) | (ConnType::HostNoGssEnc, _) => true,
            (ConnType::HostSsl, _) => c.ssl,
            (ConnType::HostNoSsl, _) => !c.ssl,
            (ConnType::HostGssEnc, _) => false,
        };
        type_ok
            && c.client.is_none_or(|ip| address_matches(line, ip, c.local))
            && database_matches(line, c)
            && user_matches(line, c)
    })
}

fn encryption(ssl: bool) -> &'static str {
    if ssl {
        "SSL encryption"
    } else {
        "no encryption"
    }
}

/// `FATAL 28000 no pg_hba.conf entry for ...` in PostgreSQL's words.
pub fn no_entry_error(c: &ConnInfo<'_>, host: &str) -> PgError {
    let msg = if c.physical_replication {
        format!(
            "no pg_hba.conf entry for replication connection from host \"{host}\", user \"{}\", {}",
            c.user,
            encryption(c.ssl)
        )
    } else {
        format!(
            "no pg_hba.conf entry for host \"{host}\", user \"{}\", database \"{}\", {}",
            c.user,
            c.database,
            encryption(c.ssl)
        )
    };
    PgError::fatal(SqlState::INVALID_AUTHORIZATION_SPECIFICATION, msg)
}

/// `FATAL 28000 pg_hba.conf rejects connection for ...`.
pub fn reject_error(c: &ConnInfo<'_>, host: &str) -> PgError {
    let msg = if c.physical_replication {
        format!(
            "pg_hba.conf rejects replication connection for host \"{host}\", user \"{}\", {}",
            c.user,
            encryption(c.ssl)
        )
    } else {
        format!(
            "pg_hba.conf rejects connection for host \"{host}\", user \"{}\", database \"{}\", {}",
            c.user,
            c.database,
            encryption(c.ssl)
        )
    };
    PgError::fatal(SqlState::INVALID_AUTHORIZATION_SPECIFICATION, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn<'a>(client: Option<&str>, db: &'a str, user: &'a str) -> ConnInfo<'a> {
        ConnInfo {
            client: client.map(|c| c.parse().unwrap()),
            local: Some("127.0.0.1".parse().unwrap()),
            ssl: false,
            database: db,
            user,
            physical_replication: false,
        }
    }

    const SAMPLE: &str = "\
# comment line
local   all             all                                     trust
host    all             alice           127.0.0.1/32            reject
host    postgres,\"all\" all            127.0.0.1/32            scram-sha-256  # trailing
hostssl sameuser        +admins         10.0.0.0 255.0.0.0      md5
host    replication     repl            samehost                trust
host    all             all             ::1/128                 password
";

    fn method_for(lines: &[HbaLine], c: &ConnInfo<'_>) -> Option<String> {
        find(lines, c).map(|l| l.method.name().to_string())
    }

    #[test]
    fn first_matching_line_wins() {
        let lines = parse(SAMPLE, "pg_hba.conf").unwrap();
        assert_eq!(lines.len(), 6);
        assert_eq!(
            method_for(&lines, &conn(None, "x", "y")).as_deref(),
            Some("trust")
        );
        assert_eq!(
            method_for(&lines, &conn(Some("127.0.0.1"), "postgres", "alice")).as_deref(),
            Some("reject")
        );
        assert_eq!(
            method_for(&lines, &conn(Some("127.0.0.1"), "postgres", "bob")).as_deref(),
            Some("scram-sha-256")
        );
        // a quoted "all" is a database literally named all
        assert_eq!(
            method_for(&lines, &conn(Some("127.0.0.1"), "all", "bob")).as_deref(),
            Some("scram-sha-256")
        );
        assert_eq!(
            method_for(&lines, &conn(Some("127.0.0.1"), "other", "bob")),
            None
        );
        assert_eq!(
            method_for(&lines, &conn(Some("::1"), "other", "bob")).as_deref(),
            Some("password")
        );
    }

    #[test]
    fn ssl_and_keywords() {
        let lines = parse(SAMPLE, "pg_hba.conf").unwrap();
        let mut c = conn(Some("10.1.2.3"), "admins", "admins");
        assert_eq!(method_for(&lines, &c), None, "hostssl needs SSL");
        c.ssl = true;
        assert_eq!(method_for(&lines, &c).as_deref(), Some("md5"));
        c.database = "other";
        assert_eq!(method_for(&lines, &c), None, "sameuser");
    }

    #[test]
    fn replication_keyword_matches_only_physical_replication() {
        let lines = parse(SAMPLE, "pg_hba.conf").unwrap();
        let mut c = conn(Some("127.0.0.1"), "replication", "repl");
        // an ordinary connection to a database named "replication" skips the keyword
        assert_eq!(method_for(&lines, &c).as_deref(), None);
        c.physical_replication = true;
        assert_eq!(method_for(&lines, &c).as_deref(), Some("trust"));
        c.user = "bob";
        assert_eq!(
            method_for(&lines, &c),
            None,
            "all does not match physical replication"
        );
        assert_eq!(
            no_entry_error(&c, "127.0.0.1").message,
            "no pg_hba.conf entry for replication connection from host \"127.0.0.1\", user \"bob\", no encryption"
        );
    }

    #[test]
    fn error_texts() {
        let c = conn(Some("127.0.0.1"), "d", "u");
        let e = no_entry_error(&c, "127.0.0.1");
        assert_eq!(e.code.code(), "28000");
        assert!(e.is_fatal());
        assert_eq!(e.message, "no pg_hba.conf entry for host \"127.0.0.1\", user \"u\", database \"d\", no encryption");
        let mut c = c;
        c.ssl = true;
        assert_eq!(
            reject_error(&c, "127.0.0.1").message,
            "pg_hba.conf rejects connection for host \"127.0.0.1\", user \"u\", database \"d\", SSL encryption"
        );
    }

    #[test]
    fn bad_files_are_rejected_with_the_line() {
        let e = parse("host all all 127.0.0.1/32 foo\n", "pg_hba.conf").unwrap_err();
        assert_eq!(e.message, "invalid authentication method \"foo\"");
        assert_eq!(
            e.detail.as_deref(),
            Some("line 1 of configuration file \"pg_hba.conf\"")
        );
        assert!(parse("\nhost all all 127.0.0.1/33 trust\n", "f").is_err());
        assert!(parse("hots all all 127.0.0.1/32 trust\n", "f").is_err());
        assert!(parse("host all all 127.0.0.1 255.0.255.0 trust\n", "f").is_err());
        assert!(parse("host all all\n", "f").is_err());
        assert!(parse("local \"all all trust\n", "f").is_err());
    }

    #[test]
    fn cidr_matching() {
        assert!(in_cidr(
            "10.1.2.3".parse().unwrap(),
            "10.0.0.0".parse().unwrap(),
            8
        ));
        assert!(!in_cidr(
            "11.1.2.3".parse().unwrap(),
            "10.0.0.0".parse().unwrap(),
            8
        ));
        assert!(in_cidr(
            "1.2.3.4".parse().unwrap(),
            "0.0.0.0".parse().unwrap(),
            0
        ));
        assert!(!in_cidr(
            "::1".parse().unwrap(),
            "0.0.0.0".parse().unwrap(),
            0
        ));
        assert_eq!(mask_bits("255.255.255.0".parse().unwrap()), Some(24));
        assert_eq!(mask_bits("0.0.0.0".parse().unwrap()), Some(0));
    }
}
