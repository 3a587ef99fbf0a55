//! Name resolution: the columns a query level can see, and the stack of levels
//! (outer queries, LATERAL left sides) a column reference may reach.
//!
//! A [`Level`] is one query's FROM clause as bound so far. Looking a name up walks
//! from the innermost level outwards; a hit `d` levels out becomes
//! `Expr::Outer { depth: d, .. }` and marks every level it crossed as correlated.
//! Errors are PostgreSQL's: `42703 column "x" does not exist`, `42702 column
//! reference "x" is ambiguous`, `42P01 missing FROM-clause entry for table "t"`.
//!
//! Corresponds to PostgreSQL's `parser/parse_relation.c` (colNameToVar,
//! refnameNamespaceItem) and `parse_expr.c` (transformColumnRef).

use tandem_types::{DataType, Oid, PgError, PgResult, SqlState};

use crate::plan::{AggCall, Expr, SrfCall, WindowCall};

/// A column visible in a FROM clause.
#[derive(Clone, Debug)]
pub struct ScopeColumn {
    /// The range-table alias (`t` in `FROM x AS t`), if any.
    pub table: Option<String>,
    pub name: String,
    pub ty: DataType,
    pub table_oid: Oid,
    pub attnum: i16,
    /// Right-hand column of `JOIN ... USING` (or a dropped column, whose name then
    /// starts with NUL): reachable qualified only.
    pub using_hidden: bool,
}

/// One query level.
#[derive(Debug, Default)]
pub struct Level {
    pub columns: Vec<ScopeColumn>,
    /// Aliases of the FROM items (also those without columns).
    pub tables: Vec<String>,
    /// A reference crossed this level to an outer one.
    pub correlated: bool,
    /// Aggregates collected while binding this level's target list/HAVING/ORDER BY.
    pub aggs: Vec<AggCall>,
    pub agg_types: Vec<DataType>,
    /// Where aggregates are not allowed right now (`WHERE`, `GROUP BY`, ...).
    pub agg_forbidden: Option<&'static str>,
    /// Set while binding an aggregate's arguments (nested aggregates are errors).
    pub in_agg: bool,
    /// Set-returning functions of this level's target list, with a key that
    /// dedupes identical calls (they would run in lockstep anyway).
    pub srfs: Vec<(SrfCall, String)>,
    /// Set-returning functions are allowed right now (target list, ORDER BY).
    pub srf_allowed: bool,
    /// The clause being bound when that is where SRFs are not allowed (`HAVING`,
    /// `RETURNING`) and `agg_forbidden` does not name it.
    pub srf_clause: Option<&'static str>,
    /// Window function calls of this level's target list and ORDER BY.
    pub windows: Vec<WindowCall>,
    /// Set while binding a window call's arguments and window.
    pub in_window: bool,
    /// `WINDOW name AS (...)` definitions of this level's SELECT.
    pub named_windows: Vec<(String, sqlparser::ast::WindowSpec)>,
}

impl Level {
    pub fn new() -> Level {
        Level::default()
    }
}

/// A resolved column.
pub struct Resolved {
    pub expr: Expr,
    pub ty: DataType,
    pub table_oid: Oid,
    pub attnum: i16,
}

/// Finds `qualifier.name` (or `name`) in `levels`, innermost last.
pub fn resolve(levels: &mut [Level], qualifier: Option<&str>, name: &str) -> PgResult<Resolved> {
    let top = levels.len();
    for idx in (0..top).rev() {
        let level = &levels[idx];
        let mut found: Option<usize> = None;
        for (i, c) in level.columns.iter().enumerate() {
            let hit = match qualifier {
                Some(q) => c.table.as_deref() == Some(q) && c.name == name,
                None => !c.using_hidden && c.name == name,
            };
            if hit {
                if found.is_some() {
                    return Err(PgError::new(
                        SqlState::AMBIGUOUS_COLUMN,
                        format!("column reference \"{name}\" is ambiguous"),
                    ));
                }
                found = Some(i);
            }
        }
        if let Some(i) = found {
            let c = &level.columns[i];
            let depth = top - 1 - idx;
            let expr = if depth == 0 {
                Expr::Column(i)
            } else {
                Expr::Outer { depth, index: i }
            };
            let r = Resolved {
                expr,
                ty: c.ty.clone(),
                table_oid: c.table_oid,
                attnum: c.attnum,
            };
            for l in levels.iter_mut().skip(idx + 1) {
                l.correlated = true;
            }
            return Ok(r);
        }
        if let Some(q) = qualifier {
            if level.tables.iter().any(|t| t == q) {
                return Err(with_column_hint(
                    PgError::new(
                        SqlState::UNDEFINED_COLUMN,
                        format!("column {q}.{name} does not exist"),
                    ),
                    levels,
                    qualifier,
                    name,
                ));
            }
        }
    }
    Err(match qualifier {
        Some(q) => PgError::new(
            SqlState::UNDEFINED_TABLE,
            format!("missing FROM-clause entry for table \"{q}\""),
        ),
        None => with_column_hint(
            PgError::new(
                SqlState::UNDEFINED_COLUMN,
                format!("column \"{name}\" does not exist"),
            ),
            levels,
            None,
            name,
        ),
    })
}

