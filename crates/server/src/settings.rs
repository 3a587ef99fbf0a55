//! Reading the server's own settings from [`Config`] in SHOW format, with units
//! parsed here (`200ms`, `5min`, `1GB`), so the postmaster does not depend on the
//! base unit a getter uses, and a setting the registry lacks falls back to
//! PostgreSQL's default instead of stopping the server.
//!
//! Corresponds to the unit handling of PostgreSQL's `utils/misc/guc.c`
//! (`parse_int`/`convert_to_base_unit`), for the settings the server reads.

use tandem_config::Config;

pub(crate) fn get_str(config: &Config, name: &str, default: &str) -> String {
    config.show(name).unwrap_or_else(|| default.to_string())
}

pub(crate) fn get_bool(config: &Config, name: &str, default: bool) -> bool {
    match config.show(name).map(|v| v.to_ascii_lowercase()) {
        Some(v) => matches!(v.as_str(), "on" | "true" | "yes" | "1"),
        None => default,
    }
}

pub(crate) fn get_int(config: &Config, name: &str, default: i64) -> i64 {
    config
        .show(name)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Splits `"200ms"` into `(200.0, "ms")`.
fn split_unit(text: &str) -> Option<(f64, String)> {
    let t = text.trim();
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(t.len());
    let n: f64 = t[..end].parse().ok()?;
    Some((n, t[end..].trim().to_string()))
}

/// A time setting in milliseconds; a bare number is in `bare_unit_ms`.
pub(crate) fn get_ms(config: &Config, name: &str, default_ms: u64, bare_unit_ms: u64) -> u64 {
    config
        .show(name)
        .and_then(|v| parse_ms(&v, bare_unit_ms))
        .unwrap_or(default_ms)
}

pub(crate) fn parse_ms(text: &str, bare_unit_ms: u64) -> Option<u64> {
    let (n, unit) = split_unit(text)?;
    let mult = match unit.as_str() {
        "" => bare_unit_ms as f64,
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    (n >= 0.0).then_some((n * mult) as u64)
}

/// A memory setting in bytes; a bare number is in `bare_unit` bytes.
pub(crate) fn get_bytes(config: &Config, name: &str, default: u64, bare_unit: u64) -> u64 {
    config
        .show(name)
        .and_then(|v| parse_bytes(&v, bare_unit))
        .unwrap_or(default)
}

pub(crate) fn parse_bytes(text: &str, bare_unit: u64) -> Option<u64> {
    let (n, unit) = split_unit(text)?;
    let mult: u64 = match unit.as_str() {
        "" => bare_unit,
        "B" => 1,
        "kB" => 1024,
        "MB" => 1024 * 1024,
        "GB" => 1024 * 1024 * 1024,
        "TB" => 1024 * 1024 * 1024 * 1024,
        _ => return None,
    };
    (n >= 0.0).then_some((n * mult as f64) as u64)
}

/// Splits a comma list (`listen_addresses`, `unix_socket_directories`), trimming
/// blanks and double quotes.
pub(crate) fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(|s| s.trim().trim_matches('"').trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_ms("200ms", 1), Some(200));
        assert_eq!(parse_ms("5min", 1000), Some(300_000));
        assert_eq!(parse_ms("300", 1000), Some(300_000));
        assert_eq!(parse_ms("1h", 1), Some(3_600_000));
        assert_eq!(parse_ms("x", 1), None);
        assert_eq!(parse_bytes("1GB", 1), Some(1 << 30));
        assert_eq!(parse_bytes("64", 1024 * 1024), Some(64 << 20));
        assert_eq!(parse_bytes("8kB", 1), Some(8192));
        assert_eq!(
            split_list(" localhost, \"127.0.0.1\" ,"),
            vec!["localhost", "127.0.0.1"]
        );
        assert!(split_list("").is_empty());
    }
}
