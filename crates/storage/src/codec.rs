//! Compact binary encoding shared by WAL payloads, the checkpoint file and the
//! control file: little-endian integers, length-prefixed byte strings, and one tag
//! byte per [`Value`] / [`DataType`] variant.
//!
//! Nothing here knows about records or files; [`crate::record`] and
//! [`crate::checkpoint`] build their layouts from these primitives. Decoding never
//! panics: truncated or malformed input is `XX001 invalid ... data`.
//! (PostgreSQL has no single counterpart; this plays the role of its
//! `pq_sendint`/`pq_getmsgint` helpers for our own formats.)

use rust_decimal::Decimal;
use std::sync::Arc;
use tandem_types::bytes_io::{BufMut, PutBytes};

use tandem_types::{
    ByteReader, DataType, EnumLabel, EnumType, Lsn, NumericSpecial, Oid, PgError, PgResult,
    SqlState, Value, Xid,
};

/// Appends encoded values to a byte vector.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer { buf: Vec::new() }
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.put_u8(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.buf.put_u16_le(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.put_u32_le(v);
    }
    pub fn i32(&mut self, v: i32) {
        self.buf.put_i32_le(v);
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.put_u64_le(v);
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.put_i64_le(v);
    }
    pub fn bool(&mut self, v: bool) {
        self.u8(v as u8);
    }
    pub fn lsn(&mut self, v: Lsn) {
        self.u64(v.0);
    }
    pub fn oid(&mut self, v: Oid) {
        self.u32(v.0);
    }
    pub fn xid(&mut self, v: Xid) {
        self.u32(v.0);
    }
    pub fn bytes(&mut self, v: &[u8]) {
        self.buf.put_u32_le_prefixed(v);
    }
    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
    pub fn opt_str(&mut self, v: Option<&str>) {
        match v {
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
            None => self.u8(0),
        }
    }

    /// One datum: a tag byte, then the variant's fields.
    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.u8(0),
            Value::Bool(b) => {
                self.u8(1);
                self.bool(*b);
            }
            Value::Int2(i) => {
                self.u8(2);
                self.buf.put_i16_le(*i);
            }
            Value::Int4(i) => {
                self.u8(3);
                self.i32(*i);
            }
            Value::Int8(i) => {
                self.u8(4);
                self.i64(*i);
            }
            Value::Float4(f) => {
                self.u8(5);
                self.u32(f.to_bits());
            }
            Value::Float8(f) => {
                self.u8(6);
                self.u64(f.to_bits());
            }
            Value::Numeric(d) => {
                self.u8(7);
                self.buf.put_slice(&d.serialize());
            }
            Value::Text(s) => {
                self.u8(8);
                self.str(s);
            }
            Value::Bytea(b) => {
                self.u8(9);
                self.bytes(b);
            }
            Value::Date(d) => {
                self.u8(10);
                self.i32(*d);
            }
            Value::Timestamp(t) => {
                self.u8(11);
                self.i64(*t);
            }
            Value::TimestampTz(t) => {
                self.u8(12);
                self.i64(*t);
            }
            Value::Interval(m, d, us) => {
                self.u8(13);
                self.i32(*m);
                self.i32(*d);
                self.i64(*us);
            }
            Value::Oid(o) => {
                self.u8(14);
                self.u32(*o);
            }
            Value::Xid(x) => {
                self.u8(15);
                self.u32(*x);
            }
            Value::PgLsn(l) => {
                self.u8(16);
                self.lsn(*l);
            }
            Value::Char(c) => {
                self.u8(17);
                self.u8(*c);
            }
            Value::Array(items) => {
                self.u8(18);
                self.values(items);
            }
            Value::Record(items) => {
                self.u8(19);
                self.values(items);
            }
            Value::Time(t) => {
                self.u8(20);
                self.i64(*t);
            }
            Value::Enum(sort, label) => {
                self.u8(21);
                self.u32(sort.to_bits());
                self.str(label);
            }
            Value::NumericSpecial(s) => {
                self.u8(22);
                self.u8(match s {
                    NumericSpecial::NegInfinity => 0,
                    NumericSpecial::Infinity => 1,
                    NumericSpecial::NaN => 2,
                });
            }
        }
    }

    /// A row or list: count, then each value.
    pub fn values(&mut self, vs: &[Value]) {
        self.u32(vs.len() as u32);
        for v in vs {
            self.value(v);
        }
    }

    pub fn opt_value(&mut self, v: Option<&Value>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.value(v);
            }
            None => self.u8(0),
        }
    }

    /// An enum type's `pg_type` fields and labels.
    pub fn enum_type(&mut self, t: &EnumType) {
        self.u32(t.oid);
        self.u32(t.array_oid);
        // outside `public`, "schema NUL name" (no name holds a NUL)
        match t.schema.as_str() {
            "public" => self.str(&t.name),
            s => self.str(&format!("{s}\0{}", t.name)),
        }
        self.u32(t.owner);
        self.u32(t.labels.len() as u32);
        for l in &t.labels {
            self.u32(l.oid);
            self.u32(l.sort_order.to_bits());
            self.str(&l.name);
        }
    }

    pub fn data_type(&mut self, t: &DataType) {
        let opt = |w: &mut Writer, n: &Option<u32>| match n {
            Some(n) => {
                w.u8(1);
                w.u32(*n);
            }
            None => w.u8(0),
        };
        match t {
            DataType::Bool => self.u8(1),
            DataType::Int2 => self.u8(2),
            DataType::Int4 => self.u8(3),
            DataType::Int8 => self.u8(4),
            DataType::Float4 => self.u8(5),
            DataType::Float8 => self.u8(6),
            DataType::Numeric(ps) => {
                self.u8(7);
                match ps {
                    Some((p, s)) => {
                        self.u8(1);
                        self.u32(*p);
                        self.u32(*s);
                    }
                    None => self.u8(0),
                }
            }
            DataType::Text => self.u8(8),
            DataType::Varchar(n) => {
                self.u8(9);
                opt(self, n);
            }
            DataType::Bpchar(n) => {
                self.u8(10);
                opt(self, n);
            }
            DataType::Name => self.u8(11),
            DataType::Bytea => self.u8(12),
            DataType::Date => self.u8(13),
            DataType::Timestamp => self.u8(14),
            DataType::TimestampTz => self.u8(15),
            DataType::Interval => self.u8(16),
            DataType::Oid => self.u8(17),
            DataType::Xid => self.u8(18),
            DataType::PgLsn => self.u8(19),
            DataType::Char => self.u8(20),
            DataType::Json => self.u8(21),
            DataType::Jsonb => self.u8(31),
            DataType::Int2Vector => self.u8(32),
            DataType::OidVector => self.u8(33),
            DataType::Uuid => self.u8(22),
            DataType::RegClass => self.u8(23),
            DataType::RegType => self.u8(24),
            DataType::RegProc => self.u8(25),
            DataType::RegNamespace => self.u8(30),
            DataType::Array(e) => {
                self.u8(26);
                self.data_type(e);
            }
            DataType::Unknown => self.u8(27),
            DataType::Void => self.u8(28),
            DataType::Record => self.u8(29),
            DataType::Time => self.u8(34),
            DataType::Enum(t) => {
                self.u8(35);
                self.enum_type(t);
            }
        }
    }
}

