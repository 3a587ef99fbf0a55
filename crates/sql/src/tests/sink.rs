//! An in-memory `QuerySink` recording every message as a readable line.

use tandem_types::{DataType, PgResult, Value};

use crate::{FieldDescription, QuerySink};

#[derive(Default)]
pub(crate) struct MemSink {
    pub log: Vec<String>,
    /// CopyData chunks to hand out for COPY FROM STDIN.
    pub copy_in: Vec<Vec<u8>>,
    pub copy_out: Vec<u8>,
}

impl QuerySink for MemSink {
    fn row_description(&mut self, fields: &[FieldDescription]) -> PgResult<()> {
        let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
        self.log.push(format!("T {}", names.join(",")));
        Ok(())
    }
    fn data_row(&mut self, row: &[Value], _types: &[DataType], _formats: &[i16]) -> PgResult<()> {
        let cells: Vec<String> = row
            .iter()
            .map(|v| {
                if v.is_null() {
                    "NULL".to_string()
                } else {
                    let mut s = String::new();
                    tandem_expr::text_out(v, &mut s);
                    s
                }
            })
            .collect();
        self.log.push(format!("D {}", cells.join("|")));
        Ok(())
    }
    fn command_complete(&mut self, tag: &str) -> PgResult<()> {
        self.log.push(format!("C {tag}"));
        Ok(())
    }
    fn empty_query(&mut self) -> PgResult<()> {
        self.log.push("I".into());
        Ok(())
    }
    fn no_data(&mut self) -> PgResult<()> {
        self.log.push("n".into());
        Ok(())
    }
    fn parameter_description(&mut self, types: &[DataType]) -> PgResult<()> {
        let t: Vec<String> = types.iter().map(|t| t.oid().to_string()).collect();
        self.log.push(format!("t {}", t.join(",")));
        Ok(())
    }
    fn notice(&mut self, notice: &tandem_types::PgError) -> PgResult<()> {
        self.log.push(format!(
            "N {} {} {}",
            notice.severity.as_str(),
            notice.code.code(),
            notice.message
        ));
        Ok(())
    }
    fn parameter_status(&mut self, name: &str, value: &str) -> PgResult<()> {
        self.log.push(format!("S {name}={value}"));
        Ok(())
    }
    fn copy_in_response(&mut self, ncols: usize) -> PgResult<()> {
        self.log.push(format!("G {ncols}"));
        Ok(())
    }
    fn copy_in_read(&mut self) -> PgResult<Option<Vec<u8>>> {
        if self.copy_in.is_empty() {
            Ok(None)
        } else {
            Ok(Some(self.copy_in.remove(0)))
        }
    }
    fn copy_out_response(&mut self, ncols: usize) -> PgResult<()> {
        self.log.push(format!("H {ncols}"));
        Ok(())
    }
    fn copy_out_data(&mut self, data: &[u8]) -> PgResult<()> {
        self.copy_out.extend_from_slice(data);
        Ok(())
    }
    fn copy_out_done(&mut self) -> PgResult<()> {
        self.log.push("c".into());
        Ok(())
    }
}
