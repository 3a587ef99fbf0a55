//! `real` and `double precision` text forms.
//!
//! Output is PostgreSQL 12+'s default (`extra_float_digits = 1`): the shortest
//! digits that read back to the same value, in plain notation when the decimal
//! exponent is in `-4 .. 15` (`-4 .. 6` for `real`), otherwise `1e+100` style.
//! Special values print as `Infinity`, `-Infinity`, `NaN`; negative zero as `-0`.
//! Input accepts what `float8in` does, including `inf`, `-Infinity`, `nan`.
//! Corresponds to PostgreSQL's `utils/adt/float.c` and `common/d2s.c`.

use tandem_types::{PgError, PgResult, SqlState};

/// Formats `digits × 10^exp10` PostgreSQL's way, where `sci` is the shortest
/// scientific rendering from Rust (`1.5e100`, `-2e-5`).
fn format_shortest(sci: &str, plain_limit: i32, out: &mut String) {
    let (mant, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let mant = mant.trim_start_matches('-');
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    if neg {
        out.push('-');
    }
    if exp < -4 || exp >= plain_limit {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(&format!(
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        ));
    } else if exp < 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-exp - 1) as usize));
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            out.push_str(&"0".repeat(int_len - digits.len()));
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
}

fn special(f: f64, out: &mut String) -> bool {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0" } else { "0" });
    } else {
        return false;
    }
    true
}

/// `float8out`.
pub fn format_f64(f: f64, out: &mut String) {
    if !special(f, out) {
        format_shortest(&format!("{f:e}"), 15, out);
    }
}

/// `float4out`.
pub fn format_f32(f: f32, out: &mut String) {
    if !special(f as f64, out) {
        format_shortest(&format!("{f:e}"), 6, out);
    }
}

fn parse_common(text: &str, type_name: &str) -> PgResult<f64> {
    let syntax = || {
        PgError::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type {type_name}: \"{text}\""),
        )
    };
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    let neg = lower.starts_with('-');
    if body == "infinity" || body == "inf" {
        if lower.len() - body.len() > 1 {
            return Err(syntax());
        }
        return Ok(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lower == "nan" {
        return Ok(f64::NAN);
    }
    let ok_chars = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
        && t.bytes().any(|b| b.is_ascii_digit());
    if !ok_chars {
        return Err(syntax());
    }
    t.parse::<f64>().map_err(|_| syntax())
}

fn out_of_range(text: &str, type_name: &str) -> PgError {
    PgError::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        format!("\"{text}\" is out of range for type {type_name}"),
    )
}

/// Whether a finite, non-zero literal underflowed or overflowed `v`.
fn lost(text: &str, v: f64) -> bool {
    let mantissa_nonzero = text
        .trim()
        .split(['e', 'E'])
        .next()
        .is_some_and(|m| m.bytes().any(|b| (b'1'..=b'9').contains(&b)));
    v.is_infinite() || (v == 0.0 && mantissa_nonzero)
}

/// `float8in`.
pub fn parse_f64(text: &str) -> PgResult<f64> {
    let v = parse_common(text, "double precision")?;
    let literal_special = text.trim().to_ascii_lowercase().contains("inf");
    if !literal_special && lost(text, v) {
        return Err(out_of_range(text, "double precision"));
    }
    Ok(v)
}

/// `float4in`.
pub fn parse_f32(text: &str) -> PgResult<f32> {
    let v = parse_common(text, "real")?;
    let literal_special = text.trim().to_ascii_lowercase().contains("inf");
    if !literal_special && v.is_finite() && lost(text, v as f32 as f64) {
        return Err(out_of_range(text, "real"));
    }
    Ok(v as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f8(f: f64) -> String {
        let mut o = String::new();
        format_f64(f, &mut o);
        o
    }
    fn f4(f: f32) -> String {
        let mut o = String::new();
        format_f32(f, &mut o);
        o
    }

    #[test]
    fn float8_output_matches_postgres() {
        // captured from PostgreSQL 15 (same algorithm as 17)
        assert_eq!(f8(1.5), "1.5");
        assert_eq!(f8(1e100), "1e+100");
        assert_eq!(f8(-0.0), "-0");
        assert_eq!(f8(1e15), "1e+15");
        assert_eq!(f8(123456789012345.0), "123456789012345");
        assert_eq!(f8(1e14), "100000000000000");
        assert_eq!(f8(1e-4), "0.0001");
        assert_eq!(f8(1e-5), "1e-05");
        assert_eq!(f8(0.0001234), "0.0001234");
        assert_eq!(f8(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(f8(f64::INFINITY), "Infinity");
        assert_eq!(f8(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(f8(f64::NAN), "NaN");
        assert_eq!(f8(-1234.5), "-1234.5");
    }

    #[test]
    fn float4_output_matches_postgres() {
        assert_eq!(f4(1e6), "1e+06");
        assert_eq!(f4(123456.0), "123456");
        assert_eq!(f4(1234567.0), "1.234567e+06");
        assert_eq!(f4(1.1), "1.1");
        assert_eq!(f4(2.718_281_7), "2.7182817");
    }

    #[test]
    fn input_accepts_postgres_forms_and_rejects_garbage() {
        assert_eq!(parse_f64(" 1.5 ").unwrap(), 1.5);
        assert_eq!(parse_f64("-Infinity").unwrap(), f64::NEG_INFINITY);
        assert!(parse_f64("NaN").unwrap().is_nan());
        assert_eq!(parse_f64("1e-5").unwrap(), 1e-5);
        let e = parse_f64("x").unwrap_err();
        assert_eq!(
            e.message,
            "invalid input syntax for type double precision: \"x\""
        );
        let e = parse_f64("1e400").unwrap_err();
        assert_eq!(
            e.message,
            "\"1e400\" is out of range for type double precision"
        );
        assert_eq!(e.code.0, "22003");
        assert_eq!(
            parse_f32("1e40").unwrap_err().message,
            "\"1e40\" is out of range for type real"
        );
        assert_eq!(
            parse_f32("x").unwrap_err().message,
            "invalid input syntax for type real: \"x\""
        );
    }
}
