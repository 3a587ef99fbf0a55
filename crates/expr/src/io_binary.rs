//! Binary input and output (`typreceive` / `typsend`): what clients such as
//! tokio-postgres send for parameters and ask for in results.
//!
//! All integers are big-endian. Layouts, as PostgreSQL's send functions write them:
//!
//! ```text
//! bool 1 byte | int2/4/8, float4/8, oid, xid, date (i32 days), timestamp[tz] (i64 us)
//! pg_lsn u64 | uuid 16 bytes | text kinds: UTF-8 bytes | "char": 1 byte
//! interval: i64 microseconds, i32 days, i32 months
//! numeric:  i16 ndigits, i16 weight, u16 sign, u16 dscale, ndigits × i16 base-10000
//! array:    i32 ndim, i32 has_nulls, u32 elem oid, ndim × (i32 len, i32 lbound=1),
//!           then each element as i32 length (-1 = NULL) + bytes
//! record:   i32 ncols, then per column u32 type oid, i32 length (-1 = NULL) + bytes
//! ```
//! Corresponds to the `*send`/`*recv` functions of PostgreSQL's `utils/adt/`.

use tandem_types::bytes_io::{put_i32_sized, BufMut};
use tandem_types::{ByteReader, DataType, Lsn, PgError, PgResult, SqlState, Value};

use crate::cast::{cast, value_type};
use crate::io_text::{fit_length, format_uuid, text_out, validate_utf8};
use crate::numeric;

fn bad_format() -> PgError {
    PgError::new(
        SqlState::INVALID_BINARY_REPRESENTATION,
        "incorrect binary data format",
    )
}

fn insufficient() -> PgError {
    PgError::new(
        SqlState::PROTOCOL_VIOLATION,
        "insufficient data left in message",
    )
}

/// A cursor over an array's bytes; short reads are `08P01 insufficient data
/// left in message`.
type Reader<'a> = ByteReader<'a, PgError>;

/// Fixed-width input: exactly `N` bytes.
fn fixed<const N: usize>(bytes: &[u8]) -> PgResult<[u8; N]> {
    bytes.try_into().map_err(|_| {
        if bytes.len() < N {
            insufficient()
        } else {
            bad_format()
        }
    })
}

/// Binary input (`typreceive`) for a parameter or COPY BINARY field.
pub fn binary_in(bytes: &[u8], ty: &DataType) -> PgResult<Value> {
    Ok(match ty {
        DataType::Bool => Value::Bool(fixed::<1>(bytes)?[0] != 0),
        DataType::Int2 => Value::Int2(i16::from_be_bytes(fixed(bytes)?)),
        DataType::Int4 => Value::Int4(i32::from_be_bytes(fixed(bytes)?)),
        DataType::Int8 => Value::Int8(i64::from_be_bytes(fixed(bytes)?)),
        DataType::Float4 => Value::Float4(f32::from_be_bytes(fixed(bytes)?)),
        DataType::Float8 => Value::Float8(f64::from_be_bytes(fixed(bytes)?)),
        DataType::Oid
        | DataType::RegClass
        | DataType::RegType
        | DataType::RegProc
        | DataType::RegNamespace => Value::Oid(u32::from_be_bytes(fixed(bytes)?)),
        DataType::Xid => Value::Xid(u32::from_be_bytes(fixed(bytes)?)),
        DataType::Date => Value::Date(i32::from_be_bytes(fixed(bytes)?)),
        DataType::Time => Value::Time(i64::from_be_bytes(fixed(bytes)?)),
        DataType::Timestamp => Value::Timestamp(i64::from_be_bytes(fixed(bytes)?)),
        DataType::TimestampTz => Value::TimestampTz(i64::from_be_bytes(fixed(bytes)?)),
        DataType::Interval => {
            let b: [u8; 16] = fixed(bytes)?;
            let usecs = i64::from_be_bytes(b[0..8].try_into().map_err(|_| bad_format())?);
            let days = i32::from_be_bytes(b[8..12].try_into().map_err(|_| bad_format())?);
            let months = i32::from_be_bytes(b[12..16].try_into().map_err(|_| bad_format())?);
            Value::Interval(months, days, usecs)
        }
        DataType::PgLsn => Value::PgLsn(Lsn(u64::from_be_bytes(fixed(bytes)?))),
        DataType::Uuid => Value::Text(format_uuid(&fixed(bytes)?)),
        DataType::Char => Value::Char(fixed::<1>(bytes)?[0]),
        DataType::Bytea => Value::Bytea(bytes.to_vec()),
        DataType::Numeric(tm) => numeric::with_typmod(numeric::recv_datum(bytes)?, tm)?,
        DataType::Text | DataType::Unknown | DataType::Json => {
            Value::Text(validate_utf8(bytes)?.to_string())
        }
        // an enum label travels as its name
        DataType::Enum(_) => crate::io_text::text_in(validate_utf8(bytes)?, ty)?,
        // version 1, then the text
        DataType::Jsonb => match bytes.split_first() {
            Some((1, text)) => Value::Text(crate::json::jsonb_in(validate_utf8(text)?)?),
            _ => {
                return Err(PgError::new(
                    SqlState::INVALID_BINARY_REPRESENTATION,
                    "unsupported jsonb version number",
                ))
            }
        },
        DataType::Varchar(_) | DataType::Bpchar(_) | DataType::Name => {
            Value::Text(fit_length(validate_utf8(bytes)?, ty, false)?)
        }
        DataType::Array(elem) => recv_array(bytes, elem)?,
        DataType::Int2Vector => recv_array(bytes, &DataType::Int2)?,
        DataType::OidVector => recv_array(bytes, &DataType::Oid)?,
        DataType::Void => Value::Null,
        DataType::Record => {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "binary input of anonymous composite types is not implemented",
            ))
        }
    })
}

