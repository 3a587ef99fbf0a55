//! SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it: the stored verifier,
//! the server side of the exchange and the client side.
//!
//! ```text
//! client                                   server
//!   client-first  n,,n=,r=<cnonce>    -->
//!                                     <--  server-first  r=<cnonce><snonce>,s=<salt>,i=4096
//!   client-final  c=biws,r=..,p=<proof> -->
//!                                     <--  server-final  v=<server signature>
//! ```
//!
//! The verifier (`pg_authid.rolpassword`) is
//! `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` in base64. The
//! server never sees the password: it checks that `SHA-256(proof XOR
//! HMAC(StoredKey, AuthMessage)) == StoredKey`. A role that does not exist or has
//! no verifier still gets a full exchange with a made-up salt (PostgreSQL's "mock"
//! authentication), so a client cannot probe which roles exist; it then fails.
//!
//! The username inside SCRAM is ignored (PostgreSQL uses the startup packet's), and
//! channel binding is not offered (no `SCRAM-SHA-256-PLUS`). Passwords are used as
//! given, without SASLprep normalization; they are identical for ASCII passwords.
//!
//! Corresponds to PostgreSQL's `src/backend/libpq/auth-scram.c`,
//! `src/common/scram-common.c` and `src/interfaces/libpq/fe-auth-scram.c`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use tandem_types::{PgError, PgResult, SqlState};

/// The mechanism name offered in AuthenticationSASL.
pub const MECHANISM: &str = "SCRAM-SHA-256";
/// PostgreSQL's default `scram_iterations`.
pub const DEFAULT_ITERATIONS: u32 = 4096;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 18;

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn salted_password(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
    out
}

/// The parsed form of a stored verifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub stored_key: [u8; 32],
    pub server_key: [u8; 32],
}

impl Verifier {
    /// Derives the verifier of `password` with the given salt and iteration count.
    pub fn derive(password: &str, salt: &[u8], iterations: u32) -> Verifier {
        let salted = salted_password(password, salt, iterations);
        let client_key = hmac(&salted, b"Client Key");
        Verifier {
            iterations,
            salt: salt.to_vec(),
            stored_key: sha256(&client_key),
            server_key: hmac(&salted, b"Server Key"),
        }
    }

    /// Parses `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`.
    pub fn parse(text: &str) -> Option<Verifier> {
        let rest = text.strip_prefix("SCRAM-SHA-256$")?;
        let (iter_salt, keys) = rest.split_once('$')?;
        let (iter, salt) = iter_salt.split_once(':')?;
        let (stored, server) = keys.split_once(':')?;
        let iterations: u32 = iter.parse().ok().filter(|&i| i > 0)?;
        let salt = B64.decode(salt).ok()?;
        let stored_key: [u8; 32] = B64.decode(stored).ok()?.try_into().ok()?;
        let server_key: [u8; 32] = B64.decode(server).ok()?.try_into().ok()?;
        Some(Verifier {
            iterations,
            salt,
            stored_key,
            server_key,
        })
    }
}

impl std::fmt::Display for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(self.stored_key),
            B64.encode(self.server_key)
        )
    }
}

/// Builds a PostgreSQL-format verifier for `password`:
/// `SCRAM-SHA-256$4096:<salt b64>$<StoredKey b64>:<ServerKey b64>`, 16-byte random salt.
pub fn make_verifier(password: &str) -> String {
    let mut salt = [0u8; SALT_LEN];
    rand::thread_rng().fill_bytes(&mut salt);
    Verifier::derive(password, &salt, DEFAULT_ITERATIONS).to_string()
}

/// The `password` authentication method: checks a cleartext password against a
/// stored SCRAM verifier.
pub fn verify_plain_password(verifier: &str, password: &str) -> bool {
    match Verifier::parse(verifier) {
        Some(v) => {
            let derived = Verifier::derive(password, &v.salt, v.iterations);
            constant_time_eq(&derived.stored_key, &v.stored_key)
                && constant_time_eq(&derived.server_key, &v.server_key)
        }
        None => false,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn random_nonce() -> String {
    let mut raw = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut raw);
    B64.encode(raw)
}

/// `08P01 malformed SCRAM message` with a detail sentence, as PostgreSQL.
fn malformed(detail: impl Into<String>) -> PgError {
    PgError::new(SqlState::PROTOCOL_VIOLATION, "malformed SCRAM message").with_detail(detail)
}

/// Splits `name=value` attributes separated by commas.
fn attribute(part: Option<&str>, name: char) -> PgResult<&str> {
    let part = part.ok_or_else(|| malformed("Attribute expected, but found end of string."))?;
    let mut chars = part.chars();
    if chars.next() != Some(name) || chars.next() != Some('=') {
        return Err(malformed(format!(
            "Expected attribute \"{name}\" but found \"{part}\"."
        )));
    }
    Ok(&part[2..])
}

/// What the server's exchange ended with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScramOutcome {
    /// The proof was right: send this server-final message with AuthenticationSASLFinal.
    Success(Vec<u8>),
    /// Wrong password, or a mock exchange for a role without a usable verifier:
    /// `28P01 password authentication failed for user "u"`.
    Failure,
}

