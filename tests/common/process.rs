//! The real `odr-gateway` binary as a child process, for crash and
//! multi-process tests and the command line's own.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Gateway {
    child: Option<Child>,
    pub listen: String,
    dir: PathBuf,
    env: Vec<(String, String)>,
    /// Where stdout and stderr go (appended across restarts); discarded when unset.
    log: Option<PathBuf>,
}

pub fn free_address() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

fn command(dir: &Path, env: &[(String, String)], args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_odr-gateway"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("ODR_CONFIG")
        .env_remove("DATABASE_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs a one-off command (`migrate`, `admin …`) and returns how it ended.
pub fn output(dir: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    command(dir, env, args).output().expect("run odr-gateway")
}

/// Waits until something accepts connections on `address`.
pub fn wait_until_listening(address: &str) {
    // Waiting for start-up, not for an effect: the deadline only stops a hang.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(address).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {address}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The binary started with arguments of the test's choosing (`serve --demo`,
/// `--config FILE serve`), its stdout readable line by line; killed on drop.
pub struct Spawned {
    child: Child,
    stdout: Option<BufReader<ChildStdout>>,
}

impl Spawned {
    pub fn start(dir: &Path, env: &[(String, String)], args: &[&str]) -> Spawned {
        let mut child = command(dir, env, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn odr-gateway");
        let stdout = child.stdout.take().map(BufReader::new);
        Spawned { child, stdout }
    }

    /// The lines printed up to and including the first that starts with
    /// `last`; the rest of the output is then drained so the pipe never fills.
    pub fn lines_until(&mut self, last: &str) -> Vec<String> {
        let mut stdout = self.stdout.take().expect("stdout not read yet");
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = stdout.read_line(&mut line).expect("read stdout");
            assert!(n > 0, "the output ended before {last:?}: {lines:#?}");
            let line = line.trim_end().to_string();
            let done = line.starts_with(last);
            lines.push(line);
            if done {
                break;
            }
        }
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        lines
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    /// Runs a one-off command (`migrate`, `admin create-user …`) that must succeed.
    pub fn run(dir: &Path, env: &[(String, String)], args: &[&str]) {
        let out = output(dir, env, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts `serve` and waits until it accepts connections.
    pub fn serve(dir: &Path, env: &[(String, String)]) -> Gateway {
        Gateway::serve_logged(dir, env, None)
    }

    /// [`Gateway::serve`], writing the process's output to `log`.
    pub fn serve_logged(dir: &Path, env: &[(String, String)], log: Option<PathBuf>) -> Gateway {
        let mut gateway = Gateway {
            child: None,
            listen: free_address(),
            dir: dir.to_path_buf(),
            env: env.to_vec(),
            log,
        };
        gateway.start();
        gateway
    }

    fn output(&self) -> (Stdio, Stdio) {
        let Some(path) = &self.log else {
            return (Stdio::null(), Stdio::null());
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open the log file");
        let second = file.try_clone().expect("clone the log file");
        (Stdio::from(file), Stdio::from(second))
    }

    fn start(&mut self) {
        let mut env = self.env.clone();
        env.push(("ODR_LISTEN".into(), self.listen.clone()));
        let (stdout, stderr) = self.output();
        let child = command(&self.dir, &env, &["serve"])
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("spawn odr-gateway");
        self.child = Some(child);
        wait_until_listening(&self.listen);
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.listen)
    }

    /// SIGKILL: no shutdown, no flushing — what a crash looks like.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Changes one environment variable for the next start.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
    }

    /// Starts again on the same address and database after [`Gateway::kill`].
    pub fn restart(&mut self) {
        self.kill();
        self.start();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
    }
}
