//! Memcomparable encoding of primary key values into a [`RowKey`].
//!
//! Byte-wise comparison of two encoded keys gives the SQL order of the values for
//! the simple types (integers, floats, numeric, text in C collation, bytea, bool,
//! dates, timestamps, oids, LSNs), so a table's `BTreeMap<RowKey, _>` iterates in
//! primary key order and a point lookup is one map probe. Values that compare equal
//! in SQL encode equal (`1::int4` and `1::int8`, `1.0` and `1.00`).
//!
//! Layout per value: a marker byte (`0x01` non-null, `0x02` null: NULLs sort last
//! as in PostgreSQL's default ascending order), then
//! - integers, oid, xid, date, timestamps: 8-byte big-endian with the sign bit flipped;
//! - floats: IEEE bits as f64, made order-preserving (negative: all bits inverted);
//! - numeric: sign class byte, then decimal exponent and digits (inverted when negative);
//!   `-Infinity`, `Infinity` and `NaN` sort before, after and after that;
//! - text, bytea, json, uuid: bytes with `0x00` escaped as `0x00 0xFF`, ended by `0x00 0x01`;
//! - enum labels: their sort order, as a float;
//! - arrays and records: elements in order, ended by `0x00`.
//!
//! Tables without a primary key use a hidden 8-byte big-endian row id instead
//! ([`rowid_key`]). PostgreSQL's counterpart is the btree index tuple comparison in
//! `nbtcompare.c`; we compare bytes instead of calling type comparators.

use rust_decimal::Decimal;
use tandem_types::{NumericSpecial, Value};

use crate::{KeyBytes, RowKey};

/// Encodes key column values in order.
pub fn encode_key(values: &[Value]) -> RowKey {
    let mut out = KeyBytes::new();
    encode_key_into(values, &mut out);
    RowKey(out)
}

/// [`encode_key`] appended to `out` (re-using a buffer).
pub fn encode_key_into(values: &[Value], out: &mut KeyBytes) {
    for v in values {
        encode_value(v, out);
    }
}

/// The key of a row of a table without a primary key.
pub fn rowid_key(rowid: u64) -> RowKey {
    RowKey::new(&rowid.to_be_bytes())
}

