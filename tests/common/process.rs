//! The real `odr-gateway` binary as a child process, for crash and
//! multi-process tests.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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

impl Gateway {
    /// Runs a one-off command (`migrate`, `admin create-user …`) with the same setup.
    pub fn run(dir: &Path, env: &[(String, String)], args: &[&str]) {
        let out = command(dir, env, args).output().expect("run odr-gateway");
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
        // Waiting for start-up, not for an effect: the deadline only stops a hang.
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&self.listen).is_err() {
            assert!(Instant::now() < deadline, "the gateway did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
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
