//! CommandComplete tags, spelled as PostgreSQL spells them (`tcop/cmdtag.c`,
//! `include/tcop/cmdtaglist.h`): `INSERT 0 n` (the 0 is the historical OID),
//! `UPDATE n`, `DELETE n`, `SELECT n`, `COPY n`, and bare tags for the rest.

use tandem_query::CommandKind;

/// The tag of a planned statement that processed `rows` rows.
pub(crate) fn plan_tag(kind: CommandKind, rows: u64) -> String {
    match kind {
        CommandKind::Select => format!("SELECT {rows}"),
        CommandKind::Insert => format!("INSERT 0 {rows}"),
        CommandKind::Update => format!("UPDATE {rows}"),
        CommandKind::Delete => format!("DELETE {rows}"),
    }
}

/// The command name used in `cannot execute X in a read-only transaction`.
pub(crate) fn plan_command_name(kind: CommandKind) -> &'static str {
    match kind {
        CommandKind::Select => "SELECT",
        CommandKind::Insert => "INSERT",
        CommandKind::Update => "UPDATE",
        CommandKind::Delete => "DELETE",
    }
}

pub(crate) fn copy_tag(rows: u64) -> String {
    format!("COPY {rows}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_as_postgres() {
        assert_eq!(plan_tag(CommandKind::Insert, 3), "INSERT 0 3");
        assert_eq!(plan_tag(CommandKind::Update, 0), "UPDATE 0");
        assert_eq!(plan_tag(CommandKind::Delete, 2), "DELETE 2");
        assert_eq!(plan_tag(CommandKind::Select, 1), "SELECT 1");
        assert_eq!(copy_tag(100000), "COPY 100000");
    }
}