/// The row id of a hidden-row-id key, if it is one.
pub fn rowid_of(key: &RowKey) -> Option<u64> {
    let bytes: [u8; 8] = key.0.as_slice().try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

fn int(v: i64, out: &mut KeyBytes) {
    out.extend_from_slice(&((v as u64) ^ (1 << 63)).to_be_bytes());
}

fn float(f: f64, out: &mut KeyBytes) {
    // -0.0 equals 0.0; all NaNs are equal and greater than everything (as in PostgreSQL).
    let f = if f == 0.0 {
        0.0
    } else if f.is_nan() {
        f64::NAN
    } else {
        f
    };
    let bits = f.to_bits();
    let enc = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    out.extend_from_slice(&enc.to_be_bytes());
}

fn escaped(bytes: &[u8], out: &mut KeyBytes) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

/// Numeric: `class` (0 negative, 1 zero, 2 positive), then for non-zero values the
/// exponent of the leading digit (i32, sign-flipped big-endian) and the significant
/// digits as bytes 1..=10 followed by a 0 terminator; negative values invert every
/// byte after the class so larger magnitudes sort first.
fn numeric(d: &Decimal, out: &mut KeyBytes) {
    let d = d.normalize();
    if d.is_zero() {
        out.push(1);
        return;
    }
    let negative = d.is_sign_negative();
    let digits = d.mantissa().unsigned_abs().to_string();
    // value = 0.d1d2d3... * 10^exp
    let exp = digits.len() as i32 - d.scale() as i32;
    let mut body = Vec::with_capacity(digits.len() + 5);
    body.extend_from_slice(&((exp as u32) ^ (1 << 31)).to_be_bytes());
    body.extend(digits.bytes().map(|c| c - b'0' + 1));
    body.push(0);
    if negative {
        out.push(0);
        out.extend(body.iter().map(|b| !b));
    } else {
        out.push(2);
        out.extend_from_slice(&body);
    }
}

fn encode_value(v: &Value, out: &mut KeyBytes) {
    if v.is_null() {
        out.push(0x02);
        return;
    }
    out.push(0x01);
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push(*b as u8),
        Value::Int2(i) => int(*i as i64, out),
        Value::Int4(i) => int(*i as i64, out),
        Value::Int8(i) => int(*i, out),
        Value::Oid(o) => int(*o as i64, out),
        Value::Xid(x) => int(*x as i64, out),
        Value::Date(d) => int(*d as i64, out),
        Value::Timestamp(t) | Value::TimestampTz(t) | Value::Time(t) => int(*t, out),
        Value::Float4(f) => float(*f as f64, out),
        Value::Float8(f) => float(*f, out),
        // An enum label sorts by its sort order (its name only prints).
        Value::Enum(sort, _) => float(*sort as f64, out),
        Value::Numeric(d) => numeric(d, out),
        // below every negative body (which never starts with 0x00), above
        // every positive one (which never starts with 0xFF), above those
        Value::NumericSpecial(s) => out.extend_from_slice(match s {
            NumericSpecial::NegInfinity => &[0, 0x00],
            NumericSpecial::Infinity => &[2, 0xFF],
            NumericSpecial::NaN => &[3],
        }),
        Value::Text(s) => escaped(s.as_bytes(), out),
        Value::Bytea(b) => escaped(b, out),
        Value::Interval(m, d, us) => {
            // PostgreSQL compares intervals by their span with 30-day months.
            let total = (*m as i128 * 30 + *d as i128) * 86_400_000_000 + *us as i128;
            out.extend_from_slice(&((total as u128) ^ (1 << 127)).to_be_bytes());
        }
        Value::PgLsn(l) => out.extend_from_slice(&l.0.to_be_bytes()),
        Value::Char(c) => out.push(*c),
        Value::Array(items) | Value::Record(items) => {
            for item in items {
                encode_value(item, out);
            }
            out.push(0x00);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn key(v: Value) -> RowKey {
        encode_key(&[v])
    }

    fn assert_sorted(vals: Vec<Value>) {
        let keys: Vec<RowKey> = vals.iter().cloned().map(key).collect();
        for w in keys.windows(2).zip(vals.windows(2)) {
            assert!(
                w.0[0] < w.0[1],
                "{:?} should sort before {:?}",
                w.1[0],
                w.1[1]
            );
        }
    }

    #[test]
    fn integers_sort_numerically_across_widths() {
        assert_sorted(vec![
            Value::Int8(i64::MIN),
            Value::Int4(-70000),
            Value::Int2(-1),
            Value::Int4(0),
            Value::Int8(1),
            Value::Int2(300),
            Value::Int8(i64::MAX),
        ]);
        assert_eq!(key(Value::Int4(42)), key(Value::Int8(42)));
    }

    #[test]
    fn numerics_sort_and_normalize() {
        let n = |s: &str| Value::Numeric(Decimal::from_str(s).unwrap());
        assert_sorted(vec![
            n("-1000"),
            n("-99.5"),
            n("-12.3"),
            n("-12"),
            n("-0.001"),
            n("0"),
            n("0.001"),
            n("0.01"),
            n("1"),
            n("1.5"),
            n("12"),
            n("12.3"),
            n("99.5"),
            n("1000"),
        ]);
        assert_eq!(key(n("1.0")), key(n("1.00")));
        assert_eq!(key(n("0.000")), key(n("0")));
        // the special values around the numbers, also as a key's first column
        let special = Value::NumericSpecial;
        assert_sorted(vec![
            special(NumericSpecial::NegInfinity),
            n("-79228162514264337593543950335"),
            n("-0.0000000000000000000000000001"),
            n("0"),
            n("0.0000000000000000000000000001"),
            n("79228162514264337593543950335"),
            special(NumericSpecial::Infinity),
            special(NumericSpecial::NaN),
            Value::Null,
        ]);
        let pair = |a: Value| encode_key(&[a, Value::Int4(i32::MAX)]);
        assert!(pair(special(NumericSpecial::NegInfinity)) < pair(n("-1e27")));
        assert!(pair(special(NumericSpecial::Infinity)) > pair(n("1e27")));
    }

    #[test]
    fn floats_text_bytea_and_nulls() {
        assert_sorted(vec![
            Value::Float8(f64::NEG_INFINITY),
            Value::Float8(-2.5),
            Value::Float8(0.0),
            Value::Float4(0.5),
            Value::Float8(f64::INFINITY),
            Value::Float8(f64::NAN),
        ]);
        assert_eq!(key(Value::Float8(-0.0)), key(Value::Float8(0.0)));
        assert_sorted(vec![
            Value::Text("".into()),
            Value::Text("a".into()),
            Value::Text("a\0".into()),
            Value::Text("a\0b".into()),
            Value::Text("ab".into()),
            Value::Text("b".into()),
            Value::Null,
        ]);
        assert_sorted(vec![
            Value::Bytea(vec![]),
            Value::Bytea(vec![0]),
            Value::Bytea(vec![1]),
        ]);
    }

    #[test]
    fn composite_keys_sort_by_first_column_first() {
        let k = |a: &str, b: i32| encode_key(&[Value::Text(a.into()), Value::Int4(b)]);
        assert!(k("a", 9) < k("ab", 1));
        assert!(k("a", 1) < k("a", 2));
        assert!(rowid_key(1) < rowid_key(256));
        assert_eq!(rowid_of(&rowid_key(77)), Some(77));
    }
}
