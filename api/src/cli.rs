//! The `bacon-server` command line: `serve`, `worker`, `migrate`, `openapi`, `tenant create`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bacon_engine::bootstrap::{self, FirstTenant};
use bacon_engine::plugins::loader::PluginLoader;
use bacon_engine::plugins::overrides::PluginOverrides;
use bacon_engine::secrets::cipher::Keyring;
use bacon_engine::secrets::keyfiles::KeyFiles;
use bacon_engine::secrets::rotation;
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
    /// Manage the master encryption keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Inspect the built-in plugins.
    #[command(subcommand)]
    Plugins(PluginsCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-encrypt every stored secret under the active master key, online. With the key files of
    /// the data directory (the default), first generate a new key: running servers keep
    /// decrypting with the retired one (kept in `<data_dir>/retired-keys/`). With
    /// `BACON_MASTER_KEYS`, the first key of the list is the active one (see docs/configuration.md
    /// for a fleet's rotation).
    Rotate,
    /// Print a new random master key (base64 of 32 bytes) and its id, for `BACON_MASTER_KEYS`.
    Generate,
}

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// List the plugins that load, with their actions.
    List,
    /// Validate every plugin (with this environment's overrides); exit 1 on any fault.
    Check,
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
    // A plugin's panic message may quote a secret: the registry returns and audits it scrubbed,
    // so the process-wide report names only where it happened.
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        tracing::error!(%location, "A task panicked; if it was a plugin action, its scrubbed message is in the audit log.");
        eprintln!("a task panicked at {location}");
    }));
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
    let config = Config::load(&cli.config).map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    // One crypto library in the whole tree: ring. Ignore "already installed".
    let _ = rustls::crypto::ring::default_provider().install_default();
    let traces = telemetry::init(config.log_format, &config.log, &config.traces)?;
    let result = run_command(cli.command, config).await;
    traces.shutdown().await;
    result
}

async fn run_command(command: Command, mut config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { no_workers } => {
            if no_workers {
                config.workers.embedded = false;
            }
            serve(&config).await
        }
        Command::Worker => {
            let (db, engine) = startup::worker_engine(&config).await?;
            let shutdown = startup::shutdown_on_signals();
            if let Some(bind) = config.workers.metrics_bind {
                let work = engine.runs().metrics().clone();
                let address = crate::worker_metrics::serve(bind, db.clone(), work, shutdown.clone()).await?;
                tracing::info!(%address, "Serving the workers' metrics.");
                println!("Worker metrics on http://{address}/metrics");
            }
            tracing::info!(database = bacon_engine::database::backend_name(&db), "Starting workers only.");
            println!("Bacon workers are running (database: {}).", bacon_engine::database::backend_name(&db));
            bacon_worker::run_until(db, engine, config.workers.concurrency, shutdown.cancelled_owned())
                .await
                .context("running the workers")
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
        Command::Keys(KeysCommand::Rotate) => rotate_keys(&config).await,
        Command::Keys(KeysCommand::Generate) => {
            let (text, id) = bacon_engine::secrets::keyfiles::generate();
            println!("{text}");
            eprintln!("A new master key ({id}). Put it first in BACON_MASTER_KEYS on every machine to make it active.");
            Ok(())
        }
        Command::Plugins(command) => plugins(&config, command),
        Command::Openapi => Ok(()),
    }
}

async fn rotate_keys(config: &Config) -> anyhow::Result<()> {
    if config.master_keys.is_some() {
        let (keyring, active) = startup::load_keyring(config).context("loading the master encryption keys")?;
        let db = startup::connect_and_migrate(config).await?;
        let report = rotation::reencrypt_all(&db, &keyring).await.context("re-encrypting stored secrets")?;
        rotation::record_keys(&db, &keyring.active_id(), &keyring.retired_ids()).await?;
        println!(
            "Re-encrypted {} secrets in {} rows under {} (the first key of BACON_MASTER_KEYS). Once every machine runs \
             with this list, the other keys can be removed from it.",
            report.values, report.rows, active.id
        );
        return Ok(());
    }
    if config.master_key.is_some() {
        anyhow::bail!(
            "the master key comes from BACON_MASTER_KEY, so Bacon cannot replace it. Give the keys as a list in \
             BACON_MASTER_KEYS instead (new key first, old key after it; `bacon-server keys generate` makes one), \
             or unset it to use the key files in the data directory"
        );
    }
    let files = KeyFiles::new(&config.data_dir);
    bootstrap::master_key(None, &config.data_dir).context("loading the master key")?;
    let (old, new) = files.rotate().context("writing the new master key")?;
    let keyring = Keyring::from_key_files(files.clone()).context("reading the key files")?;
    let db = startup::connect_and_migrate(config).await?;
    let report = rotation::reencrypt_all(&db, &keyring).await.context("re-encrypting stored secrets")?;
    rotation::record_keys(&db, &keyring.active_id(), &keyring.retired_ids()).await?;
    println!(
        "Rotated the master key: {old} -> {new}. Re-encrypted {} secrets in {} rows (plugin settings, REST-hook subscriptions, webhook triggers).",
        report.values, report.rows
    );
    println!(
        "The old key stays in {} so running servers keep working; delete it once every server has restarted.",
        files.retired_dir().join(format!("{old}.key")).display()
    );
    Ok(())
}

fn plugins(config: &Config, command: PluginsCommand) -> anyhow::Result<()> {
    let _ = config;
    let loader = PluginLoader::new(PluginOverrides::from_env());
    let report = loader.load_all(&crate::catalog::builtin_plugins());
    for plugin in &report.loaded {
        let d = &plugin.definition;
        let actions: Vec<&str> = d.actions.iter().map(|a| a.key.as_str()).collect();
        println!("{} {} ({}): {}", d.id, d.version, d.name, actions.join(", "));
    }
    for id in &report.disabled {
        println!("{id}: disabled by configuration");
    }
    for fault in &report.faults {
        println!("FAULT {fault}");
    }
    if matches!(command, PluginsCommand::Check) && !report.faults.is_empty() {
        anyhow::bail!("{} plugins failed validation", report.faults.len());
    }
    Ok(())
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    let addr = app.local_addr().context("reading the listener address")?;
    if let Some(first) = &app.first_tenant {
        print_first_tenant(first);
    }
    if app.admin_key.created {
        eprintln!("The server admin key (manages tenants) was written to {}.", app.admin_key.origin);
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
    eprintln!("Bacon is listening on http://{addr} (API docs at http://{addr}/docs).");
    app.run(startup::shutdown_on_signals()).await
}

/// On stderr: stdout carries the log lines, which log shippers collect.
fn print_first_tenant(first: &FirstTenant) {
    eprintln!();
    eprintln!("Bacon created a first tenant `{}` ({}).", first.tenant.name, first.tenant.id);
    eprintln!("Its admin API key is shown only this once; store it now:");
    eprintln!();
    eprintln!("    {}", first.plaintext.plaintext.expose());
    eprintln!();
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