fn recv_array(bytes: &[u8], elem: &DataType) -> PgResult<Value> {
    let mut r = Reader::new(bytes);
    let ndim = r.get_i32()?;
    let _has_nulls = r.get_i32()?;
    let _elem_oid = r.get_i32()?;
    if !(0..=6).contains(&ndim) {
        return Err(PgError::new(
            SqlState::INVALID_BINARY_REPRESENTATION,
            format!("invalid number of dimensions: {ndim}"),
        ));
    }
    let mut dims = Vec::new();
    for _ in 0..ndim {
        let len = r.get_i32()?;
        let _lbound = r.get_i32()?;
        if len < 0 {
            return Err(bad_format());
        }
        dims.push(len as usize);
    }
    if ndim == 0 {
        return Ok(Value::Array(Vec::new()));
    }
    let v = recv_level(&mut r, &dims, elem)?;
    if !r.is_empty() {
        return Err(bad_format());
    }
    Ok(v)
}

fn recv_level(r: &mut Reader, dims: &[usize], elem: &DataType) -> PgResult<Value> {
    let mut items = Vec::with_capacity(dims[0].min(1 << 16));
    for _ in 0..dims[0] {
        if dims.len() > 1 {
            items.push(recv_level(r, &dims[1..], elem)?);
            continue;
        }
        items.push(match r.get_i32_prefixed()? {
            None => Value::Null,
            Some(b) => binary_in(b, elem)?,
        });
    }
    Ok(Value::Array(items))
}

/// Binary output (`typsend`) of `value` as type `ty`; NULL writes nothing (the
/// caller writes length -1).
pub fn binary_out(value: &Value, ty: &DataType, out: &mut Vec<u8>) {
    if value.is_null() {
        return;
    }
    let coerced;
    let value = if matches_type(value, ty) {
        value
    } else {
        match cast(value.clone(), ty) {
            Ok(v) => {
                coerced = v;
                &coerced
            }
            Err(_) => {
                let mut s = String::new();
                text_out(value, &mut s);
                out.extend_from_slice(s.as_bytes());
                return;
            }
        }
    };
    match (value, ty) {
        (Value::Bool(b), _) => out.put_u8(*b as u8),
        (Value::Int2(v), _) => out.put_i16(*v),
        (Value::Int4(v), _) => out.put_i32(*v),
        (Value::Int8(v), _) => out.put_i64(*v),
        (Value::Float4(v), _) => out.put_f32(*v),
        (Value::Float8(v), _) => out.put_f64(*v),
        (Value::Numeric(d), _) => numeric::send(d, out),
        (Value::NumericSpecial(_), _) => numeric::send_datum(value, out),
        (Value::Text(s), DataType::Uuid) => match crate::io_text::parse_uuid(s) {
            Ok(b) => out.extend_from_slice(&b),
            Err(_) => out.extend_from_slice(s.as_bytes()),
        },
        (Value::Text(s), DataType::Jsonb) => {
            out.put_u8(1);
            out.extend_from_slice(s.as_bytes());
        }
        (Value::Text(s), _) => out.extend_from_slice(s.as_bytes()),
        (Value::Enum(_, label), _) => out.extend_from_slice(label.as_bytes()),
        (Value::Bytea(b), _) => out.extend_from_slice(b),
        (Value::Date(d), _) => out.put_i32(*d),
        (Value::Timestamp(t), _) | (Value::TimestampTz(t), _) | (Value::Time(t), _) => {
            out.put_i64(*t)
        }
        (Value::Interval(m, d, u), _) => {
            out.put_i64(*u);
            out.put_i32(*d);
            out.put_i32(*m);
        }
        (Value::Oid(o), _) | (Value::Xid(o), _) => out.put_u32(*o),
        (Value::PgLsn(l), _) => out.put_u64(l.0),
        (Value::Char(c), _) => out.put_u8(*c),
        (Value::Array(items), DataType::Array(elem)) => send_array(items, elem, out),
        (Value::Array(items), _) => send_array(items, &DataType::Text, out),
        (Value::Record(fields), _) => send_record(fields, out),
        (Value::Null, _) => {}
    }
}

