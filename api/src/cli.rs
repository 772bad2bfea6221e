//! The `bacon-server` command line: `serve`, `worker`, `migrate`, `openapi`, `tenant create`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bacon_engine::bootstrap::FirstTenant;
use bacon_engine::store;
use bacon_engine::tenancy::{DisplayName, Role};
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::error::ErrorChain;
use crate::startup::{self, Application};
use crate::telemetry;

/// Bacon: self-hosted workflow orchestration for customer-messaging automation.
#[derive(Debug, Parser)]
#[command(name = "bacon-server", version, about)]
pub struct Cli {
    /// Configuration file (optional; `BACON_*` environment variables override it).
    #[arg(long, global = true, default_value = "bacon.toml", env = "BACON_CONFIG")]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API, with the workers in-process unless `--no-workers`.
    Serve {
        /// Serve the API only; run `bacon-server worker` elsewhere.
        #[arg(long)]
        no_workers: bool,
    },
    /// Run background workers only (scale-out: many processes share one PostgreSQL).
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant with an admin API key, printed once.
    Create {
        /// The tenant's name.
        #[arg(long)]
        name: String,
    },
}

/// Parses the command line, runs the command, and turns failures into a message and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let source: &(dyn std::error::Error + 'static) = e.as_ref();
            tracing::error!(error = %ErrorChain(source), "bacon-server failed.");
            eprintln!("error: {}", ErrorChain(source));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Openapi = cli.command {
        let doc = startup::openapi_document();
        println!("{}", doc.to_pretty_json().context("serialising the OpenAPI document")?);
        return Ok(());
    }
    let mut config = Config::load(&cli.config).map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    telemetry::init(config.log_format, &config.log);
    // One crypto library in the whole tree: ring. Ignore "already installed".
    let _ = rustls::crypto::ring::default_provider().install_default();
    match cli.command {
        Command::Serve { no_workers } => {
            if no_workers {
                config.workers.embedded = false;
            }
            serve(&config).await
        }
        Command::Worker => {
            let db = startup::connect_and_migrate(&config).await?;
            tracing::info!(database = bacon_engine::database::backend_name(&db), "Starting workers only.");
            let shutdown = startup::shutdown_on_signals();
            bacon_worker::run_until(db, shutdown.cancelled_owned()).await.context("running the workers")
        }
        Command::Migrate => {
            let db = startup::connect_and_migrate(&config).await?;
            tracing::info!(database = bacon_engine::database::backend_name(&db), "Migrations are applied.");
            Ok(())
        }
        Command::Tenant(TenantCommand::Create { name }) => {
            let name = DisplayName::parse(&name).map_err(|m| anyhow::anyhow!("--name {m}"))?;
            let db = startup::connect_and_migrate(&config).await?;
            let tenant = store::tenants::create(&db, name.as_str()).await?;
            let (_, key) = store::api_keys::issue(&db, tenant.id, "admin", Role::Admin).await?;
            println!("Created tenant `{}` ({}).", tenant.name, tenant.id);
            println!("Its admin API key, shown only this once:\n\n    {}\n", key.plaintext.expose());
            Ok(())
        }
        Command::Openapi => Ok(()),
    }
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    let addr = app.local_addr().context("reading the listener address")?;
    if let Some(first) = &app.first_tenant {
        print_first_tenant(first);
    }
    if app.admin_key.created {
        println!("The server admin key (manages tenants) was written to {}.", app.admin_key.origin);
    }
    tracing::info!(
        %addr,
        database = %redact_url(&config.database_url()),
        admin_key = %app.admin_key.origin,
        master_key.id = %app.master_key_id,
        master_key.origin = %app.master_key_origin,
        workers = config.workers.embedded,
        "Bacon is listening."
    );
    println!("Bacon is listening on http://{addr} (API docs at http://{addr}/docs).");
    app.run(startup::shutdown_on_signals()).await
}

fn print_first_tenant(first: &FirstTenant) {
    println!();
    println!("Bacon created a first tenant `{}` ({}).", first.tenant.name, first.tenant.id);
    println!("Its admin API key is shown only this once; store it now:");
    println!();
    println!("    {}", first.plaintext.plaintext.expose());
    println!();
}

/// The URL with any password replaced, for logs.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("sqlite://./data/bacon.db"), "sqlite://./data/bacon.db");
    }
}
