//! The monthly report (SPEC §8) on the wire: JSON for programs, and the
//! bulletin's own tables as CSV and XLSX for the people who publish them.

pub mod csv;
pub mod tables;
pub mod xlsx;

use serde_json::{Map, Value, json};

use crate::domain::report::{HandlerRow, MonthlyReport, ReceiveDelay, StationCounts};
use crate::views::time;

/// The counters of a station row or the total, in the order of the bulletin.
fn counters(c: &StationCounts) -> Map<String, Value> {
    let value = json!({
        "received": c.received,
        "accepted": c.accepted,
        "not_accepted": c.not_accepted,
        "initial_feedback": c.initial_feedback,
        "closing_feedback": c.closing_feedback,
        "completed": c.completed(),
        "completion_rate": c.completion_rate(),
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn overdue(c: &StationCounts) -> Value {
    json!({
        "decision": c.decision_overdue,
        "initial_feedback": c.initial_feedback_overdue,
        "closing_feedback": c.closing_overdue,
    })
}

fn handler(h: &HandlerRow) -> Value {
    json!({
        "id": h.id,
        "name": h.name,
        "kind": h.kind,
        "station_code": h.station_code,
        "forwarded": h.forwarded,
        "acknowledged_on_time": h.acknowledged_on_time,
        "ack_on_time_rate": h.ack_on_time_rate(),
        "settled": h.settled,
        "settlement_rate": h.settlement_rate(),
        "escalated": h.escalated,
        "median_hours_to_settle": h.median_hours_to_settle,
        "recovered_cents": h.recovered_cents,
    })
}

fn receive_delay(d: &ReceiveDelay) -> Value {
    json!({
        "complaint_id": d.complaint_id,
        "unit": d.unit,
        "handler_id": d.handler_id,
        "dispatched_at": time(&d.dispatched_at),
        "received_at": time(&d.received_at),
    })
}

/// The JSON shape of SPEC §8, with the rates, the follow-up answers and the
/// money recovered beside the tables.
pub fn json(report: &MonthlyReport) -> Value {
    let total = report.total();
    let stations: Vec<Value> = report
        .stations
        .iter()
        .map(|row| {
            let mut map = Map::new();
            map.insert("code".into(), json!(row.code));
            map.insert("name".into(), json!(row.name));
            map.extend(counters(&row.counts));
            Value::Object(map)
        })
        .collect();
    let mut overdue_total = overdue(&total);
    overdue_total["stations"] = report
        .stations
        .iter()
        .map(|row| {
            let mut o = overdue(&row.counts);
            o["code"] = json!(row.code);
            o
        })
        .collect();
    let s = &report.satisfaction;
    json!({
        "month": report.month,
        "station": report.station_code,
        "station_name": report.station_name,
        "stations": stations,
        "total": Value::Object(counters(&total)),
        "rates": report.rates(),
        "handlers": report.handlers.iter().map(handler).collect::<Vec<_>>(),
        "receive_delays": report.receive_delays.iter().map(receive_delay).collect::<Vec<_>>(),
        "overdue": overdue_total,
        "followups": {
            "sampled": s.answered() + s.pending,
            "answered": s.answered(),
            "very_satisfied": s.very_satisfied,
            "satisfied": s.satisfied,
            "neutral": s.neutral,
            "dissatisfied": s.dissatisfied,
        },
        "recovered_cents": {
            "stations": total.recovered_cents,
            "handlers": report.handlers_recovered_cents(),
            "total": total.recovered_cents + report.handlers_recovered_cents(),
        },
    })
}

#[cfg(test)]
mod tests;