/// Whether `value`'s variant already is the representation of `ty`.
fn matches_type(value: &Value, ty: &DataType) -> bool {
    matches!(
        (value, ty),
        (Value::Bool(_), DataType::Bool)
            | (Value::Int2(_), DataType::Int2)
            | (Value::Int4(_), DataType::Int4)
            | (Value::Int8(_), DataType::Int8)
            | (Value::Float4(_), DataType::Float4)
            | (Value::Float8(_), DataType::Float8)
            | (
                Value::Numeric(_) | Value::NumericSpecial(_),
                DataType::Numeric(_)
            )
            | (
                Value::Text(_),
                DataType::Text
                    | DataType::Varchar(_)
                    | DataType::Bpchar(_)
                    | DataType::Name
                    | DataType::Json
                    | DataType::Jsonb
                    | DataType::Uuid
                    | DataType::Unknown
            )
            | (Value::Bytea(_), DataType::Bytea)
            | (Value::Enum(..), DataType::Enum(_))
            | (Value::Date(_), DataType::Date)
            | (Value::Timestamp(_), DataType::Timestamp)
            | (Value::TimestampTz(_), DataType::TimestampTz)
            | (Value::Interval(..), DataType::Interval)
            | (
                Value::Oid(_),
                DataType::Oid
                    | DataType::RegClass
                    | DataType::RegType
                    | DataType::RegProc
                    | DataType::RegNamespace
            )
            | (Value::Xid(_), DataType::Xid)
            | (Value::PgLsn(_), DataType::PgLsn)
            | (Value::Char(_), DataType::Char)
            | (Value::Array(_), DataType::Array(_))
            | (Value::Record(_), DataType::Record)
    )
}

fn array_dims(items: &[Value], dims: &mut Vec<i32>) {
    dims.push(items.len() as i32);
    if let Some(Value::Array(inner)) = items.first() {
        array_dims(inner, dims);
    }
}

fn send_elements(items: &[Value], elem: &DataType, out: &mut Vec<u8>) {
    for item in items {
        match item {
            Value::Null => out.put_i32(-1),
            Value::Array(inner) => send_elements(inner, elem, out),
            v => put_i32_sized(out, |out| binary_out(v, elem, out)),
        }
    }
}

fn has_nulls(items: &[Value]) -> bool {
    items.iter().any(|v| match v {
        Value::Null => true,
        Value::Array(inner) => has_nulls(inner),
        _ => false,
    })
}

fn send_array(items: &[Value], elem: &DataType, out: &mut Vec<u8>) {
    let elem_oid = elem.oid();
    if items.is_empty() {
        out.put_i32(0);
        out.put_i32(0);
        out.put_u32(elem_oid);
        return;
    }
    let mut dims = Vec::new();
    array_dims(items, &mut dims);
    out.put_i32(dims.len() as i32);
    out.put_i32(has_nulls(items) as i32);
    out.put_u32(elem_oid);
    for d in dims {
        out.put_i32(d);
        out.put_i32(1);
    }
    send_elements(items, elem, out);
}

