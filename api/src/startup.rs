//! Building and running the server: connect, migrate, bootstrap, route, serve, shut down.
//!
//! [`Application::build`] does everything up to a bound listener, so callers (the binary, the
//! tests) learn the real port before serving; [`Application::run`] serves until cancelled.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{Method, Uri};
use axum::{Extension, Router, middleware};
use bacon_engine::bootstrap::{self, FirstTenant};
use bacon_engine::channels::ChannelOutbox;
use bacon_engine::database;
use bacon_engine::hooks::HookDispatcher;
use bacon_engine::inbound::Inbound;
use bacon_engine::limits::TenantLimiter;
use bacon_engine::plugins::PluginFactory;
use bacon_engine::plugins::loader::PluginLoader;
use bacon_engine::plugins::overrides::{PluginOverrides, env_name};
use bacon_engine::plugins::registry::{PluginRegistry, RegistryLimits};
use bacon_engine::runs::engine::RunEngine;
use bacon_engine::runs::resume::ResumeLinks;
use bacon_engine::secrets::cipher::Keyring;
use bacon_engine::secrets::keyfiles::KeyFiles;
use bacon_engine::secrets::manager::Secrets;
use bacon_engine::secrets::rotation;
use bacon_engine::work::JobQueue;
use bacon_engine::work::runner::WorkRunner;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi as _;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::{Config, HttpConfig};
use crate::error::ApiError;
use crate::extract::BodyLimit;
use crate::metrics::{self, Metrics};
use crate::openapi::{self, ApiDoc};
use crate::routes;
use crate::state::AppState;

/// The OpenAPI document of this build, exactly as `GET /openapi.json` serves it.
pub fn openapi_document() -> OpenApi {
    let (_, doc) = documented_routes().split_for_parts();
    openapi::finish(doc)
}

fn documented_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(routes::router())
}

/// The full router: documented routes, Swagger UI, fallbacks and the middleware every route gets
/// (tracing span, timeout, body limit, metrics).
pub fn build_router(state: AppState, http: &HttpConfig) -> Router {
    let (router, doc) = documented_routes().split_for_parts();
    let doc = openapi::finish(doc);
    let timeout_ms = http.request_timeout_ms;
    router
        // No external validator: Swagger UI would send the spec's URL to validator.swagger.io
        // from any browser not on localhost.
        .merge(
            SwaggerUi::new("/docs")
                .url("/openapi.json", doc)
                .config(utoipa_swagger_ui::Config::default().validator_url("none")),
        )
        .fallback(|method: Method, uri: Uri| async move {
            ApiError::RouteNotFound { method: method.to_string(), path: uri.path().chars().take(200).collect() }
        })
        .method_not_allowed_fallback(|method: Method| async move {
            ApiError::MethodNotAllowed { method: method.to_string() }
        })
        .layer(middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(http.body_limit_bytes))
        .layer(Extension(BodyLimit(http.body_limit_bytes)))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(move |_: tower::BoxError| async move { ApiError::Timeout { timeout_ms } }))
                .timeout(Duration::from_millis(timeout_ms)),
        )
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let span = tracing::info_span!(
                        "request",
                        otel.name = %format_args!("{} {}", request.method(), route_of(request)),
                        otel.kind = "server",
                        method = %request.method(),
                        path = %loggable_path(request),
                        http.response.status_code = tracing::field::Empty,
                        tenant.id = tracing::field::Empty,
                        trace_id = tracing::field::Empty,
                    );
                    let headers = request.headers().iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
                    bacon_worker::trace_context::continue_trace(&span, headers);
                    span
                })
                .on_response(|response: &axum::response::Response, _: Duration, span: &tracing::Span| {
                    span.record("http.response.status_code", response.status().as_u16());
                })
                // `ApiError` logs each 5xx with its cause, at the level it deserves (an outage
                // is a warning per request): logging the status again here would double it.
                .on_failure(()),
        )
        .with_state(state)
}

/// The route template a request matched (`/v1/flows/{id}/runs`), never the ids in its path: a
/// span's name must have few distinct values.
fn route_of(request: &Request) -> &str {
    request.extensions().get::<axum::extract::MatchedPath>().map_or("(unmatched)", |path| path.as_str())
}

/// The request's path for logs and spans: its route template instead for `/hooks/{hookId}`,
/// whose path is the credential that starts the hook's flow.
fn loggable_path(request: &Request) -> &str {
    match route_of(request) {
        // A hook id and a resume link's token are credentials: log the route template instead.
        route if route.starts_with("/hooks/") || route.starts_with("/resume/") => route,
        _ => request.uri().path(),
    }
}

/// Connects to the configured database and applies pending migrations.
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub async fn connect_and_migrate(config: &Config) -> anyhow::Result<DatabaseConnection> {
    let db = database::connect(&config.database_options()).await.context("connecting to the database")?;
    database::migrate(&db).await.context("applying database migrations")?;
    Ok(db)
}

