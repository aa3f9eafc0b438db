//! Structured logs. Request ids come from `tracing-actix-web`.

use tracing_subscriber::EnvFilter;

/// Where the logs go: stdout for the server; stderr for a one-off command,
/// whose stdout carries its answer (credentials, a token) for scripts to read,
/// and which logs only warnings unless `ODR_LOG` says otherwise.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Stdout,
    Stderr,
}

pub fn init(output: Output) {
    let default = match output {
        Output::Stdout => "info",
        Output::Stderr => "warn",
    };
    let filter = EnvFilter::try_from_env("ODR_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match output {
        Output::Stdout => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .try_init(),
        Output::Stderr => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .try_init(),
    };
}
