//! The README's curl walk-through (scripts/walkthrough.sh) run against the real
//! binary: bootstrap an admin from the command line, serve, walk the whole flow.

mod common;

use std::process::Command;

use common::process::Gateway;

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(String, String)> = [
        ("ODR_DATABASE_URL", "sqlite://walk.db?mode=rwc"),
        ("ODR_CLOCK", "manual"),
        ("ODR_CLOCK_START", "2026-09-29T10:00:00+08:00"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Gateway::run(
        dir.path(),
        &env,
        &[
            "admin",
            "create-user",
            "--username",
            "admin",
            "--password",
            "change-me-now",
            "--role",
            "admin",
        ],
    );
    let gateway = Gateway::serve(dir.path(), &env);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/walkthrough.sh");
    let walk = Command::new("bash")
        .arg(script)
        .env("GW", gateway.base())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&walk.stdout);
    assert!(
        walk.status.success(),
        "walk-through failed:\n{out}\n{}",
        String::from_utf8_lossy(&walk.stderr)
    );
    assert!(out.contains("\"reported_by\": \"consumer\""), "{out}");
    assert!(out.contains("\"result\": \"mediated\""), "{out}");
    assert!(out.contains("staff close accepted -> closed"), "{out}");
    assert!(out.contains("\"deadline_actions\": 1"), "{out}");
    assert!(
        out.contains("\"escalation_reason\": \"ack_overdue\""),
        "{out}"
    );
}
