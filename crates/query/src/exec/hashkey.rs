//! Hashable row keys for hash joins, GROUP BY, DISTINCT and set operations.
//!
//! Equality is SQL equality as `tandem_expr::compare` defines it (so `1::int4`
//! equals `1::int8` and `1.0::numeric`); hashing is made consistent with it by
//! hashing every exact integral number as an `i64`. NULLs are equal to each other
//! here (grouping semantics); joins skip NULL keys before hashing.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use rust_decimal::prelude::ToPrimitive;
use tandem_types::Value;

#[derive(Clone, Debug)]
pub struct HashKey(pub Vec<Value>);

fn hash_value<H: Hasher>(v: &Value, h: &mut H) {
    match v {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => b.hash(h),
        Value::Int2(i) => hash_int(*i as i64, h),
        Value::Int4(i) => hash_int(*i as i64, h),
        Value::Int8(i) => hash_int(*i, h),
        Value::Oid(o) => hash_int(*o as i64, h),
        Value::Numeric(d) => {
            if d.fract().is_zero() {
                if let Some(i) = d.to_i64() {
                    return hash_int(i, h);
                }
            }
            d.normalize().to_string().hash(h)
        }
        // as the float it equals
        Value::NumericSpecial(s) => hash_float(s.to_f64(), h),
        Value::Float4(f) => hash_float(*f as f64, h),
        Value::Float8(f) => hash_float(*f, h),
        Value::Text(s) => s.trim_end_matches(' ').hash(h),
        Value::Array(items) | Value::Record(items) => {
            items.len().hash(h);
            for i in items {
                hash_value(i, h);
            }
        }
        other => format!("{other:?}").hash(h),
    }
}

fn hash_int<H: Hasher>(i: i64, h: &mut H) {
    1u8.hash(h);
    i.hash(h);
}

fn hash_float<H: Hasher>(f: f64, h: &mut H) {
    if f.fract() == 0.0 && f.abs() < 9.0e18 {
        return hash_int(f as i64, h);
    }
    2u8.hash(h);
    if f.is_nan() {
        u64::MAX.hash(h)
    } else {
        f.to_bits().hash(h)
    }
}

/// SQL equality with NULL = NULL.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        _ => tandem_expr::compare(a, b) == Ordering::Equal,
    }
}

impl Hash for HashKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for v in &self.0 {
            hash_value(v, state);
        }
    }
}

impl PartialEq for HashKey {
    fn eq(&self, other: &HashKey) -> bool {
        self.0.len() == other.0.len()
            && self.0.iter().zip(&other.0).all(|(a, b)| values_equal(a, b))
    }
}

impl Eq for HashKey {}
