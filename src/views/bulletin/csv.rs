//! The bulletin as CSV: UTF-8 with a byte-order mark so Excel opens the
//! Chinese intact, CRLF line ends, one section per table (its title line,
//! its header, its rows) with an empty line between sections.

use super::tables::{Table, tables};
use crate::domain::report::MonthlyReport;

const BOM: &[u8] = b"\xEF\xBB\xBF";

pub fn csv(report: &MonthlyReport) -> Result<Vec<u8>, csv::Error> {
    let mut out = BOM.to_vec();
    for (i, table) in tables(report).iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        section(&mut out, table)?;
    }
    Ok(out)
}

fn section(out: &mut Vec<u8>, table: &Table) -> Result<(), csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    writer.write_record([table.title.as_str()])?;
    writer.write_record(&table.header)?;
    for row in &table.rows {
        writer.write_record(row.iter().map(|cell| cell.text()))?;
    }
    writer.flush()?;
    Ok(())
}