/// Reads what [`Writer`] wrote. `what` names the structure for error messages.
pub struct Reader<'a> {
    r: ByteReader<'a>,
    what: &'static str,
}

/// `XX001 invalid <what> data`: the bytes do not decode.
pub fn corrupt(what: &str) -> PgError {
    PgError::new(SqlState::DATA_CORRUPTED, format!("invalid {what} data"))
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader {
            r: ByteReader::new(buf),
            what,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.r.is_empty()
    }
    pub fn position(&self) -> usize {
        self.r.position()
    }
    pub fn u8(&mut self) -> PgResult<u8> {
        self.r.get_u8().map_err(|_| corrupt(self.what))
    }
    pub fn u16(&mut self) -> PgResult<u16> {
        self.r.get_u16_le().map_err(|_| corrupt(self.what))
    }
    pub fn u32(&mut self) -> PgResult<u32> {
        self.r.get_u32_le().map_err(|_| corrupt(self.what))
    }
    pub fn i32(&mut self) -> PgResult<i32> {
        self.r.get_i32_le().map_err(|_| corrupt(self.what))
    }
    pub fn u64(&mut self) -> PgResult<u64> {
        self.r.get_u64_le().map_err(|_| corrupt(self.what))
    }
    pub fn i64(&mut self) -> PgResult<i64> {
        self.r.get_i64_le().map_err(|_| corrupt(self.what))
    }
    pub fn bool(&mut self) -> PgResult<bool> {
        Ok(self.u8()? != 0)
    }
    pub fn lsn(&mut self) -> PgResult<Lsn> {
        Ok(Lsn(self.u64()?))
    }
    pub fn oid(&mut self) -> PgResult<Oid> {
        Ok(Oid(self.u32()?))
    }
    pub fn xid(&mut self) -> PgResult<Xid> {
        Ok(Xid(self.u32()?))
    }
    pub fn bytes(&mut self) -> PgResult<&'a [u8]> {
        self.r.get_u32_le_prefixed().map_err(|_| corrupt(self.what))
    }
    pub fn string(&mut self) -> PgResult<String> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| corrupt(self.what))
    }
    pub fn opt_string(&mut self) -> PgResult<Option<String>> {
        Ok(if self.bool()? {
            Some(self.string()?)
        } else {
            None
        })
    }

    pub fn value(&mut self) -> PgResult<Value> {
        Ok(match self.u8()? {
            0 => Value::Null,
            1 => Value::Bool(self.bool()?),
            2 => Value::Int2(self.r.get_i16_le().map_err(|_| corrupt(self.what))?),
            3 => Value::Int4(self.i32()?),
            4 => Value::Int8(self.i64()?),
            5 => Value::Float4(f32::from_bits(self.u32()?)),
            6 => Value::Float8(f64::from_bits(self.u64()?)),
            7 => Value::Numeric(Decimal::deserialize(
                self.r.get_array().map_err(|_| corrupt(self.what))?,
            )),
            8 => Value::Text(self.string()?),
            9 => Value::Bytea(self.bytes()?.to_vec()),
            10 => Value::Date(self.i32()?),
            11 => Value::Timestamp(self.i64()?),
            12 => Value::TimestampTz(self.i64()?),
            13 => Value::Interval(self.i32()?, self.i32()?, self.i64()?),
            14 => Value::Oid(self.u32()?),
            15 => Value::Xid(self.u32()?),
            16 => Value::PgLsn(self.lsn()?),
            17 => Value::Char(self.u8()?),
            18 => Value::Array(self.values()?),
            19 => Value::Record(self.values()?),
            20 => Value::Time(self.i64()?),
            21 => Value::Enum(f32::from_bits(self.u32()?), self.string()?.into()),
            22 => Value::NumericSpecial(match self.u8()? {
                0 => NumericSpecial::NegInfinity,
                1 => NumericSpecial::Infinity,
                2 => NumericSpecial::NaN,
                _ => return Err(corrupt(self.what)),
            }),
            _ => return Err(corrupt(self.what)),
        })
    }

    pub fn values(&mut self) -> PgResult<Vec<Value>> {
        let mut out = Vec::new();
        self.values_into(&mut out)?;
        Ok(out)
    }

    /// [`Reader::values`] appended to `out` (a buffer kept from row to row).
    pub fn values_into(&mut self, out: &mut Vec<Value>) -> PgResult<()> {
        let n = self.u32()? as usize;
        // Each value takes at least one byte: refuse counts the input cannot hold.
        if n > self.r.remaining() {
            return Err(corrupt(self.what));
        }
        out.reserve(n);
        for _ in 0..n {
            out.push(self.value()?);
        }
        Ok(())
    }

    pub fn opt_value(&mut self) -> PgResult<Option<Value>> {
        Ok(if self.bool()? {
            Some(self.value()?)
        } else {
            None
        })
    }

    pub fn enum_type(&mut self) -> PgResult<EnumType> {
        let oid = self.u32()?;
        let array_oid = self.u32()?;
        let written = self.string()?;
        let (schema, name) = match written.split_once('\0') {
            Some((s, n)) => (s.to_string(), n.to_string()),
            None => ("public".to_string(), written),
        };
        let owner = self.u32()?;
        let n = self.u32()? as usize;
        if n > self.r.remaining() {
            return Err(corrupt(self.what));
        }
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            labels.push(EnumLabel {
                oid: self.u32()?,
                sort_order: f32::from_bits(self.u32()?),
                name: self.string()?,
            });
        }
        Ok(EnumType {
            oid,
            array_oid,
            schema,
            name,
            owner,
            labels,
        })
    }

    pub fn data_type(&mut self) -> PgResult<DataType> {
        let opt = |r: &mut Reader<'a>| -> PgResult<Option<u32>> {
            Ok(if r.bool()? { Some(r.u32()?) } else { None })
        };
        Ok(match self.u8()? {
            1 => DataType::Bool,
            2 => DataType::Int2,
            3 => DataType::Int4,
            4 => DataType::Int8,
            5 => DataType::Float4,
            6 => DataType::Float8,
            7 => DataType::Numeric(if self.bool()? {
                Some((self.u32()?, self.u32()?))
            } else {
                None
            }),
            8 => DataType::Text,
            9 => DataType::Varchar(opt(self)?),
            10 => DataType::Bpchar(opt(self)?),
            11 => DataType::Name,
            12 => DataType::Bytea,
            13 => DataType::Date,
            14 => DataType::Timestamp,
            15 => DataType::TimestampTz,
            16 => DataType::Interval,
            17 => DataType::Oid,
            18 => DataType::Xid,
            19 => DataType::PgLsn,
            20 => DataType::Char,
            21 => DataType::Json,
            31 => DataType::Jsonb,
            32 => DataType::Int2Vector,
            33 => DataType::OidVector,
            22 => DataType::Uuid,
            23 => DataType::RegClass,
            24 => DataType::RegType,
            25 => DataType::RegProc,
            30 => DataType::RegNamespace,
            26 => DataType::Array(Box::new(self.data_type()?)),
            27 => DataType::Unknown,
            28 => DataType::Void,
            29 => DataType::Record,
            34 => DataType::Time,
            35 => DataType::Enum(Arc::new(self.enum_type()?)),
            _ => return Err(corrupt(self.what)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn values_round_trip() {
        let vals = vec![
            Value::Null,
            Value::Bool(true),
            Value::Int2(-3),
            Value::Int4(7),
            Value::Int8(i64::MIN),
            Value::Float4(1.5),
            Value::Float8(-0.25),
            Value::Numeric(Decimal::from_str("-12.3400").unwrap()),
            Value::Text("héllo".into()),
            Value::Bytea(vec![0, 1, 255]),
            Value::Date(-5),
            Value::Timestamp(123),
            Value::TimestampTz(-123),
            Value::Interval(1, 2, 3),
            Value::Oid(16384),
            Value::Xid(740),
            Value::PgLsn(Lsn(0x16B3748)),
            Value::Char(b'r'),
            Value::Array(vec![Value::Int4(1), Value::Null]),
            Value::Record(vec![Value::Text("x".into())]),
        ];
        let mut w = Writer::new();
        w.values(&vals);
        let mut r = Reader::new(&w.buf, "test");
        assert_eq!(r.values().unwrap(), vals);
        assert!(r.is_empty());
        // Truncation is an error, never a panic.
        for cut in 0..w.buf.len() {
            assert!(Reader::new(&w.buf[..cut], "test").values().is_err());
        }
    }

    #[test]
    fn data_types_round_trip() {
        let types = vec![
            DataType::Numeric(Some((10, 2))),
            DataType::Varchar(Some(20)),
            DataType::Bpchar(None),
            DataType::Array(Box::new(DataType::Int8)),
            DataType::TimestampTz,
        ];
        let mut w = Writer::new();
        for t in &types {
            w.data_type(t);
        }
        let mut r = Reader::new(&w.buf, "test");
        for t in &types {
            assert_eq!(&r.data_type().unwrap(), t);
        }
    }
}
