//! How resources look on the wire — in API answers and in webhook bodies.
//! Times are RFC 3339 in Beijing time.

use chrono::{DateTime, Utc};
use entity::{
    audit_entry, complaint, delivery_attempt, event, extension, followup, handler, outbox, partner,
    proposal, station, user,
};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::domain::deadlines::{self, Deadlines};

pub mod bulletin;

pub use crate::clock::beijing as time;

fn opt_time(t: &Option<DateTime<Utc>>) -> Value {
    t.as_ref().map(|t| json!(time(t))).unwrap_or(Value::Null)
}

/// The complaint as `viewer` may read it: a handler sees the consumer's phone
/// only once it has acknowledged the case.
pub fn complaint(c: &complaint::Model, viewer: &Principal) -> Value {
    let phone_visible =
        !matches!(viewer, Principal::Handler { .. }) || c.phone_disclosed_at.is_some();
    let mut view = json!({
        "id": c.id,
        "external_ref": c.external_ref,
        "channel": c.channel,
        "status": c.status,
        "handler_id": c.handler_id,
        "station_code": c.station_code,
        "consumer": {
            "name": c.consumer_name,
            "phone": if phone_visible { json!(c.consumer_phone) } else { Value::Null },
        },
        "merchant": {"credit_code": c.merchant_credit_code, "name": c.merchant_name},
        "category": c.category,
        "problem": c.problem,
        "description": c.description,
        "demand": c.demand,
        "amount_cents": c.amount_cents,
        "consents": c.consents,
        "occurred_at": time(&c.occurred_at),
        "dispatched_at": time(&c.dispatched_at),
        "received_at": opt_time(&c.received_at),
        "deadlines": c.deadlines,
        "escalation_reason": c.escalation_reason,
        "escalated_at": opt_time(&c.escalated_at),
        "assignee_id": c.assignee_id,
        "outcome": c.outcome,
        "created_at": time(&c.created_at),
        "updated_at": time(&c.updated_at),
    });
    if matches!(viewer, Principal::Staff { .. } | Principal::Admin { .. }) {
        view["overdue"] = json!(c.station_overdue);
        view["station_deadline"] = station_deadline(c);
    }
    view
}

/// The station clock a queue item shows: the first one missed (超期), else
/// the next one to end.
fn station_deadline(c: &complaint::Model) -> Value {
    let Ok(clocks) = serde_json::from_value::<Deadlines>(c.deadlines.clone()) else {
        return Value::Null;
    };
    match deadlines::station_focus(&clocks) {
        Some((clock, d)) => json!({ "name": clock, "due": d.due, "state": d.state }),
        None => Value::Null,
    }
}

pub fn extension(e: &extension::Model) -> Value {
    json!({
        "id": e.id,
        "complaint_id": e.complaint_id,
        "working_days": e.working_days,
        "reason": e.reason,
        "status": e.status,
        "requested_at": time(&e.requested_at),
        "decided_at": opt_time(&e.decided_at),
        "decided_by": e.decided_by,
        "note": e.decision_note,
    })
}

pub fn event(e: &event::Model) -> Value {
    json!({
        "seq": e.seq,
        "at": time(&e.at),
        "actor": {"kind": e.actor_kind, "id": e.actor_id},
        "kind": e.kind,
        "from_status": e.from_status,
        "to_status": e.to_status,
        "payload": e.payload,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    })
}

pub fn handler(h: &handler::Model) -> Value {
    json!({
        "id": h.id,
        "kind": h.kind,
        "name": h.name,
        "credit_code": h.credit_code,
        "station_code": h.station_code,
        "delivery": h.delivery,
        "webhook_url": h.webhook_url,
        "covers": h.covers,
        "delivery_rate_per_second": h.delivery_rate_per_second,
        "status": h.status,
        "created_at": time(&h.created_at),
        "updated_at": time(&h.updated_at),
    })
}

pub fn partner(p: &partner::Model) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "rate_per_second": p.rate_per_second,
        "burst": p.burst,
        "callback_url": p.callback_url,
        "status": p.status,
        "created_at": time(&p.created_at),
    })
}

pub fn user(u: &user::Model) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "role": u.role,
        "station_code": u.station_code,
        "created_at": time(&u.created_at),
    })
}

pub fn proposal(p: &proposal::Model) -> Value {
    json!({
        "id": p.id,
        "complaint_id": p.complaint_id,
        "remedy": p.remedy,
        "amount_cents": p.amount_cents,
        "note": p.note,
        "status": p.status,
        "created_at": time(&p.created_at),
    })
}

/// Stations as a forest: each with its `children`.
pub fn station_tree(all: &[station::Model]) -> Value {
    fn node(s: &station::Model, all: &[station::Model]) -> Value {
        let children: Vec<Value> = all
            .iter()
            .filter(|c| c.parent_code.as_deref() == Some(s.code.as_str()))
            .map(|c| node(c, all))
            .collect();
        json!({
            "code": s.code,
            "name": s.name,
            "parent_code": s.parent_code,
            "children": children,
        })
    }
    let known = |code: &str| all.iter().any(|s| s.code == code);
    let roots: Vec<Value> = all
        .iter()
        .filter(|s| s.parent_code.as_deref().is_none_or(|p| !known(p)))
        .map(|s| node(s, all))
        .collect();
    json!({ "items": roots })
}

pub fn station(s: &station::Model) -> Value {
    json!({
        "code": s.code,
        "name": s.name,
        "parent_code": s.parent_code,
        "children": [],
    })
}

pub fn audit_entry(e: &audit_entry::Model) -> Value {
    json!({
        "id": e.id,
        "at": time(&e.at),
        "actor": {"kind": e.actor_kind, "id": e.actor_id},
        "action": e.action,
        "target": {"kind": e.target_kind, "id": e.target_id},
        "detail": e.detail,
    })
}

/// An outbox event as the operator sees it.
pub fn delivery_event(o: &outbox::Model) -> Value {
    json!({
        "webhook_id": o.webhook_id,
        "complaint_id": o.complaint_id,
        "target": {"kind": o.target_kind, "id": o.target_id},
        "type": o.event_type,
        "status": o.status,
        "attempts": o.attempts,
        "next_attempt_at": time(&o.next_attempt_at),
        "last_error": o.last_error,
        "created_at": time(&o.created_at),
        "delivered_at": o.delivered_at.as_ref().map(time),
    })
}

/// One attempt at delivering an outbox event.
pub fn delivery_attempt(a: &delivery_attempt::Model) -> Value {
    json!({
        "id": a.id,
        "outbox_id": a.outbox_id,
        "complaint_id": a.complaint_id,
        "target": {"kind": a.target_kind, "id": a.target_id},
        "attempted_at": time(&a.attempted_at),
        "status_code": a.status_code,
        "latency_ms": a.latency_ms,
        "error": a.error,
    })
}

/// A follow-up with the complaint it visits, as the staff member may read it
/// (the consumer's contact details are what the visit needs).
pub fn followup(f: &followup::Model, case: Option<&complaint::Model>, viewer: &Principal) -> Value {
    json!({
        "id": f.id,
        "complaint_id": f.complaint_id,
        "month": f.month,
        "station_code": f.station_code,
        "status": f.status,
        "satisfaction": f.satisfaction,
        "note": f.note,
        "answered_at": opt_time(&f.answered_at),
        "answered_by": f.answered_by,
        "created_at": time(&f.created_at),
        "complaint": case.map(|c| complaint(c, viewer)),
    })
}
