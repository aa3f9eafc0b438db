//! The case file as a hash chain (一案一档, tamper-evident): each event's hash
//! covers its own fields and the previous event's hash, so editing, deleting or
//! reordering any stored event breaks every link after it.

use std::fmt::Write;

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The hash before a complaint's first event.
pub const GENESIS: &str = "";

/// The fields of one event that its hash covers.
pub struct Entry<'a> {
    pub complaint_id: &'a str,
    pub seq: i32,
    pub at: DateTime<Utc>,
    pub actor_kind: &'a str,
    pub actor_id: Option<&'a str>,
    pub kind: &'a str,
    pub from_status: Option<&'a str>,
    pub to_status: Option<&'a str>,
    pub payload: &'a Value,
}

/// The precision a stored event time keeps on every database (microseconds);
/// events are stored at this precision so their hash can be checked later.
pub fn stored_time(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// The hash of `entry` following `prev`, as lowercase hex.
pub fn link(prev: &str, entry: &Entry<'_>) -> String {
    let mut text = String::new();
    let fields = [
        prev,
        entry.complaint_id,
        &entry.seq.to_string(),
        &stored_time(entry.at).timestamp_micros().to_string(),
        entry.actor_kind,
        entry.actor_id.unwrap_or(""),
        entry.kind,
        entry.from_status.unwrap_or(""),
        entry.to_status.unwrap_or(""),
    ];
    for field in fields {
        // Length-prefixed, so no two different field lists read the same.
        let _ = write!(text, "{}:{};", field.len(), field);
    }
    canonical(entry.payload, &mut text);
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().fold(String::with_capacity(64), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// JSON with object keys sorted at every level: the same value always gives
/// the same text, whichever order a database hands its keys back in.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Where a stored chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub seq: i32,
    pub why: &'static str,
}

/// Checks one complaint's events, given in `seq` order with their stored
/// `prev_hash` and `hash`; answers the first broken link.
pub fn verify<'a>(
    events: impl IntoIterator<Item = (Entry<'a>, Option<&'a str>, Option<&'a str>)>,
) -> Result<Option<String>, Break> {
    let mut prev = GENESIS.to_string();
    let mut head = None;
    for (expected_seq, (entry, stored_prev, stored_hash)) in (1..).zip(events) {
        let seq = entry.seq;
        if seq != expected_seq {
            return Err(Break {
                seq,
                why: "an event is missing before this one",
            });
        }
        if stored_prev != Some(prev.as_str()) {
            return Err(Break {
                seq,
                why: "its previous-hash does not match the event before it",
            });
        }
        let hash = link(&prev, &entry);
        if stored_hash != Some(hash.as_str()) {
            return Err(Break {
                seq,
                why: "its contents do not match its hash",
            });
        }
        prev = hash;
        head = Some(prev.clone());
    }
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry<'a>(seq: i32, payload: &'a Value) -> Entry<'a> {
        Entry {
            complaint_id: "c1",
            seq,
            at: DateTime::parse_from_rfc3339("2026-03-02T09:00:00.123456789+08:00")
                .unwrap()
                .with_timezone(&Utc),
            actor_kind: "partner",
            actor_id: Some("p1"),
            kind: "intake",
            from_status: None,
            to_status: Some("routed"),
            payload,
        }
    }

    #[test]
    fn key_order_does_not_change_the_hash_but_content_does() {
        let a = json!({"b": 1, "a": {"y": [1, {"k": "值", "j": null}], "x": true}});
        let b: Value =
            serde_json::from_str(r#"{"a":{"x":true,"y":[1,{"j":null,"k":"值"}]},"b":1}"#).unwrap();
        assert_eq!(link(GENESIS, &entry(1, &a)), link(GENESIS, &entry(1, &b)));
        let c = json!({"b": 2, "a": {"y": [1, {"k": "值", "j": null}], "x": true}});
        assert_ne!(link(GENESIS, &entry(1, &a)), link(GENESIS, &entry(1, &c)));
        assert_ne!(link("x", &entry(1, &a)), link(GENESIS, &entry(1, &a)));
        assert_eq!(link(GENESIS, &entry(1, &a)).len(), 64);
    }

    #[test]
    fn a_chain_verifies_until_a_link_is_changed() {
        let payloads = [json!({"n": 1}), json!({"n": 2}), json!({"n": 3})];
        let mut stored = Vec::new();
        let mut prev = GENESIS.to_string();
        for (i, p) in payloads.iter().enumerate() {
            let hash = link(&prev, &entry(i as i32 + 1, p));
            stored.push((prev.clone(), hash.clone()));
            prev = hash;
        }
        let check = |payloads: &[Value], stored: &[(String, String)]| {
            verify(
                payloads
                    .iter()
                    .zip(stored)
                    .enumerate()
                    .map(|(i, (p, (prev, hash)))| {
                        (
                            entry(i as i32 + 1, p),
                            Some(prev.as_str()),
                            Some(hash.as_str()),
                        )
                    }),
            )
        };
        assert_eq!(check(&payloads, &stored), Ok(Some(prev.clone())));
        let mut edited = payloads.clone();
        edited[1] = json!({"n": 20});
        assert_eq!(check(&edited, &stored).unwrap_err().seq, 2);
        let mut relinked = stored.clone();
        relinked[2].0 = "forged".into();
        assert_eq!(check(&payloads, &relinked).unwrap_err().seq, 3);
    }
}
