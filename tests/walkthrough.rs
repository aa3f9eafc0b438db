//! The README's "Five-minute walk-through", run exactly as written: its ```sh
//! blocks, in order, by bash, against the binary under test in a temporary
//! directory (its SQLite file lands there) on a free port. The README and this
//! test cannot drift apart.

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::process::free_address;

const README: &str = include_str!("../README.md");
const SECTION: &str = "## Five-minute walk-through";

/// The ```sh blocks of the walk-through section, in order.
fn walkthrough_blocks() -> Vec<String> {
    let start = README.find(SECTION).expect("README has the walk-through");
    let section = &README[start + SECTION.len()..];
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in section.lines() {
        match (&mut current, line.trim()) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(lines), "```") => {
                blocks.push(lines.join("\n"));
                current = None;
            }
            (Some(lines), _) => lines.push(line),
            (None, _) => {}
        }
    }
    blocks
}

/// The walk-through drives the gateway with these; the README lists them as
/// prerequisites of the test command.
fn require(tool: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "the README walk-through test needs `{tool}`, which is not installed \
         (see README.md, \"The two commands\"; e.g. `apt-get install {tool}`)"
    );
}

/// `cargo run --release -- ARGS` in the README, as the binary under test.
fn cargo_shim(bin: &Path) {
    let shim = bin.join("cargo");
    std::fs::write(
        &shim,
        "#!/bin/sh\n# cargo run [options] -- ARGS → the gateway under test\n\
         while [ $# -gt 0 ] && [ \"$1\" != -- ]; do shift; done\nshift\n\
         exec \"$ODR_GATEWAY_UNDER_TEST\" \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    for tool in ["bash", "curl", "jq"] {
        require(tool);
    }
    let blocks = walkthrough_blocks();
    assert_eq!(blocks.len(), 4, "the walk-through's sh blocks");
    let tmp = tempfile::tempdir().unwrap();
    let (bin, work) = (tmp.path().join("bin"), tmp.path().join("work"));
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    cargo_shim(&bin);
    // Stop on the first failing command, and stop the background gateway at the end.
    let script = format!(
        "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT\n{}\n",
        blocks.join("\n")
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env("PATH", path)
        .env("ODR_GATEWAY_UNDER_TEST", env!("CARGO_BIN_EXE_odr-gateway"))
        .env("ODR_LISTEN", free_address())
        .env_remove("ODR_CONFIG")
        .env_remove("DATABASE_URL")
        .env_remove("ODR_DATABASE_URL")
        .env_remove("ODR_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("run bash");
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    // The deadline only stops a hang (a gateway that never answers /readyz).
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (stdout.join().unwrap(), stderr.join().unwrap());
    let log = std::fs::read_to_string(work.join("gateway.log")).unwrap_or_default();
    let report = format!("stdout:\n{out}\nstderr:\n{err}\ngateway.log:\n{log}");
    match status {
        Some(status) => assert!(status.success(), "walk-through failed\n{report}"),
        None => panic!("walk-through hung\n{report}"),
    }

    // The first complaint: settled by the consumer's acceptance, 1,200 yuan recovered.
    assert!(out.contains("\"status\": \"settled\""), "{out}");
    assert!(out.contains("\"reported_by\": \"consumer\""), "{out}");
    assert!(out.contains("\"recovered_cents\": 120000"), "{out}");
    // The second: escalated by the merchant's failure, closed by the station.
    assert!(
        out.contains("\"escalation_reason\": \"negotiation_failed\""),
        "{out}"
    );
    assert!(out.contains("\"result\": \"mediated\""), "{out}");
    assert!(
        out.contains("handler fail acknowledged -> escalated"),
        "{out}"
    );
    assert!(out.contains("staff close accepted -> closed"), "{out}");
    // The third: the clock move escalates it for the missed acknowledgement.
    assert!(out.contains("\"deadline_actions\": 1"), "{out}");
    assert!(
        out.contains("\"escalation_reason\": \"ack_overdue\""),
        "{out}"
    );
    assert!(out.contains("\"ack_by\": \"missed\""), "{out}");
    // September's report, its CSV file, and the follow-up drawn by the clock move.
    assert!(out.contains("\"followups_drawn\": 1"), "{out}");
    assert!(
        out.contains(r#"{"code":"QJ-DC","received":1,"accepted":1,"closing_feedback":1,"completed":1,"completion_rate":100"#),
        "{out}"
    );
    let csv = std::fs::read(work.join("12315-QJ-2026-09.csv")).expect("the CSV file saved");
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with BOM");
    let csv = String::from_utf8(csv).expect("UTF-8");
    assert!(
        csv.contains("单位,接收量,受理量,不受理量,初查反馈量,结案反馈量,办结量,办结率"),
        "{csv}"
    );
    assert!(csv.contains("东城市场监管所,1,1,0,1,1,1,100.00%"), "{csv}");
    assert!(out.contains("\"satisfaction\": \"satisfied\""), "{out}");
    // Its SQLite file is in the walk-through's own directory.
    assert!(work.join("walkthrough.db").exists());
}
