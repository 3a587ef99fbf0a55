//! `numeric`: parsing, output, typmod rounding, division scale and PostgreSQL's
//! base-10000 binary format, over `rust_decimal::Decimal`.
//!
//! A `Decimal` keeps its scale (`1.50` stays `1.50`), which is what PostgreSQL's
//! display scale (`dscale`) is. Its limits are narrower than PostgreSQL's (28
//! significant digits, 28 fractional digits); values past them fail with
//! `22003 value overflows numeric format`. `NaN`, `Infinity` and `-Infinity`
//! are `Value::NumericSpecial`: the `*_datum` functions read, write and
//! constrain either kind, and [`special_arith`] does arithmetic with them.
//! Corresponds to PostgreSQL's `utils/adt/numeric.c`.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use tandem_types::bytes_io::BufMut;
use tandem_types::{ByteReader, NumericSpecial, PgError, PgResult, SqlState, Value};

pub const MAX_SCALE: u32 = 28;

pub fn overflow() -> PgError {
    PgError::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        "value overflows numeric format",
    )
}

fn syntax(text: &str) -> PgError {
    PgError::new(
        SqlState::INVALID_TEXT_REPRESENTATION,
        format!("invalid input syntax for type numeric: \"{text}\""),
    )
}

/// The special value `text` spells (`NaN`, `Infinity`, `-inf`, any case).
pub fn special(text: &str) -> Option<NumericSpecial> {
    match text.trim().to_ascii_lowercase().as_str() {
        "nan" => Some(NumericSpecial::NaN),
        "infinity" | "+infinity" | "inf" | "+inf" => Some(NumericSpecial::Infinity),
        "-infinity" | "-inf" => Some(NumericSpecial::NegInfinity),
        _ => None,
    }
}

/// `numeric_in` of any numeric: a special value or a number.
pub fn parse_datum(text: &str) -> PgResult<Value> {
    match special(text) {
        Some(s) => Ok(Value::NumericSpecial(s)),
        None => parse(text).map(Value::Numeric),
    }
}

/// A numeric datum brought to `numeric(p,s)` (`None`: unconstrained): a
/// number rounded and checked, NaN as it is, an infinity refused.
pub fn with_typmod(v: Value, tm: &Option<(u32, u32)>) -> PgResult<Value> {
    let Some((precision, scale)) = *tm else {
        return Ok(v);
    };
    match v {
        Value::Numeric(d) => apply_typmod(d, precision, scale).map(Value::Numeric),
        Value::NumericSpecial(NumericSpecial::NaN) => Ok(v),
        Value::NumericSpecial(_) => Err(PgError::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            "numeric field overflow",
        )
        .with_detail(format!(
            "A field with precision {precision}, scale {scale} cannot hold an infinite value."
        ))),
        other => Ok(other),
    }
}

/// `a op b` (`+ - * / %`) when either side is a special value (the other a
/// number or special), as PostgreSQL's numeric operators answer.
pub fn special_arith(op: char, a: &Value, b: &Value) -> PgResult<Value> {
    use NumericSpecial::{Infinity, NaN, NegInfinity};
    // the sign of a side: -1, 0, 1, or None for NaN
    let sign = |v: &Value| match v {
        Value::NumericSpecial(NaN) => None,
        Value::NumericSpecial(Infinity) => Some(1),
        Value::NumericSpecial(NegInfinity) => Some(-1),
        Value::Numeric(d) if d.is_zero() => Some(0),
        Value::Numeric(d) if d.is_sign_negative() => Some(-1),
        _ => Some(1),
    };
    let inf = |s: i32| Value::NumericSpecial(if s < 0 { NegInfinity } else { Infinity });
    let nan = Value::NumericSpecial(NaN);
    let (Some(sa), Some(sb)) = (sign(a), sign(b)) else {
        return Ok(nan);
    };
    let a_inf = matches!(a, Value::NumericSpecial(_));
    let b_inf = matches!(b, Value::NumericSpecial(_));
    Ok(match op {
        '+' if a_inf && b_inf => {
            if sa == sb {
                inf(sa)
            } else {
                nan
            }
        }
        '+' => inf(if a_inf { sa } else { sb }),
        '-' if a_inf && b_inf => {
            if sa != sb {
                inf(sa)
            } else {
                nan
            }
        }
        '-' => {
            if a_inf {
                inf(sa)
            } else {
                inf(-sb)
            }
        }
        '*' if sa == 0 || sb == 0 => nan,
        '*' => inf(sa * sb),
        '/' | '%' if sb == 0 => return Err(crate::errors::division_by_zero()),
        '/' if a_inf && b_inf => nan,
        '/' if a_inf => inf(sa * sb),
        '/' => Value::Numeric(Decimal::ZERO),
        '%' if a_inf => nan,
        '%' => a.clone(),
        _ => nan,
    })
}