enum ServerState {
    Initial,
    SentFirst {
        client_first_bare: String,
        server_first: String,
        nonce: String,
        gs2_header: String,
    },
    Done,
}

/// The server side of one SCRAM exchange.
pub struct ScramServer {
    verifier: Verifier,
    /// No real verifier: run the exchange, then fail.
    mock: bool,
    server_nonce: String,
    state: ServerState,
}

impl ScramServer {
    /// `verifier` is the role's stored password, `None` for a role that does not
    /// exist or has none (then the exchange is a mock and always fails).
    pub fn new(verifier: Option<&str>) -> ScramServer {
        ScramServer::with_nonce(verifier, &random_nonce())
    }

    /// As [`ScramServer::new`] with a chosen server nonce (tests).
    pub fn with_nonce(verifier: Option<&str>, server_nonce: &str) -> ScramServer {
        let parsed = verifier.and_then(Verifier::parse);
        let mock = parsed.is_none();
        let verifier = parsed.unwrap_or_else(|| {
            let mut salt = [0u8; SALT_LEN];
            rand::thread_rng().fill_bytes(&mut salt);
            Verifier {
                iterations: DEFAULT_ITERATIONS,
                salt: salt.to_vec(),
                stored_key: [0; 32],
                server_key: [0; 32],
            }
        });
        ScramServer {
            verifier,
            mock,
            server_nonce: server_nonce.to_string(),
            state: ServerState::Initial,
        }
    }

    /// Handles client-first (the SASLInitialResponse data); returns server-first.
    pub fn client_first(&mut self, data: &[u8]) -> PgResult<Vec<u8>> {
        if !matches!(self.state, ServerState::Initial) {
            return Err(malformed("Unexpected client-first message."));
        }
        let text =
            std::str::from_utf8(data).map_err(|_| malformed("Message is not valid UTF-8."))?;
        let mut parts = text.splitn(3, ',');
        let cbind = parts.next().unwrap_or("");
        match cbind {
            "n" | "y" => {}
            c if c.starts_with("p=") => {
                return Err(malformed(
                    "The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data.",
                ))
            }
            other => {
                return Err(malformed(format!(
                    "Unexpected channel-binding flag \"{}\".",
                    other.chars().next().unwrap_or(' ')
                )))
            }
        }
        let authzid = parts
            .next()
            .ok_or_else(|| malformed("Comma expected, but found end of string."))?;
        if !authzid.is_empty() {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "client uses authorization identity, but it is not supported",
            ));
        }
        let bare = parts
            .next()
            .ok_or_else(|| malformed("Comma expected, but found end of string."))?;
        let mut attrs = bare.split(',');
        let first = attrs.next();
        if first.is_some_and(|a| a.starts_with("m=")) {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "client requires an unsupported SCRAM extension",
            ));
        }
        let _user = attribute(first, 'n')?;
        let client_nonce = attribute(attrs.next(), 'r')?;
        if client_nonce.is_empty()
            || !client_nonce
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
        {
            return Err(malformed("The client nonce contains invalid characters."));
        }
        let nonce = format!("{client_nonce}{}", self.server_nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&self.verifier.salt),
            self.verifier.iterations
        );
        self.state = ServerState::SentFirst {
            client_first_bare: bare.to_string(),
            server_first: server_first.clone(),
            nonce,
            gs2_header: format!("{cbind},,"),
        };
        Ok(server_first.into_bytes())
    }

    /// Handles client-final (a SASLResponse); checks the proof.
    pub fn client_final(&mut self, data: &[u8]) -> PgResult<ScramOutcome> {
        let ServerState::SentFirst {
            client_first_bare,
            server_first,
            nonce,
            gs2_header,
        } = std::mem::replace(&mut self.state, ServerState::Done)
        else {
            return Err(malformed("Unexpected client-final message."));
        };
        let text =
            std::str::from_utf8(data).map_err(|_| malformed("Message is not valid UTF-8."))?;
        let (without_proof, proof_b64) = text
            .rsplit_once(",p=")
            .ok_or_else(|| malformed("Proof expected, but found end of string."))?;
        let mut attrs = without_proof.split(',');
        let cbind = attribute(attrs.next(), 'c')?;
        let cbind = B64
            .decode(cbind)
            .map_err(|_| malformed("Channel binding is not valid base64."))?;
        if cbind != gs2_header.as_bytes() {
            return Err(malformed("SCRAM channel binding check failed."));
        }
        let got_nonce = attribute(attrs.next(), 'r')?;
        if got_nonce != nonce {
            return Err(malformed("Nonce does not match."));
        }
        let proof: [u8; 32] = B64
            .decode(proof_b64)
            .ok()
            .and_then(|p| p.try_into().ok())
            .ok_or_else(|| malformed("Malformed proof in client-final-message."))?;
        if self.mock {
            return Ok(ScramOutcome::Failure);
        }
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let client_signature = hmac(&self.verifier.stored_key, auth_message.as_bytes());
        let mut client_key = [0u8; 32];
        for i in 0..32 {
            client_key[i] = proof[i] ^ client_signature[i];
        }
        if !constant_time_eq(&sha256(&client_key), &self.verifier.stored_key) {
            return Ok(ScramOutcome::Failure);
        }
        let server_signature = hmac(&self.verifier.server_key, auth_message.as_bytes());
        Ok(ScramOutcome::Success(
            format!("v={}", B64.encode(server_signature)).into_bytes(),
        ))
    }
}

