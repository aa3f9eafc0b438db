//! The `odr-gateway` command: serve (default), migrate, verify, admin bootstrap.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use odr_gateway::app;
use odr_gateway::auth::Principal;
use odr_gateway::config::Config;
use odr_gateway::domain::password::Password;
use odr_gateway::domain::vocabulary::Role;
use odr_gateway::error::Error;
use odr_gateway::state::AppState;
use odr_gateway::store::accounts::NewUser;
use odr_gateway::store::events::Actor;
use odr_gateway::telemetry::{self, Output};
use odr_gateway::{api, demo, store, views};
use serde_json::{Map, Value, json};

#[derive(Parser)]
#[command(name = "odr-gateway", version, about = "ODR complaint gateway")]
struct Cli {
    /// TOML configuration file (also ODR_CONFIG).
    #[arg(long, global = true, env = "ODR_CONFIG", value_name = "FILE")]
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
    /// Bootstrap from the command line: accounts, stations, handlers, partners, tokens.
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
        #[arg(long, value_name = "CODE")]
        station: Option<String>,
    },
    /// Create a station (as POST /v1/stations); prints it as JSON.
    CreateStation {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// The station above it.
        #[arg(long, value_name = "CODE")]
        parent: Option<String>,
    },
    /// Enroll a handler (as POST /v1/handlers); prints it as JSON with its
    /// client_id, client_secret and webhook_secret, shown only this once.
    CreateHandler(HandlerArgs),
    /// Create a partner platform (as POST /v1/partners); prints it as JSON with
    /// its client_id and client_secret, shown only this once.
    CreatePartner(PartnerArgs),
    /// Print an access token for a user (admin or staff), ready for `Authorization: Bearer`.
    Token {
        #[arg(long)]
        username: String,
    },
}

#[derive(Args)]
struct HandlerArgs {
    /// merchant or rights_station.
    #[arg(long)]
    kind: String,
    #[arg(long)]
    name: String,
    /// The merchant's unified social credit code.
    #[arg(long)]
    credit_code: Option<String>,
    /// The station whose jurisdiction it is in.
    #[arg(long, value_name = "CODE")]
    station: String,
    /// pull or push.
    #[arg(long, default_value = "pull")]
    delivery: String,
    /// Where push deliveries go.
    #[arg(long, value_name = "URL")]
    webhook_url: Option<String>,
    /// Credit codes a rights station covers (comma-separated or repeated).
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    covers: Vec<String>,
    /// Cap on deliveries per second to its endpoint.
    #[arg(long, value_name = "N")]
    delivery_rate_per_second: Option<i64>,
}