/// Positive zero with the same scale (PostgreSQL has no negative zero numeric).
pub fn normalize_zero(mut d: Decimal) -> Decimal {
    if d.is_zero() {
        d.set_sign_positive(true);
    }
    d
}

/// `numeric_in`: `  -12.50 `, `.5`, `1e3`, `1_000`. Keeps the written scale.
pub fn parse(text: &str) -> PgResult<Decimal> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "nan" | "infinity" | "+infinity" | "-infinity" | "inf" | "+inf" | "-inf"
    ) {
        return Err(PgError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!("numeric value \"{t}\" is not supported"),
        ));
    }
    let bytes = t.as_bytes();
    let mut i = 0;
    let neg = match bytes.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    let mut digits = String::new();
    let mut scale: i64 = 0;
    let mut seen_point = false;
    let mut any_digit = false;
    let mut prev_digit = false;
    while i < bytes.len() {
        match bytes[i] {
            b @ b'0'..=b'9' => {
                digits.push(b as char);
                if seen_point {
                    scale += 1;
                }
                any_digit = true;
                prev_digit = true;
            }
            b'_' if prev_digit && bytes.get(i + 1).is_some_and(|b| b.is_ascii_digit()) => {
                prev_digit = false
            }
            b'.' if !seen_point => {
                seen_point = true;
                prev_digit = false;
            }
            _ => break,
        }
        i += 1;
    }
    if !any_digit {
        return Err(syntax(text));
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        let exp: i64 = t[i + 1..].parse().map_err(|_| syntax(text))?;
        if exp.abs() > 1000 {
            return Err(overflow());
        }
        scale -= exp;
        i = bytes.len();
    }
    if i != bytes.len() {
        return Err(syntax(text));
    }
    from_digits(neg, &digits, scale)
}

/// Builds `±digits × 10^-scale`, rounding fractional digits past [`MAX_SCALE`].
fn from_digits(neg: bool, digits: &str, scale: i64) -> PgResult<Decimal> {
    let mut digits = digits.trim_start_matches('0').to_string();
    let mut scale = scale;
    if scale < 0 {
        if !digits.is_empty() {
            digits.extend(std::iter::repeat_n('0', (-scale) as usize));
        }
        scale = 0;
    }
    let mut round_up = false;
    if scale > MAX_SCALE as i64 {
        let drop = (scale - MAX_SCALE as i64) as usize;
        if drop > digits.len() {
            digits.clear();
        } else {
            let keep = digits.len() - drop;
            round_up = digits.as_bytes()[keep] >= b'5';
            digits.truncate(keep);
        }
        scale = MAX_SCALE as i64;
    }
    let mut mantissa: i128 = 0;
    for b in digits.bytes() {
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add((b - b'0') as i128))
            .ok_or_else(overflow)?;
    }
    if round_up {
        mantissa += 1;
    }
    if neg {
        mantissa = -mantissa;
    }
    let d = Decimal::try_from_i128_with_scale(mantissa, scale as u32).map_err(|_| overflow())?;
    Ok(normalize_zero(d))
}

/// `numeric_out`.
pub fn format(d: &Decimal, out: &mut String) {
    out.push_str(&normalize_zero(*d).to_string());
}