/// A server with its database ready and its listener bound, not yet serving.
pub struct Application {
    listener: TcpListener,
    router: Router,
    db: DatabaseConnection,
    embedded_workers: bool,
    worker_concurrency: usize,
    /// Executes every kind of background work (embedded workers).
    work: WorkRunner,
    /// The first tenant, when this start created it (its key is shown once, by the caller).
    pub first_tenant: Option<FirstTenant>,
    /// Where the server admin key comes from, and whether this start created it.
    pub admin_key: bootstrap::AdminKey,
    /// The id of the master key in use and where it comes from.
    pub master_key_id: String,
    pub master_key_origin: String,
}

impl Application {
    /// Prepares everything: data dir, database, migrations, keys, first tenant, listener.
    ///
    /// # Errors
    /// On any start-up failure, with context saying which step failed.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        Self::build_with_plugins(config, crate::catalog::builtin_plugins()).await
    }

    /// Like [`Application::build`], with an explicit plugin list (tests add their own plugins).
    ///
    /// # Errors
    /// On any start-up failure; in strict plugin mode, when a plugin fails validation.
    pub async fn build_with_plugins(config: &Config, factories: Vec<PluginFactory>) -> anyhow::Result<Self> {
        if config.admin_key.is_some() {
            // A malformed key stops the server before it creates or writes anything.
            bootstrap::admin_key(config.admin_key.as_ref(), &config.data_dir)
                .context("loading the server admin key")?;
        }
        bootstrap::data_dir(&config.data_dir).context("creating the data directory")?;
        let db = connect_and_migrate(config).await?;
        let (keyring, master_key) = load_keyring(config).context("loading the master encryption keys")?;
        let admin_key = bootstrap::admin_key(config.admin_key.as_ref(), &config.data_dir)
            .context("loading the server admin key")?;
        let first_tenant = bootstrap::first_tenant(&db).await.context("creating the first tenant")?;
        let (master_key_id, master_key_origin) = (master_key.id, master_key.origin);
        rotation::record_keys(&db, &keyring.active_id(), &keyring.retired_ids())
            .await
            .context("recording the encryption key ids")?;
        let plugins = load_plugins(config, &factories, db.clone(), Secrets::new(keyring))?;
        let tenant_limits = Arc::new(TenantLimiter::new(db.clone(), config.tenant_limits()));
        let work = work_runner(&db, plugins.clone(), config, tenant_limits.clone())
            .await?
            .with_retention(config.retention.policy());
        let runs = work.runs().clone();
        let work_metrics = plugins.metrics().clone();
        let timeout = Duration::from_millis(config.http.request_timeout_ms);
        let listener =
            TcpListener::bind(config.http.bind).await.with_context(|| format!("binding {}", config.http.bind))?;
        let public_url = match &config.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}", listener.local_addr().context("reading the listen address")?),
        };
        let state = AppState {
            inbound: work.inbound().clone(),
            channels: work.channels().clone(),
            public_url: Arc::from(public_url.as_str()),
            runs: runs.clone(),
            invoke_deadline: timeout.saturating_sub((timeout / 10).min(Duration::from_secs(2))),
            plugins,
            db: db.clone(),
            admin_key_hash: Arc::from(admin_key.hash.as_str()),
            metrics: Arc::new(Metrics::new(work_metrics)),
            tenant_limits,
        };
        let router = build_router(state, &config.http);
        Ok(Self {
            work,
            listener,
            router,
            db,
            embedded_workers: config.workers.embedded,
            worker_concurrency: config.workers.concurrency,
            first_tenant,
            admin_key,
            master_key_id,
            master_key_origin,
        })
    }

    /// The address the server listens on (the real port when configured with port 0).
    ///
    /// # Errors
    /// When the socket has no local address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves HTTP (and the embedded workers, when enabled) until `shutdown` is cancelled, then
    /// drains in-flight requests and stops.
    ///
    /// # Errors
    /// When serving fails or a worker runtime fails to start.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let workers = self.embedded_workers.then(|| {
            let db = self.db.clone();
            let token = shutdown.clone();
            let (work, concurrency) = (self.work.clone(), self.worker_concurrency);
            tokio::spawn(async move { bacon_worker::run_until(db, work, concurrency, token.cancelled_owned()).await })
        });
        let token = shutdown.clone();
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async move { token.cancelled().await })
            .await
            .context("serving HTTP");
        served?;
        if let Some(workers) = workers {
            shutdown.cancel();
            workers.await.context("joining the workers")?.context("running the workers")?;
        }
        self.db.close().await.context("closing the database")?;
        Ok(())
    }
}