fn send_record(fields: &[Value], out: &mut Vec<u8>) {
    out.put_i32(fields.len() as i32);
    for f in fields {
        let ty = value_type(f);
        let oid = if f.is_null() {
            DataType::Text.oid()
        } else {
            ty.oid()
        };
        out.put_u32(oid);
        if f.is_null() {
            out.put_i32(-1);
            continue;
        }
        put_i32_sized(out, |out| binary_out(f, &ty, out));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io_text::text_in;

    fn send(v: &Value, ty: &DataType) -> Vec<u8> {
        let mut o = Vec::new();
        binary_out(v, ty, &mut o);
        o
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Each expectation is PostgreSQL's `*send()` output (captured from PostgreSQL 15).
    #[test]
    fn send_matches_postgres() {
        let cases: &[(&str, DataType, &str)] = &[
            ("t", DataType::Bool, "01"),
            ("-2", DataType::Int2, "fffe"),
            ("305419896", DataType::Int4, "12345678"),
            ("-1", DataType::Int8, "ffffffffffffffff"),
            ("1.5", DataType::Float4, "3fc00000"),
            ("1.5", DataType::Float8, "3ff8000000000000"),
            ("héllo", DataType::Text, "68c3a96c6c6f"),
            ("\\x0102", DataType::Bytea, "0102"),
            ("2026-11-21", DataType::Date, "0000265d"),
            (
                "2000-01-02 00:00:00",
                DataType::Timestamp,
                "000000141dd76000",
            ),
            (
                "2000-01-01 00:00:01+00",
                DataType::TimestampTz,
                "00000000000f4240",
            ),
            (
                "1 mon 2 days 00:00:03",
                DataType::Interval,
                "00000000002dc6c00000000200000001",
            ),
            ("16384", DataType::Oid, "00004000"),
            ("1/16B3748", DataType::PgLsn, "00000001016b3748"),
            (
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                DataType::Uuid,
                "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            ),
            ("1.50", DataType::Numeric(None), "000200000000000200011388"),
            (
                "{1,NULL}",
                DataType::Array(Box::new(DataType::Int4)),
                "00000001000000010000001700000002000000010000000400000001ffffffff",
            ),
            (
                "{}",
                DataType::Array(Box::new(DataType::Text)),
                "0000000000000000",
            ),
        ];
        for (text, ty, want) in cases {
            let v = text_in(text, ty).unwrap();
            let got = send(&v, ty);
            let want = if *text == "{}" {
                format!("{want}00000019")
            } else {
                want.to_string()
            };
            assert_eq!(hex(&got), want, "{text} as {ty:?}");
            assert_eq!(binary_in(&got, ty).unwrap(), v, "{text} round trip");
        }
    }

    #[test]
    fn two_dimensional_arrays_round_trip() {
        let ty = DataType::Array(Box::new(DataType::Int8));
        let v = text_in("{{1,2},{3,4}}", &ty).unwrap();
        let b = send(&v, &ty);
        assert_eq!(&b[..4], &2i32.to_be_bytes());
        assert_eq!(binary_in(&b, &ty).unwrap(), v);
    }

    #[test]
    fn values_are_coerced_to_the_column_type() {
        assert_eq!(
            send(&Value::Int4(7), &DataType::Int8),
            7i64.to_be_bytes().to_vec()
        );
        assert_eq!(
            send(&Value::Int2(7), &DataType::Float8),
            7f64.to_be_bytes().to_vec()
        );
    }

    #[test]
    fn bad_input_is_rejected() {
        assert_eq!(
            binary_in(&[0, 1], &DataType::Int4).unwrap_err().code.0,
            "08P01"
        );
        assert_eq!(
            binary_in(&[0, 0, 0, 0, 1], &DataType::Int4)
                .unwrap_err()
                .code
                .0,
            "22P03"
        );
        let e = binary_in(b"\xc3\x28", &DataType::Text).unwrap_err();
        assert_eq!(
            e.message,
            "invalid byte sequence for encoding \"UTF8\": 0xc3 0x28"
        );
        assert_eq!(
            binary_in(b"abcd", &DataType::Varchar(Some(3)))
                .unwrap_err()
                .code
                .0,
            "22001"
        );
    }

    #[test]
    fn records_carry_column_oids() {
        let r = Value::Record(vec![Value::Int4(1), Value::Null]);
        let b = send(&r, &DataType::Record);
        assert_eq!(
            hex(&b),
            "00000002000000170000000400000001".to_string() + "00000019ffffffff"
        );
    }
}