#[derive(Args)]
struct PartnerArgs {
    #[arg(long)]
    name: String,
    /// Its quota: requests per second…
    #[arg(long, value_name = "N")]
    rate_per_second: i64,
    /// …and burst.
    #[arg(long, value_name = "N")]
    burst: i64,
    /// Where status changes of its submissions are sent.
    #[arg(long, value_name = "URL")]
    callback_url: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum UserRole {
    Admin,
    Staff,
}

/// Exit status of `verify` when a chain is broken (1 is any other failure).
const CHAIN_BROKEN: u8 = 2;

/// Who the audit log names for changes made from the command line.
const CLI: Actor = Actor {
    kind: "cli",
    id: None,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(match cli.command {
        None | Some(Command::Serve { .. }) => Output::Stdout,
        Some(_) => Output::Stderr,
    });
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

type Failure = Box<dyn std::error::Error>;

async fn run(cli: Cli) -> Result<Outcome, Failure> {
    let mut config = Config::load(cli.config.as_deref())?;
    match cli.command.unwrap_or(Command::Serve { demo: false }) {
        Command::Serve { demo: with_demo } => {
            let demo_day = if with_demo {
                Some(demo::prepare_config(&mut config)?)
            } else {
                None
            };
            let listen = config.listen;
            let state = AppState::start(config).await?;
            let listener = TcpListener::bind(listen)?;
            let address = listener.local_addr()?;
            if let Some(day) = demo_day {
                let world = demo::seed(&state, day).await?;
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
        Command::Verify => return verify(&config).await,
        Command::Admin { command } => admin(config, command).await?,
    }
    Ok(Outcome::Done)
}

async fn verify(config: &Config) -> Result<Outcome, Failure> {
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
    Ok(Outcome::Done)
}

async fn admin(config: Config, command: AdminCommand) -> Result<(), Failure> {
    match command {
        AdminCommand::CreateUser {
            username,
            password,
            role,
            station,
        } => create_user(config, username, password, role, station).await,
        AdminCommand::CreateStation { code, name, parent } => {
            let body = fields([
                ("code", Some(json!(code))),
                ("name", Some(json!(name))),
                ("parent_code", parent.map(Value::from)),
            ]);
            let new = api::read_station(&body).map_err(flag_errors)?;
            let state = AppState::start(config).await?;
            let station = store::directory::create_station(&state.db, CLI, new, state.clock.now())
                .await
                .map_err(flag_errors)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&views::station(&station))?
            );
            Ok(())
        }
        AdminCommand::CreateHandler(args) => {
            let body = fields([
                ("kind", Some(json!(args.kind))),
                ("name", Some(json!(args.name))),
                ("credit_code", args.credit_code.map(Value::from)),
                ("station_code", Some(json!(args.station))),
                ("delivery", Some(json!(args.delivery))),
                ("webhook_url", args.webhook_url.map(Value::from)),
                (
                    "covers",
                    (!args.covers.is_empty()).then(|| json!(args.covers)),
                ),
                (
                    "delivery_rate_per_second",
                    args.delivery_rate_per_second.map(Value::from),
                ),
            ]);
            let new = api::read_handler(&body).map_err(flag_errors)?;
            let state = AppState::start(config).await?;
            let now = state.clock.now();
            let enrolled = store::handlers::enrol(&state.db, &state.sealer, CLI, new, now)
                .await
                .map_err(flag_errors)?;
            print_credentials(&api::enrolled_handler(&enrolled))
        }
        AdminCommand::CreatePartner(args) => {
            let body = fields([
                ("name", Some(json!(args.name))),
                ("rate_per_second", Some(json!(args.rate_per_second))),
                ("burst", Some(json!(args.burst))),
                ("callback_url", args.callback_url.map(Value::from)),
            ]);
            let new = api::read_partner(&body).map_err(flag_errors)?;
            let state = AppState::start(config).await?;
            let now = state.clock.now();
            let enrolled = store::partners::enrol(&state.db, &state.sealer, CLI, new, now)
                .await
                .map_err(flag_errors)?;
            print_credentials(&api::enrolled_partner(&enrolled))
        }
        AdminCommand::Token { username } => {
            let state = AppState::start(config).await?;
            let user = store::directory::user_by_name(&state.db, &username)
                .await?
                .ok_or_else(|| format!("no user is named {username}"))?;
            let principal = Principal::of_account(user.id, &user.role, user.station_code)
                .ok_or_else(|| {
                    format!("{username} cannot sign in (a staff account without a station)")
                })?;
            println!("{}", state.tokens.issue(&principal)?.access_token);
            Ok(())
        }
    }
}

/// An account made here is checked by the same rules, and written by the
/// same use case, as one the API makes.
async fn create_user(
    config: Config,
    username: String,
    password: String,
    role: UserRole,
    station: Option<String>,
) -> Result<(), Failure> {
    let new = NewUser {
        username,
        password: Password::parse(&password).map_err(|why| format!("--password: {why}"))?,
        role: match role {
            UserRole::Admin => Role::Admin,
            UserRole::Staff => Role::Staff,
        },
        station_code: station,
    };
    let state = AppState::start(config).await?;
    let user = store::accounts::create_account(&state.db, CLI, new, state.clock.now())
        .await
        .map_err(flag_errors)?;
    println!("created {} {} ({})", user.role, user.username, user.id);
    Ok(())
}

/// A request body of the fields that were given.
fn fields<const N: usize>(given: [(&str, Option<Value>); N]) -> Value {
    let body: Map<String, Value> = given
        .into_iter()
        .filter_map(|(name, value)| Some((name.to_string(), value?)))
        .collect();
    Value::Object(body)
}

fn print_credentials(created: &Value) -> Result<(), Failure> {
    println!("{}", serde_json::to_string_pretty(created)?);
    eprintln!("keep the secrets above: they are shown only this once");
    Ok(())
}

/// The API's validation problems, named by the command-line flags.
fn flag_errors(err: Error) -> Failure {
    match err {
        Error::Validation(errors) => errors
            .iter()
            .map(|e| {
                let flag = match e.field.as_str() {
                    "parent_code" => "parent".to_string(),
                    "station_code" => "station".to_string(),
                    field => field.replace('_', "-"),
                };
                format!("--{flag}: {}", e.message)
            })
            .collect::<Vec<_>>()
            .join("; ")
            .into(),
        Error::Conflict { detail, .. } => detail.into(),
        other => other.into(),
    }
}
