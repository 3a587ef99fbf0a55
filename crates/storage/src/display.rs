//! Text of values inside error DETAILs (`Key (id)=(1) already exists.`,
//! `Failing row contains (1, null).`), following PostgreSQL's output functions for
//! the types that appear in keys. The full output functions live in `tandem-expr`;
//! storage sits below it, so it keeps this small copy of the common cases.
//! (PostgreSQL: `BuildIndexValueDescription` in `genam.c`, `ExecBuildSlotValueDescription`.)

use tandem_types::Value;

/// Civil date from days since 2000-01-01 (proleptic Gregorian).
fn civil(days_since_2000: i64) -> (i64, u32, u32) {
    let z = days_since_2000 + 10957 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn date_text(days: i64) -> String {
    let (y, m, d) = civil(days);
    if y <= 0 {
        format!("{:04}-{m:02}-{d:02} BC", 1 - y)
    } else {
        format!("{y:04}-{m:02}-{d:02}")
    }
}

fn timestamp_text(us: i64) -> String {
    let days = us.div_euclid(86_400_000_000);
    let rest = us.rem_euclid(86_400_000_000);
    let (h, mi, s, frac) = (
        rest / 3_600_000_000,
        rest / 60_000_000 % 60,
        rest / 1_000_000 % 60,
        rest % 1_000_000,
    );
    let mut out = format!("{} {h:02}:{mi:02}:{s:02}", date_text(days));
    if frac != 0 {
        let f = format!("{frac:06}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out
}

/// One value as PostgreSQL prints it (`null` for NULL, as in DETAIL lines).
pub fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => if *b { "t" } else { "f" }.into(),
        Value::Int2(i) => i.to_string(),
        Value::Int4(i) => i.to_string(),
        Value::Int8(i) => i.to_string(),
        Value::Float4(f) => f.to_string(),
        Value::Float8(f) => f.to_string(),
        Value::Numeric(d) => d.to_string(),
        Value::Text(s) => s.clone(),
        Value::Enum(_, l) => l.to_string(),
        Value::NumericSpecial(s) => s.text().into(),
        Value::Bytea(b) => {
            let mut s = String::from("\\x");
            for byte in b {
                s.push_str(&format!("{byte:02x}"));
            }
            s
        }
        Value::Date(d) => date_text(*d as i64),
        Value::Time(t) => timestamp_text(*t)
            .split_once(' ')
            .map(|(_, time)| time.to_string())
            .unwrap_or_default(),
        Value::Timestamp(t) => timestamp_text(*t),
        Value::TimestampTz(t) => format!("{}+00", timestamp_text(*t)),
        Value::Interval(m, d, us) => format!("{m} mons {d} days {us} us"),
        Value::Oid(o) => o.to_string(),
        Value::Xid(x) => x.to_string(),
        Value::PgLsn(l) => l.to_string(),
        Value::Char(c) => (*c as char).to_string(),
        Value::Array(items) => format!(
            "{{{}}}",
            items.iter().map(value_text).collect::<Vec<_>>().join(",")
        ),
        Value::Record(items) => format!(
            "({})",
            items.iter().map(value_text).collect::<Vec<_>>().join(",")
        ),
    }
}

/// `v1, v2, ...` as inside `Key (a, b)=(1, 2)` and `Failing row contains (...)`.
pub fn values_text<'a>(vals: impl IntoIterator<Item = &'a Value>) -> String {
    vals.into_iter()
        .map(value_text)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_timestamps_print_like_postgres() {
        assert_eq!(value_text(&Value::Date(0)), "2000-01-01");
        assert_eq!(value_text(&Value::Date(-1)), "1999-12-31");
        assert_eq!(value_text(&Value::Date(9186)), "2025-02-24");
        assert_eq!(
            value_text(&Value::Timestamp(86_400_000_000 + 3_723_500_000)),
            "2000-01-02 01:02:03.5"
        );
        assert_eq!(
            values_text(&[Value::Int4(1), Value::Null, Value::Bool(true)]),
            "1, null, t"
        );
    }
}
