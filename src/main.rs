//! The `odr-gateway` command: serve (default), migrate, admin bootstrap.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use odr_gateway::app::{self, AppState};
use odr_gateway::config::Config;
use odr_gateway::domain::vocabulary::Role;
use odr_gateway::{demo, store, telemetry};

#[derive(Parser)]
#[command(name = "odr-gateway", version, about = "ODR complaint gateway")]
struct Cli {
    /// TOML configuration file (also ODR_CONFIG).
    #[arg(long, global = true, env = "ODR_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations, then serve the API (the default).
    Serve {
        /// Start on a fresh demo database with the Qianjiang demo world.
        #[arg(long)]
        demo: bool,
    },
    /// Apply migrations and exit.
    Migrate,
    /// Check every complaint's case-file hash chain; report the first broken link.
    Verify,
    /// Administration from the command line.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin or a staff account.
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password: String,
        #[arg(long, value_enum)]
        role: UserRole,
        /// Station of a staff account.
        #[arg(long)]
        station: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum UserRole {
    Admin,
    Staff,
}

/// Exit status of `verify` when a chain is broken (1 is any other failure).
const CHAIN_BROKEN: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::ChainBroken) => ExitCode::from(CHAIN_BROKEN),
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

enum Outcome {
    Done,
    ChainBroken,
}

async fn run(cli: Cli) -> Result<Outcome, Box<dyn std::error::Error>> {
    let mut config = Config::load(cli.config.as_deref())?;
    match cli.command.unwrap_or(Command::Serve { demo: false }) {
        Command::Serve { demo: with_demo } => {
            if with_demo {
                demo::prepare_config(&mut config)?;
            }
            let listen = config.listen;
            let state = AppState::start(config).await?;
            let listener = TcpListener::bind(listen)?;
            let address = listener.local_addr()?;
            if with_demo {
                let world = demo::seed(&state).await?;
                demo::print(&world, &state, address);
            }
            app::start_workers(&state)?;
            tracing::info!(%address, "odr-gateway listening");
            app::server(state, listener)?.await?;
        }
        Command::Migrate => {
            let db = store::connect(&config.database_url).await?;
            store::migrate(&db).await?;
            println!("migrations applied");
        }
        Command::Verify => {
            let db = store::connect(&config.database_url).await?;
            store::migrate(&db).await?;
            let verified = store::events::verify_all(&db).await?;
            match verified.broken {
                None => println!(
                    "ok: {} case files verified, every hash chain intact",
                    verified.complaints
                ),
                Some((complaint, link)) => {
                    println!(
                        "broken: complaint {complaint}, event {}: {} ({} case files verified before it)",
                        link.seq, link.why, verified.complaints
                    );
                    return Ok(Outcome::ChainBroken);
                }
            }
        }
        Command::Admin {
            command:
                AdminCommand::CreateUser {
                    username,
                    password,
                    role,
                    station,
                },
        } => {
            let role = match role {
                UserRole::Admin => Role::Admin,
                UserRole::Staff => Role::Staff,
            };
            if role == Role::Staff && station.is_none() {
                return Err("a staff account needs --station".into());
            }
            if password.chars().count() < 10 {
                return Err("the password must be at least 10 characters".into());
            }
            let db = store::connect(&config.database_url).await?;
            store::migrate(&db).await?;
            let user = store::directory::create_user(
                &db,
                &username,
                &password,
                role,
                station.as_deref(),
                chrono::Utc::now(),
            )
            .await?;
            let cli = store::events::Actor {
                kind: "cli",
                id: None,
            };
            let change = store::audit::Change {
                action: "user.created",
                target_kind: "user",
                target_id: &user.id,
                detail: serde_json::json!({
                    "username": user.username, "role": user.role, "station_code": user.station_code,
                }),
            };
            store::audit::record(&db, &cli, change).await?;
            println!("created {} {} ({})", user.role, user.username, user.id);
        }
    }
    Ok(Outcome::Done)
}