/// The keyring and where its active key came from: `BACON_MASTER_KEYS` (a fleet's list, the
/// first key active), else `BACON_MASTER_KEY`, else the key files of the data directory (the
/// embedded default: the active key plus the retired ones on disk, re-read when a value names a
/// key it does not know, as after a `keys rotate` while it runs).
///
/// # Errors
/// When both settings are given, a key is malformed, or the key file cannot be read or created.
pub fn load_keyring(config: &Config) -> anyhow::Result<(Keyring, bootstrap::MasterKey)> {
    match (&config.master_keys, &config.master_key) {
        (Some(_), Some(_)) => anyhow::bail!("set BACON_MASTER_KEYS or BACON_MASTER_KEY, not both"),
        (Some(list), None) => {
            let (active, retired) = bootstrap::master_keys(list, "BACON_MASTER_KEYS")?;
            let keyring = Keyring::new(&active.id, active.bytes.clone());
            for key in retired {
                keyring.add_decrypt_only(&key.id, key.bytes);
            }
            Ok((keyring, active))
        }
        (None, configured) => {
            let active = bootstrap::master_key(configured.as_ref(), &config.data_dir)?;
            let keyring = Keyring::new(&active.id, active.bytes.clone());
            let keyring =
                if configured.is_none() { keyring.with_key_files(KeyFiles::new(&config.data_dir)) } else { keyring };
            Ok((keyring, active))
        }
    }
}

/// Background work on this database, with apalis as its one job queue: the run engine, channel
/// sends, REST-hook deliveries and the webhook inbox, each claiming under `lease`; run templates
/// are held to `limits`.
///
/// # Errors
/// When the job-queue storage cannot be prepared.
pub async fn work_runner(
    db: &DatabaseConnection,
    plugins: PluginRegistry,
    config: &Config,
    tenant_limits: Arc<TenantLimiter>,
) -> anyhow::Result<WorkRunner> {
    bacon_worker::prepare_storage(db).await.context("preparing the job queue")?;
    let queue: Arc<dyn JobQueue> = Arc::new(bacon_worker::queue::ApalisQueue::new(db));
    let lease = Duration::from_secs(config.workers.lease_secs);
    let runs = RunEngine::new(db.clone(), Arc::new(plugins.clone()), queue.clone())
        .with_metrics(plugins.metrics().clone())
        .with_lease(lease)
        .with_template_limits(config.flows.template_limits())
        .with_tenant_limits(tenant_limits)
        .with_resume_links(ResumeLinks::new(plugins.secrets().keyring().clone(), config.public_url.as_deref()));
    let hooks = HookDispatcher::new(plugins.clone(), queue.clone(), lease);
    let channels = ChannelOutbox::new(plugins.clone(), queue, lease);
    let inbound = Inbound::new(plugins, runs.clone());
    Ok(WorkRunner::new(runs, channels, hooks, inbound))
}

/// Everything a worker-only process needs: database, keys, plugins, and its background work.
///
/// # Errors
/// On any start-up failure.
pub async fn worker_engine(config: &Config) -> anyhow::Result<(DatabaseConnection, WorkRunner)> {
    let db = connect_and_migrate(config).await?;
    let (keyring, _) = load_keyring(config).context("loading the master encryption keys")?;
    let plugins = load_plugins(config, &crate::catalog::builtin_plugins(), db.clone(), Secrets::new(keyring))?;
    let tenant_limits = Arc::new(TenantLimiter::new(db.clone(), config.tenant_limits()));
    let work = work_runner(&db, plugins, config, tenant_limits).await?.with_retention(config.retention.policy());
    Ok((db, work))
}

/// Loads the plugins, reports faulty ones, and builds the registry.
///
/// # Errors
/// In strict mode, when any plugin fails validation.
pub fn load_plugins(
    config: &Config,
    factories: &[PluginFactory],
    db: DatabaseConnection,
    secrets: Secrets,
) -> anyhow::Result<PluginRegistry> {
    // Configured base URLs first, so the environment's overrides win.
    let configured = config
        .plugins
        .base_urls
        .iter()
        .map(|(id, url)| (format!("BACON_PLUGIN_{}__BASE_URL", env_name(id)), url.clone()));
    let egress = config.egress.policy().context("the egress setting is invalid")?;
    if !egress.open_ranges().is_empty() {
        let ranges: Vec<String> = egress.open_ranges().iter().map(ToString::to_string).collect();
        tracing::info!(ranges = %ranges.join(","), "Plugins may reach these internal ranges.");
    }
    let loader = PluginLoader::new(PluginOverrides::from_vars(configured.chain(std::env::vars()))).with_egress(egress);
    let report = loader.load_all(factories);
    for fault in &report.faults {
        tracing::warn!(plugin.id = %fault.plugin_id, pointer = %fault.pointer, "Plugin left out: {}", fault.message);
    }
    if config.plugins.strict && !report.faults.is_empty() {
        let list: Vec<String> = report.faults.iter().map(ToString::to_string).collect();
        anyhow::bail!("plugins failed validation (strict mode):\n{}", list.join("\n"));
    }
    for id in &report.disabled {
        tracing::info!(plugin.id = %id, "Plugin disabled by configuration.");
    }
    tracing::info!(plugins = report.loaded.len(), "Plugins loaded.");
    let limits = RegistryLimits { max_output_bytes: config.plugins.max_output_bytes, ..RegistryLimits::default() };
    let registry = PluginRegistry::new(report.loaded, db, secrets, limits);
    registry.metrics().count_per_tenant(config.metrics.per_tenant);
    Ok(registry)
}

/// A token cancelled on SIGINT or SIGTERM.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {},
            () = terminate => {},
        }
        tracing::info!("Shutdown signal received; draining in-flight work.");
        trigger.cancel();
    });
    token
}
