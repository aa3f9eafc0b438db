//! The README's curl walk-through (scripts/walkthrough.sh) run against the real
//! binary: bootstrap an admin from the command line, serve, walk the whole flow.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn gateway(dir: &std::path::Path, args: &[&str], listen: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_odr-gateway"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("ODR_CONFIG")
        .env_remove("DATABASE_URL")
        .env("ODR_DATABASE_URL", "sqlite://walk.db?mode=rwc")
        .env("ODR_LISTEN", listen);
    cmd
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let created = gateway(
        dir.path(),
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
        &listen,
    )
    .output()
    .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let _server = Gateway(
        gateway(dir.path(), &["serve"], &listen)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Wait for the process to accept connections (start-up, not a timing assertion).
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(Instant::now() < deadline, "the gateway did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/walkthrough.sh");
    let walk = Command::new("bash")
        .arg(script)
        .env("GW", format!("http://{listen}"))
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
