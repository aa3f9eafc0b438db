//! The README's curl walk-through (scripts/walkthrough.sh) run against the real
//! binary: bootstrap an admin from the command line, serve, walk the whole flow.

mod common;

use std::process::Command;

use common::process::Gateway;

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![(
        "ODR_DATABASE_URL".to_string(),
        "sqlite://walk.db?mode=rwc".to_string(),
    )];
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
}