/// The most a column name may be off by for a hint to name it.
const MAX_FUZZY_DISTANCE: usize = 3;

/// A column-not-found error with PostgreSQL's hint: the visible column
/// (of any level, a qualifier's table alias counting towards the distance)
/// closest to `name` by edit distance, or the two equally close ones,
/// provided fewer than half of the name's characters differ
/// (`errorMissingColumn`'s search, `searchRangeTableForCol`).
pub(crate) fn with_column_hint(
    e: PgError,
    levels: &[Level],
    qualifier: Option<&str>,
    name: &str,
) -> PgError {
    let mut best = MAX_FUZZY_DISTANCE + 1;
    let mut first: Option<(&str, &str)> = None;
    let mut second: Option<(&str, &str)> = None;
    for level in levels.iter().rev() {
        for c in &level.columns {
            let Some(table) = c.table.as_deref() else {
                continue;
            };
            if c.name.is_empty() || c.name.starts_with('\0') {
                continue;
            }
            let penalty = qualifier.map_or(0, |q| levenshtein(q, table));
            if penalty > best {
                continue;
            }
            let d = levenshtein(&c.name, name);
            if d > name.len() / 2 {
                continue;
            }
            let d = d + penalty;
            if d < best {
                best = d;
                first = Some((table, &c.name));
                second = None;
            } else if d == best {
                if second.is_some() {
                    // too many at this distance: a closer one may still do
                    best = d - 1;
                    first = None;
                    second = None;
                } else if first.is_some() {
                    second = Some((table, &c.name));
                }
            }
        }
    }
    match (first, second) {
        (Some((t, c)), None) => e.with_hint(format!(
            "Perhaps you meant to reference the column \"{t}.{c}\"."
        )),
        (Some((t1, c1)), Some((t2, c2))) => e.with_hint(format!(
            "Perhaps you meant to reference the column \"{t1}.{c1}\" or the column \"{t2}.{c2}\"."
        )),
        _ => e,
    }
}

/// Edit distance (insertions, deletions and substitutions cost one each)
/// between two names, by character.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = (diag + usize::from(ca != *cb)).min(up + 1).min(row[j] + 1);
            diag = up;
        }
    }
    row[b.len()]
}

/// Columns `*` (or `t.*`) expands to in the innermost level, as (index, column).
pub fn wildcard(level: &Level, qualifier: Option<&str>) -> PgResult<Vec<(usize, ScopeColumn)>> {
    if let Some(q) = qualifier {
        if !level.tables.iter().any(|t| t == q) {
            return Err(PgError::new(
                SqlState::UNDEFINED_TABLE,
                format!("missing FROM-clause entry for table \"{q}\""),
            ));
        }
    }
    Ok(level
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| match qualifier {
            Some(q) => c.table.as_deref() == Some(q) && !c.name.starts_with('\0'),
            None => !c.using_hidden,
        })
        .map(|(i, c)| (i, c.clone()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(t: &str, n: &str) -> ScopeColumn {
        ScopeColumn {
            table: Some(t.into()),
            name: n.into(),
            ty: DataType::Int4,
            table_oid: Oid(0),
            attnum: 0,
            using_hidden: false,
        }
    }

    fn levels() -> Vec<Level> {
        let mut outer = Level::new();
        outer.tables = vec!["o".into()];
        outer.columns = vec![col("o", "id"), col("o", "x")];
        let mut inner = Level::new();
        inner.tables = vec!["a".into(), "b".into()];
        inner.columns = vec![col("a", "id"), col("b", "id"), col("b", "y")];
        vec![outer, inner]
    }

    #[test]
    fn ambiguous_and_missing_columns_use_postgres_errors() {
        let mut l = levels();
        let e = resolve(&mut l, None, "id").err().unwrap();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                SqlState::AMBIGUOUS_COLUMN,
                "column reference \"id\" is ambiguous"
            )
        );
        let e = resolve(&mut l, None, "nope").err().unwrap();
        assert_eq!(
            (e.code, e.message.as_str()),
            (SqlState::UNDEFINED_COLUMN, "column \"nope\" does not exist")
        );
        let e = resolve(&mut l, Some("a"), "y").err().unwrap();
        assert_eq!(e.message, "column a.y does not exist");
        let e = resolve(&mut l, Some("z"), "y").err().unwrap();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                SqlState::UNDEFINED_TABLE,
                "missing FROM-clause entry for table \"z\""
            )
        );
    }

    #[test]
    fn outer_references_mark_correlation() {
        let mut l = levels();
        let r = resolve(&mut l, Some("b"), "id").ok().unwrap();
        assert!(matches!(r.expr, Expr::Column(1)));
        assert!(!l[1].correlated);
        let r = resolve(&mut l, None, "x").ok().unwrap();
        assert!(matches!(r.expr, Expr::Outer { depth: 1, index: 1 }));
        assert!(l[1].correlated);
    }
}
