//! Identifier and position newtypes: `Lsn`, `TimeLineId`, `Xid`, `Oid`.
//!
//! An `Lsn` is a byte position in the one endless WAL stream of a cluster. It prints
//! as PostgreSQL prints `pg_lsn`: high 32 bits and low 32 bits in upper-case hex,
//! separated by `/`, without leading zeros (`0/16B3748`).

use std::fmt;
use std::str::FromStr;

/// A WAL position (log sequence number). `Lsn::INVALID` (0) means "none".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl Lsn {
    pub const INVALID: Lsn = Lsn(0);

    pub fn is_valid(self) -> bool {
        self.0 != 0
    }

    /// The position `n` bytes further on.
    pub fn advance(self, n: u64) -> Lsn {
        Lsn(self.0 + n)
    }

    /// Bytes from `other` to `self` (negative if `other` is ahead), as `pg_wal_lsn_diff`.
    pub fn diff(self, other: Lsn) -> i128 {
        self.0 as i128 - other.0 as i128
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// Error for text that is not an LSN; callers turn it into PostgreSQL's
/// `invalid input syntax for type pg_lsn: "..."`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsnParseError;

impl FromStr for Lsn {
    type Err = LsnParseError;

    /// Parses `X/Y` where X and Y are 1 to 8 hex digits, as PostgreSQL's `pg_lsn_in`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (hi, lo) = s.split_once('/').ok_or(LsnParseError)?;
        let ok =
            |p: &str| !p.is_empty() && p.len() <= 8 && p.bytes().all(|b| b.is_ascii_hexdigit());
        if !ok(hi) || !ok(lo) {
            return Err(LsnParseError);
        }
        let hi = u64::from_str_radix(hi, 16).map_err(|_| LsnParseError)?;
        let lo = u64::from_str_radix(lo, 16).map_err(|_| LsnParseError)?;
        Ok(Lsn((hi << 32) | lo))
    }
}

/// A timeline: incremented by each promotion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeLineId(pub u32);

impl fmt::Display for TimeLineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A transaction id, assigned at a transaction's first write. 0 is invalid; the first
/// normal xid is 3 as in PostgreSQL (we start counting higher, see storage).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Xid(pub u32);

impl Xid {
    pub const INVALID: Xid = Xid(0);

    pub fn is_valid(self) -> bool {
        self.0 != 0
    }
}

impl fmt::Display for Xid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An object identifier (tables, types, roles, databases, ...).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Oid(pub u32);

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_prints_and_parses_like_postgres() {
        assert_eq!(Lsn(0x16B3748).to_string(), "0/16B3748");
        assert_eq!(Lsn(0x1_0000_0000).to_string(), "1/0");
        assert_eq!("0/16B3748".parse::<Lsn>(), Ok(Lsn(0x16B3748)));
        assert_eq!("16/b374d848".parse::<Lsn>(), Ok(Lsn(0x16_B374_D848)));
        assert!("0/".parse::<Lsn>().is_err());
        assert!("G/0".parse::<Lsn>().is_err());
        assert!("123456789/0".parse::<Lsn>().is_err());
    }
}