/// Rounds half away from zero to `scale` digits and pads with zeros to exactly that scale.
pub fn round_to_scale(d: Decimal, scale: u32) -> Decimal {
    let scale = scale.min(MAX_SCALE);
    let mut r = d.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
    if r.scale() < scale {
        // rescale only adds zeros here; it cannot lose digits
        let mut padded = r;
        padded.rescale(scale);
        if padded == r {
            r = padded;
        }
    }
    normalize_zero(r)
}

/// Number of digits before the decimal point (0 for |d| < 1).
pub fn integer_digits(d: &Decimal) -> u32 {
    let t = d.abs().trunc();
    if t.is_zero() {
        0
    } else {
        t.to_string().len() as u32
    }
}

/// `numeric(p,s)` coercion: round to `s`, then `22003 numeric field overflow`
/// if more than `p - s` integer digits remain.
pub fn apply_typmod(d: Decimal, precision: u32, scale: u32) -> PgResult<Decimal> {
    let r = round_to_scale(d, scale);
    let max_int_digits = precision.saturating_sub(scale);
    if integer_digits(&r) > max_int_digits {
        let bound = if max_int_digits > 0 {
            format!("10^{max_int_digits}")
        } else {
            "1".to_string()
        };
        return Err(PgError::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "numeric field overflow").with_detail(
            format!("A field with precision {precision}, scale {scale} must round to an absolute value less than {bound}."),
        ));
    }
    Ok(r)
}

/// Weight (base-10000 exponent of the first non-zero group) and that first group.
fn weight_and_first(d: &Decimal) -> (i32, u32) {
    let (groups, weight) = to_base10000(d);
    match groups.first() {
        Some(&g) => (weight as i32, g as u32),
        None => (0, 0),
    }
}

/// PostgreSQL's `select_div_scale`: at least 16 significant digits, never less
/// than either input's scale.
pub fn div_scale(a: &Decimal, b: &Decimal) -> u32 {
    let (w1, f1) = weight_and_first(a);
    let (w2, f2) = weight_and_first(b);
    let mut qweight = w1 - w2;
    if f1 < f2 {
        qweight -= 1;
    }
    let rscale = (16 - qweight * 4)
        .max(a.scale() as i32)
        .max(b.scale() as i32)
        .max(0);
    (rscale as u32).min(MAX_SCALE)
}

/// `numeric / numeric` with PostgreSQL's result scale.
pub fn div(a: Decimal, b: Decimal) -> PgResult<Decimal> {
    if b.is_zero() {
        return Err(PgError::new(SqlState::DIVISION_BY_ZERO, "division by zero"));
    }
    let scale = div_scale(&a, &b);
    let q = a.checked_div(b).ok_or_else(overflow)?;
    Ok(round_to_scale(q, scale))
}

/// Result scale for functions computed in floating point (`sqrt`, `^`, `ln`):
/// 16 significant digits, at least the input's scale.
pub fn approx_scale(result: f64, min_scale: u32) -> u32 {
    let digits_before = if result.abs() >= 1.0 {
        result.abs().log10().floor() as i32 + 1
    } else {
        0
    };
    let leading_zeros = if result != 0.0 && result.abs() < 1.0 {
        (-result.abs().log10()).floor() as i32
    } else {
        0
    };
    ((16 - digits_before + leading_zeros)
        .max(min_scale as i32)
        .max(0) as u32)
        .min(MAX_SCALE)
}

/// A float result as numeric with `scale` digits (through 17 significant digits).
pub fn from_f64_scaled(f: f64, scale: u32) -> PgResult<Decimal> {
    let d = from_f64(f, 17)?;
    Ok(round_to_scale(d, scale))
}

/// `float8::numeric`: the float's value to `sig` significant digits
/// (PostgreSQL uses 15 for float8 and 6 for float4).
pub fn from_f64(f: f64, sig: usize) -> PgResult<Decimal> {
    if !f.is_finite() {
        return Err(PgError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "cannot convert infinity or NaN to numeric",
        ));
    }
    let s = format!("{:.*e}", sig.saturating_sub(1), f);
    let (mant, exp) = s.split_once('e').ok_or_else(overflow)?;
    let exp: i64 = exp.parse().map_err(|_| overflow())?;
    let neg = mant.starts_with('-');
    let mant = mant.trim_start_matches('-');
    let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
    let digits = format!("{ip}{fp}");
    let digits_trimmed = digits.trim_end_matches('0');
    let dropped = digits.len() - digits_trimmed.len();
    let scale = fp.len() as i64 - exp - dropped as i64;
    from_digits(
        neg,
        if digits_trimmed.is_empty() {
            "0"
        } else {
            digits_trimmed
        },
        scale,
    )
}

