//! The bulletin as an XLSX workbook: one sheet per table, the title above a
//! bold header, counts and amounts as numbers, rates as percentages, column
//! widths fitted to the widest cell.

use rust_xlsxwriter::{Format, FormatBorder, Workbook, Worksheet, XlsxError};

use super::tables::{Cell, Table, tables};
use crate::domain::report::MonthlyReport;

/// The row of the header; the title is above it and the data below.
const HEADER_ROW: u32 = 1;

struct Formats {
    title: Format,
    header: Format,
    rate: Format,
    money: Format,
    hours: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            title: Format::new().set_bold().set_font_size(13),
            header: Format::new()
                .set_bold()
                .set_background_color("D9E1F2")
                .set_border(FormatBorder::Thin),
            rate: Format::new().set_num_format("0.00%"),
            money: Format::new().set_num_format("#,##0.00"),
            hours: Format::new().set_num_format("0.00"),
        }
    }
}

pub fn xlsx(report: &MonthlyReport) -> Result<Vec<u8>, XlsxError> {
    let formats = Formats::new();
    let mut workbook = Workbook::new();
    for table in tables(report) {
        let sheet = workbook.add_worksheet();
        sheet.set_name(table.sheet)?;
        write_table(sheet, &table, &formats)?;
    }
    workbook.save_to_buffer()
}

fn write_table(sheet: &mut Worksheet, table: &Table, f: &Formats) -> Result<(), XlsxError> {
    sheet.write_string_with_format(0, 0, &table.title, &f.title)?;
    let mut widths: Vec<usize> = table.header.iter().map(|h| display_width(h)).collect();
    for (col, name) in table.header.iter().enumerate() {
        sheet.write_string_with_format(HEADER_ROW, column(col)?, *name, &f.header)?;
    }
    for (i, row) in table.rows.iter().enumerate() {
        let r = HEADER_ROW + 1 + u32::try_from(i).map_err(|_| XlsxError::RowColumnLimitError)?;
        let total = table.total_row && i + 1 == table.rows.len();
        for (col, cell) in row.iter().enumerate() {
            let c = column(col)?;
            write_cell(sheet, r, c, cell, f, total)?;
            if let Some(width) = widths.get_mut(col) {
                *width = (*width).max(display_width(&cell.text()));
            }
        }
    }
    for (col, width) in widths.iter().enumerate() {
        // A little room beside the widest cell; Excel's unit is a character.
        sheet.set_column_width(column(col)?, (*width + 2).min(60) as f64)?;
    }
    sheet.set_freeze_panes(HEADER_ROW + 1, 0)?;
    Ok(())
}

fn write_cell(
    sheet: &mut Worksheet,
    row: u32,
    col: u16,
    cell: &Cell,
    f: &Formats,
    total: bool,
) -> Result<(), XlsxError> {
    let bold = |format: &Format| {
        if total {
            format.clone().set_bold()
        } else {
            format.clone()
        }
    };
    match cell {
        Cell::Count(n) => {
            sheet.write_number_with_format(row, col, *n as f64, &bold(&Format::new()))
        }
        Cell::Rate(Some(rate)) => {
            sheet.write_number_with_format(row, col, fraction(*rate), &bold(&f.rate))
        }
        Cell::Money(cents) => {
            sheet.write_number_with_format(row, col, *cents as f64 / 100.0, &bold(&f.money))
        }
        Cell::Hours(Some(hours)) => {
            sheet.write_number_with_format(row, col, *hours, &bold(&f.hours))
        }
        Cell::Rate(None) | Cell::Hours(None) => Ok(sheet),
        Cell::Text(_) | Cell::Time(_) => {
            sheet.write_string_with_format(row, col, cell.text(), &bold(&Format::new()))
        }
    }
    .map(|_| ())
}

/// 66.67 (percent, two decimals) as the fraction 0.6667, without the float
/// noise a plain division leaves (0.6667000000000001).
fn fraction(percent: f64) -> f64 {
    (percent * 100.0).round() / 10_000.0
}

fn column(index: usize) -> Result<u16, XlsxError> {
    u16::try_from(index).map_err(|_| XlsxError::RowColumnLimitError)
}

/// Columns as Excel counts them: a CJK character takes two.
fn display_width(text: &str) -> usize {
    text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}