/// The client side of one SCRAM exchange (walreceiver, apply worker).
pub struct ScramClient {
    password: String,
    client_first_bare: String,
    client_nonce: String,
    expected_server_signature: Option<[u8; 32]>,
}

impl ScramClient {
    /// `user` may be empty: PostgreSQL ignores it and libpq sends none.
    pub fn new(user: &str, password: &str) -> ScramClient {
        ScramClient::with_nonce(user, password, &random_nonce())
    }

    /// As [`ScramClient::new`] with a chosen nonce (tests).
    pub fn with_nonce(user: &str, password: &str, nonce: &str) -> ScramClient {
        let user = user.replace('=', "=3D").replace(',', "=2C");
        ScramClient {
            password: password.to_string(),
            client_first_bare: format!("n={user},r={nonce}"),
            client_nonce: nonce.to_string(),
            expected_server_signature: None,
        }
    }

    /// The client-first message (data of SASLInitialResponse).
    pub fn client_first(&self) -> Vec<u8> {
        format!("n,,{}", self.client_first_bare).into_bytes()
    }

    /// Handles server-first (AuthenticationSASLContinue); returns client-final.
    pub fn server_first(&mut self, data: &[u8]) -> PgResult<Vec<u8>> {
        let text =
            std::str::from_utf8(data).map_err(|_| malformed("Message is not valid UTF-8."))?;
        let mut attrs = text.split(',');
        let nonce = attribute(attrs.next(), 'r')?;
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err(malformed("invalid SCRAM response (nonce mismatch)"));
        }
        let salt = B64
            .decode(attribute(attrs.next(), 's')?)
            .map_err(|_| malformed("malformed SCRAM message (invalid salt)"))?;
        let iterations: u32 = attribute(attrs.next(), 'i')?
            .parse()
            .ok()
            .filter(|&i| i > 0)
            .ok_or_else(|| malformed("malformed SCRAM message (invalid iteration count)"))?;
        let salted = salted_password(&self.password, &salt, iterations);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key = sha256(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{text},{without_proof}", self.client_first_bare);
        let signature = hmac(&stored_key, auth_message.as_bytes());
        let mut proof = [0u8; 32];
        for i in 0..32 {
            proof[i] = client_key[i] ^ signature[i];
        }
        let server_key = hmac(&salted, b"Server Key");
        self.expected_server_signature = Some(hmac(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Checks server-final (AuthenticationSASLFinal): the server knew the verifier.
    pub fn server_final(&self, data: &[u8]) -> PgResult<()> {
        let text =
            std::str::from_utf8(data).map_err(|_| malformed("Message is not valid UTF-8."))?;
        if let Some(e) = text.strip_prefix("e=") {
            return Err(PgError::new(
                SqlState::INVALID_PASSWORD,
                format!("error received from server in SCRAM exchange: {e}"),
            ));
        }
        let sig = B64
            .decode(attribute(text.split(',').next(), 'v')?)
            .map_err(|_| malformed("malformed SCRAM message (invalid server signature)"))?;
        match self.expected_server_signature {
            Some(expected) if constant_time_eq(&expected, &sig) => Ok(()),
            _ => Err(PgError::new(
                SqlState::INVALID_PASSWORD,
                "incorrect server signature",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
    const RFC_CNONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const RFC_SNONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

    fn rfc_verifier() -> String {
        Verifier::derive("pencil", &B64.decode(RFC_SALT).unwrap(), 4096).to_string()
    }

    /// RFC 7677 section 3 exchange, client side.
    #[test]
    fn client_matches_rfc7677() {
        let mut c = ScramClient::with_nonce("user", "pencil", RFC_CNONCE);
        assert_eq!(c.client_first(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = format!("r={RFC_CNONCE}{RFC_SNONCE},s={RFC_SALT},i=4096");
        let fin = c.server_first(server_first.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(fin).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        c.server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert!(c
            .server_final(b"v=AAAARBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .is_err());
    }

    /// RFC 7677 section 3 exchange, server side.
    #[test]
    fn server_matches_rfc7677() {
        let v = rfc_verifier();
        let mut s = ScramServer::with_nonce(Some(&v), RFC_SNONCE);
        let first = s.client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        assert_eq!(
            String::from_utf8(first).unwrap(),
            format!("r={RFC_CNONCE}{RFC_SNONCE},s={RFC_SALT},i=4096")
        );
        let out = s
            .client_final(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap();
        assert_eq!(
            out,
            ScramOutcome::Success(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".to_vec())
        );
    }

    fn exchange(verifier: Option<&str>, password: &str) -> (ScramOutcome, ScramClient) {
        let mut s = ScramServer::new(verifier);
        let mut c = ScramClient::new("", password);
        let sf = s.client_first(&c.client_first()).unwrap();
        let cf = c.server_first(&sf).unwrap();
        (s.client_final(&cf).unwrap(), c)
    }

    #[test]
    fn server_against_client() {
        let v = make_verifier("s3cret");
        let (out, c) = exchange(Some(&v), "s3cret");
        let ScramOutcome::Success(fin) = out else {
            panic!("right password refused")
        };
        c.server_final(&fin).unwrap();
        assert_eq!(exchange(Some(&v), "wrong").0, ScramOutcome::Failure);
        // unknown role / no password: a mock exchange that fails
        assert_eq!(exchange(None, "s3cret").0, ScramOutcome::Failure);
        assert_eq!(exchange(Some("md5abc"), "s3cret").0, ScramOutcome::Failure);
    }

    #[test]
    fn verifier_format_and_plain_check() {
        let v = make_verifier("pw");
        assert!(v.starts_with("SCRAM-SHA-256$4096:"));
        let parsed = Verifier::parse(&v).unwrap();
        assert_eq!(parsed.salt.len(), 16);
        assert_eq!(parsed.to_string(), v);
        assert!(verify_plain_password(&v, "pw"));
        assert!(!verify_plain_password(&v, "px"));
        assert_ne!(make_verifier("pw"), v, "salt must be random");
        // a verifier in the layout PostgreSQL stores in pg_authid
        let pg = "SCRAM-SHA-256$4096:rTdYD7JpvXBu/rDDQI1qgg==$WHcjvkRdEI2N3XomJF+mbAd8ZWbV52DD1OEOmk5BNUE=:4IQyE0aGg4/Pp6RsHNfHfxwoCMuNaL0ofN0Y/nY9PC4=";
        assert!(Verifier::parse(pg).is_some());
    }

    #[test]
    fn malformed_exchanges_are_errors_not_panics() {
        let v = make_verifier("pw");
        for first in [
            &b""[..],
            b"x",
            b"n",
            b"n,",
            b"n,,",
            b"p=tls-server-end-point,,n=,r=a",
            b"n,a=u,n=,r=a",
            b"n,,n=,r=",
            b"\xff",
        ] {
            assert!(
                ScramServer::new(Some(&v)).client_first(first).is_err(),
                "{first:?}"
            );
        }
        let mut s = ScramServer::new(Some(&v));
        s.client_first(b"n,,n=,r=abc").unwrap();
        assert!(
            s.client_final(b"c=biws,r=abc,p=AAAA").is_err(),
            "nonce must match"
        );
        let mut s = ScramServer::new(Some(&v));
        assert!(s.client_final(b"c=biws").is_err(), "final before first");
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..2000 {
            let data: Vec<u8> = (0..rng.gen_range(0..30))
                .map(|_| b"nyrpcsi=,abc0"[rng.gen_range(0..13)])
                .collect();
            let mut s = ScramServer::new(Some(&v));
            let _ = s.client_first(&data);
            let _ = s.client_final(&data);
            let mut c = ScramClient::new("", "pw");
            let _ = c.server_first(&data);
            let _ = c.server_final(&data);
        }
    }
}