pub fn to_f64(d: &Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

/// Base-10000 groups of |d| (most significant first, no leading/trailing zero
/// groups) and the weight of the first group.
fn to_base10000(d: &Decimal) -> (Vec<i16>, i16) {
    let scale = d.scale() as usize;
    let mant = d.mantissa().unsigned_abs().to_string();
    let (mut ip, mut fp) = if mant.len() > scale {
        (
            mant[..mant.len() - scale].to_string(),
            mant[mant.len() - scale..].to_string(),
        )
    } else {
        (
            String::new(),
            format!("{}{}", "0".repeat(scale - mant.len()), mant),
        )
    };
    while ip.len() % 4 != 0 {
        ip.insert(0, '0');
    }
    while fp.len() % 4 != 0 {
        fp.push('0');
    }
    let all = format!("{ip}{fp}");
    let mut groups: Vec<i16> = all
        .as_bytes()
        .chunks(4)
        .map(|c| c.iter().fold(0i16, |acc, b| acc * 10 + (b - b'0') as i16))
        .collect();
    let mut weight = (ip.len() / 4) as i16 - 1;
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    (groups, weight)
}

/// `numeric_send` of any numeric: a special value is its sign word alone.
pub fn send_datum(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::NumericSpecial(s) => {
            out.put_i16(0);
            out.put_i16(0);
            out.put_u16(match s {
                NumericSpecial::NaN => 0xC000,
                NumericSpecial::Infinity => 0xD000,
                NumericSpecial::NegInfinity => 0xF000,
            });
            out.put_u16(0);
        }
        Value::Numeric(d) => send(d, out),
        _ => {}
    }
}

/// `numeric_recv` of any numeric.
pub fn recv_datum(bytes: &[u8]) -> PgResult<Value> {
    let special = match bytes.get(4..6) {
        Some([0xC0, 0]) => Some(NumericSpecial::NaN),
        Some([0xD0, 0]) => Some(NumericSpecial::Infinity),
        Some([0xF0, 0]) => Some(NumericSpecial::NegInfinity),
        _ => None,
    };
    match special {
        Some(s) if bytes.len() == 8 => Ok(Value::NumericSpecial(s)),
        _ => recv(bytes).map(Value::Numeric),
    }
}

/// `numeric_send`: ndigits, weight, sign, dscale (all int16), then base-10000 digits.
pub fn send(d: &Decimal, out: &mut Vec<u8>) {
    let (groups, weight) = to_base10000(d);
    let sign: u16 = if d.is_sign_negative() && !d.is_zero() {
        0x4000
    } else {
        0
    };
    out.put_i16(groups.len() as i16);
    out.put_i16(weight);
    out.put_u16(sign);
    out.put_u16(d.scale() as u16);
    for g in groups {
        out.put_i16(g);
    }
}

