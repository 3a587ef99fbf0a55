//! `EXPLAIN`: a plan as the lines of PostgreSQL's text format without costs
//! (`EXPLAIN (COSTS OFF)`): one line per node with PostgreSQL's node names
//! (`Seq Scan on t`, `Index Scan using t_a_idx on t`, `Hash Join`, ...),
//! children under `->`. Conditions are not printed: the plan is there to
//! tell how rows are found, above all whether an index is used.

use tandem_storage::Catalog;
use tandem_types::Oid;

use crate::plan::{JoinKind, Node, SetOpKind};
use crate::table_functions::TableFunc;
use crate::{Body, Plan};

/// The lines of `EXPLAIN` for `plan`.
pub fn explain(plan: &Plan, cat: &Catalog) -> Vec<String> {
    let mut out = Vec::new();
    let table = |oid: Oid| {
        cat.tables
            .get(&oid)
            .map_or_else(|| oid.to_string(), |t| t.name.clone())
    };
    match &plan.body {
        Body::Query(n) => node(n, cat, 0, &mut out),
        Body::Insert(p) => {
            line(&mut out, 0, format!("Insert on {}", p.table.name));
            node(&p.source, cat, 1, &mut out);
        }
        Body::Update(p) => {
            line(&mut out, 0, format!("Update on {}", table(p.table.oid)));
            dml_source(&p.scan, p.from.as_ref().map(|f| &f.node), cat, &mut out);
        }
        Body::Delete(p) => {
            line(&mut out, 0, format!("Delete on {}", table(p.table.oid)));
            dml_source(&p.scan, p.from.as_ref().map(|f| &f.node), cat, &mut out);
        }
    }
    out
}

/// An UPDATE's or DELETE's target scan, joined to its FROM / USING rows.
fn dml_source(scan: &Node, from: Option<&Node>, cat: &Catalog, out: &mut Vec<String>) {
    match from {
        Some(f) => {
            line(out, 1, "Nested Loop".into());
            node(scan, cat, 2, out);
            node(f, cat, 2, out);
        }
        None => node(scan, cat, 1, out),
    }
}

fn line(out: &mut Vec<String>, depth: usize, text: String) {
    if depth == 0 {
        out.push(text);
    } else {
        out.push(format!("{}->  {text}", " ".repeat(2 + (depth - 1) * 6)));
    }
}

fn node(n: &Node, cat: &Catalog, depth: usize, out: &mut Vec<String>) {
    let table = |oid: &Oid| {
        cat.tables
            .get(oid)
            .map_or_else(|| oid.to_string(), |t| t.name.clone())
    };
    let mut children: Vec<&Node> = Vec::new();
    let text = match n {
        Node::Values { rows } if rows.len() == 1 => "Result".to_string(),
        Node::Values { .. } => "Values Scan on \"*VALUES*\"".to_string(),
        Node::SeqScan { table: t, .. } => format!("Seq Scan on {}", table(t)),
        Node::PkLookup { table: t, .. } => {
            let pk = cat
                .tables
                .get(t)
                .and_then(|d| d.primary_key.as_ref())
                .map_or("?", |pk| pk.name.as_str());
            format!("Index Scan using {pk} on {}", table(t))
        }
        Node::IndexScan {
            table: t, index, ..
        } => {
            let name = match cat.indexes.get(index) {
                Some(i) => i.name.as_str(),
                // the table's own primary key
                None => cat
                    .tables
                    .get(index)
                    .and_then(|d| d.primary_key.as_ref())
                    .map_or("?", |pk| pk.name.as_str()),
            };
            format!("Index Scan using {name} on {}", table(t))
        }
        Node::Virtual { name, .. } => format!("Seq Scan on {name}"),
        Node::TableFunc { func, .. } => format!("Function Scan on {}", func_name(func)),
        // a filter or a projection is part of the node below it
        Node::Filter { input, .. } | Node::Project { input, .. } => {
            return node(input, cat, depth, out)
        }
        Node::Join {
            left,
            right,
            kind,
            equi,
            ..
        } => {
            children.push(left);
            children.push(right);
            let kind = match kind {
                JoinKind::Inner => "Join",
                JoinKind::Left => "Left Join",
                JoinKind::Right => "Right Join",
                JoinKind::Full => "Full Join",
            };
            match (equi.is_empty(), kind) {
                (false, _) => format!("Hash {kind}"),
                (true, "Join") => "Nested Loop".to_string(),
                (true, kind) => format!("Nested Loop {kind}"),
            }
        }
        Node::Aggregate { input, groups, .. } => {
            children.push(input);
            match groups.is_empty() {
                true => "Aggregate".to_string(),
                false => "HashAggregate".to_string(),
            }
        }
        Node::Sort { input, .. } => {
            children.push(input);
            "Sort".to_string()
        }
        Node::Distinct { input, .. } => {
            children.push(input);
            "Unique".to_string()
        }
        Node::Limit { input, .. } => {
            children.push(input);
            "Limit".to_string()
        }
        Node::SetOp {
            left,
            right,
            op,
            all,
        } => {
            children.push(left);
            children.push(right);
            match (op, all) {
                (SetOpKind::Union, true) => "Append".to_string(),
                (SetOpKind::Union, false) => "HashAggregate".to_string(),
                (SetOpKind::Intersect, _) => "HashSetOp Intersect".to_string(),
                (SetOpKind::Except, _) => "HashSetOp Except".to_string(),
            }
        }
        Node::ProjectSet { input, .. } => {
            children.push(input);
            "ProjectSet".to_string()
        }
        Node::Window { input, .. } => {
            children.push(input);
            "WindowAgg".to_string()
        }
        Node::RecursiveUnion { base, step, .. } => {
            children.push(base);
            children.push(step);
            "Recursive Union".to_string()
        }
        Node::WorkTable { .. } => "WorkTable Scan".to_string(),
        Node::LockRows { input, .. } => {
            children.push(input);
            "LockRows".to_string()
        }
    };
    line(out, depth, text);
    for c in children {
        node(c, cat, depth + 1, out);
    }
}

fn func_name(f: &TableFunc) -> String {
    match f {
        TableFunc::SeriesInt(_) | TableFunc::SeriesNumeric | TableFunc::SeriesTimestamp(_) => {
            "generate_series".to_string()
        }
        TableFunc::Unnest => "unnest".to_string(),
        TableFunc::Subscripts(_) => "generate_subscripts".to_string(),
        TableFunc::Json(name) => name.to_string(),
        TableFunc::PartitionAncestors => "pg_partition_ancestors".to_string(),
        TableFunc::ListeningChannels => "pg_listening_channels".to_string(),
        TableFunc::Scalar(sig) | TableFunc::Composite(sig, _) => sig.name.clone(),
    }
}