/// `numeric_recv`.
pub fn recv(bytes: &[u8]) -> PgResult<Decimal> {
    fn bad(m: &str) -> PgError {
        PgError::new(SqlState::INVALID_BINARY_REPRESENTATION, m.to_string())
    }
    let mut r = ByteReader::with_errors(bytes, |_| bad("insufficient data left in message"));
    let ndigits = r.get_i16()?;
    let weight = r.get_i16()? as i32;
    let sign = r.get_u16()?;
    let dscale = r.get_u16()? as u32;
    if ndigits < 0 || r.remaining() != 2 * ndigits as usize {
        return Err(bad("insufficient data left in message"));
    }
    match sign {
        0 | 0x4000 => {}
        0xC000 | 0xD000 | 0xF000 => {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "numeric NaN and infinity are not supported",
            ))
        }
        _ => return Err(bad("invalid sign in external \"numeric\" value")),
    }
    let n = ndigits as i32;
    let mut mantissa: i128 = 0;
    for _ in 0..n {
        let g = r.get_i16()?;
        if !(0..10000).contains(&g) {
            return Err(bad("invalid digit in external \"numeric\" value"));
        }
        mantissa = mantissa
            .checked_mul(10000)
            .and_then(|m| m.checked_add(g as i128))
            .ok_or_else(overflow)?;
    }
    // value = mantissa * 10000^(weight - (n - 1))
    let exp4 = weight - (n - 1);
    let (mantissa, scale) = if exp4 >= 0 {
        let mut m = mantissa;
        for _ in 0..exp4 {
            m = m.checked_mul(10000).ok_or_else(overflow)?;
        }
        (m, 0u32)
    } else {
        (mantissa, (-exp4 * 4) as u32)
    };
    let signed = if sign == 0x4000 { -mantissa } else { mantissa };
    let d = if scale > MAX_SCALE {
        let digits = signed.unsigned_abs().to_string();
        from_digits(signed < 0, &digits, scale as i64)?
    } else {
        Decimal::try_from_i128_with_scale(signed, scale).map_err(|_| overflow())?
    };
    Ok(round_to_scale(d, dscale.min(MAX_SCALE)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_values_read_write_and_compute_as_postgres() {
        use NumericSpecial::{Infinity, NaN, NegInfinity};
        let sp = Value::NumericSpecial;
        let num = |i: i64| Value::Numeric(Decimal::from(i));
        assert_eq!(parse_datum(" -inf ").unwrap(), sp(NegInfinity));
        assert_eq!(parse_datum("NaN").unwrap(), sp(NaN));
        assert_eq!(
            parse_datum("1.5").unwrap(),
            Value::Numeric(Decimal::new(15, 1))
        );
        // numeric_send's sign words, and back
        for (v, word) in [
            (NaN, [0xC0, 0]),
            (Infinity, [0xD0, 0]),
            (NegInfinity, [0xF0, 0]),
        ] {
            let mut out = Vec::new();
            send_datum(&sp(v), &mut out);
            assert_eq!(out, [0, 0, 0, 0, word[0], word[1], 0, 0]);
            assert_eq!(recv_datum(&out).unwrap(), sp(v));
        }
        assert!(with_typmod(sp(NaN), &Some((5, 2))).is_ok());
        assert_eq!(
            with_typmod(sp(Infinity), &Some((5, 2))).unwrap_err().code,
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE
        );
        let arith = |op, a: &Value, b: &Value| special_arith(op, a, b).unwrap();
        assert_eq!(arith('+', &sp(Infinity), &num(1)), sp(Infinity));
        assert_eq!(arith('-', &sp(Infinity), &sp(Infinity)), sp(NaN));
        assert_eq!(arith('-', &num(1), &sp(Infinity)), sp(NegInfinity));
        assert_eq!(arith('*', &sp(Infinity), &num(0)), sp(NaN));
        assert_eq!(arith('*', &sp(NegInfinity), &num(-2)), sp(Infinity));
        assert_eq!(arith('/', &num(1), &sp(Infinity)), num(0));
        assert_eq!(arith('/', &sp(NaN), &num(0)), sp(NaN));
        assert_eq!(arith('%', &num(5), &sp(Infinity)), num(5));
        assert_eq!(
            special_arith('/', &sp(Infinity), &num(0)).unwrap_err().code,
            SqlState::DIVISION_BY_ZERO
        );
    }

    fn s(d: Decimal) -> String {
        let mut o = String::new();
        format(&d, &mut o);
        o
    }

    #[test]
    fn parse_keeps_scale_like_numeric_in() {
        assert_eq!(s(parse("1.50").unwrap()), "1.50");
        assert_eq!(s(parse(" -0.0 ").unwrap()), "0.0");
        assert_eq!(s(parse(".5").unwrap()), "0.5");
        assert_eq!(s(parse("5.").unwrap()), "5");
        assert_eq!(s(parse("1e3").unwrap()), "1000");
        assert_eq!(s(parse("1.5e-3").unwrap()), "0.0015");
        assert_eq!(s(parse("1_000").unwrap()), "1000");
        let e = parse("abc").unwrap_err();
        assert_eq!(e.message, "invalid input syntax for type numeric: \"abc\"");
        assert_eq!(e.code.0, "22P02");
        assert!(parse("1.2.3").is_err());
        assert_eq!(parse("1e40").unwrap_err().code.0, "22003");
    }

    #[test]
    fn typmod_rounds_half_away_and_checks_precision() {
        assert_eq!(
            s(apply_typmod(parse("2.345").unwrap(), 5, 2).unwrap()),
            "2.35"
        );
        assert_eq!(
            s(apply_typmod(parse("-2.345").unwrap(), 5, 2).unwrap()),
            "-2.35"
        );
        assert_eq!(s(apply_typmod(parse("2").unwrap(), 5, 2).unwrap()), "2.00");
        let e = apply_typmod(parse("1000").unwrap(), 5, 2).unwrap_err();
        assert_eq!(e.message, "numeric field overflow");
        assert_eq!(
            e.detail.as_deref(),
            Some(
                "A field with precision 5, scale 2 must round to an absolute value less than 10^3."
            )
        );
        let e = apply_typmod(parse("1").unwrap(), 2, 2).unwrap_err();
        assert_eq!(
            e.detail.as_deref(),
            Some("A field with precision 2, scale 2 must round to an absolute value less than 1.")
        );
    }

    #[test]
    fn division_scale_matches_postgres() {
        assert_eq!(
            s(div(parse("10").unwrap(), parse("4").unwrap()).unwrap()),
            "2.5000000000000000"
        );
        assert_eq!(
            s(div(parse("1").unwrap(), parse("3").unwrap()).unwrap()),
            "0.33333333333333333333"
        );
        assert_eq!(
            s(div(parse("100000").unwrap(), parse("3").unwrap()).unwrap()),
            "33333.333333333333"
        );
        assert_eq!(
            s(div(parse("1").unwrap(), parse("3.0").unwrap()).unwrap()),
            "0.33333333333333333333"
        );
        assert_eq!(
            div(parse("1").unwrap(), parse("0").unwrap())
                .unwrap_err()
                .code
                .0,
            "22012"
        );
    }

    #[test]
    fn float_to_numeric_uses_15_digits() {
        assert_eq!(s(from_f64(0.1, 15).unwrap()), "0.1");
        assert_eq!(s(from_f64(1.0 / 3.0, 15).unwrap()), "0.333333333333333");
        assert_eq!(s(from_f64(1e20, 15).unwrap()), "100000000000000000000");
        assert_eq!(s(from_f64(-2.5, 15).unwrap()), "-2.5");
    }

    #[test]
    fn binary_format_matches_numeric_send() {
        // SELECT numeric_send(1.50) = \x0001000000000002 0001 ... (values captured from PostgreSQL 15)
        let mut o = Vec::new();
        send(&parse("1.50").unwrap(), &mut o);
        assert_eq!(o, [0, 2, 0, 0, 0, 0, 0, 2, 0, 1, 0x13, 0x88]);
        let mut o = Vec::new();
        send(&parse("-12345.678").unwrap(), &mut o);
        assert_eq!(o, [0, 3, 0, 1, 0x40, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c]);
        let mut o = Vec::new();
        send(&parse("0").unwrap(), &mut o);
        assert_eq!(o, [0, 0, 0, 0, 0, 0, 0, 0]);
        let mut o = Vec::new();
        send(&parse("100000000").unwrap(), &mut o);
        assert_eq!(o, [0, 1, 0, 2, 0, 0, 0, 0, 0, 1]);
        for t in [
            "1.50",
            "-12345.678",
            "0",
            "0.00",
            "100000000",
            "0.0001",
            "123456789.123456789",
        ] {
            let d = parse(t).unwrap();
            let mut o = Vec::new();
            send(&d, &mut o);
            assert_eq!(s(recv(&o).unwrap()), t);
        }
    }
}
