//! `infra ui`: a web view of the estate, served on loopback. Server-rendered HTML with no
//! external assets (it works offline): the graph of every node with its state, a node's page
//! (inputs, the kept plan's changes and verdicts, approvals, outputs, history, log), the
//! history with filters. Read-only unless started with `--allow-approve`; then a node's page
//! has an approve button bound to the exact plan shown (the same record as `infra approve`;
//! a plan that is no longer the kept one is refused).
//!
//! The project is evaluated once, at start; states, plans, approvals, records and the history
//! are read from `.infra/` at each request. Secrets never reach a page: inputs hold only their
//! placeholders, kept plans are redacted, logs are scrubbed, sensitive outputs are named only.

mod pages;
mod state;

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use axum::{
    Form, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};

/// What every request works with.
pub(crate) struct App {
    pub(crate) project: std::sync::Arc<evaluator::Project>,
    pub(crate) build: runner::BuildReport,
    pub(crate) root: PathBuf,
    pub(crate) tool_env: runner::ToolEnv,
    pub(crate) allow_approve: bool,
    /// Who approves from this browser unless the form says otherwise.
    pub(crate) user: String,
    /// The history database (`None`: SQLite under `.infra/`).
    pub(crate) history: Option<String>,
}

/// Serves until the process is stopped; says where on stderr first.
#[allow(clippy::print_stderr)]
pub(crate) fn serve(app: App, listen: SocketAddr) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the server: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        let mode = if app.allow_approve { "approvals allowed" } else { "read-only" };
        eprintln!("infra ui: http://{bound}/ ({mode}; Ctrl-C stops it)");
        let router = Router::new()
            .route("/", get(graph))
            .route("/node/{stack}/{name}", get(node))
            .route("/history", get(history))
            .route("/approve/{stack}/{name}", post(approve))
            .with_state(Arc::new(app));
        axum::serve(listener, router).await.map_err(|e| format!("the server stopped: {e}"))
    })
}

type Shared = State<Arc<App>>;

// Pages are made on blocking threads: they read files and the history database (whose
// PostgreSQL client must not block a runtime thread).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        (StatusCode::INTERNAL_SERVER_ERROR, format!("the page failed: {e}")).into_response()
    })
}

async fn graph(State(app): Shared) -> Response {
    match blocking(move || pages::graph(&app)).await {
        Ok(page) => Html(page).into_response(),
        Err(response) => response,
    }
}

async fn node(State(app): Shared, Path((stack, name)): Path<(String, String)>) -> Response {
    let address = format!("{stack}/{name}");
    let shown = address.clone();
    match blocking(move || pages::node(&app, &shown)).await {
        Ok(Some(page)) => Html(page).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, Html(pages::not_found(&address))).into_response(),
        Err(response) => response,
    }
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct HistoryFilter {
    #[serde(default)]
    pub(crate) node: String,
    #[serde(default)]
    pub(crate) operation: String,
    #[serde(default)]
    pub(crate) status: String,
}

async fn history(State(app): Shared, Query(filter): Query<HistoryFilter>) -> Response {
    match blocking(move || pages::history(&app, &filter)).await {
        Ok(page) => Html(page).into_response(),
        Err(response) => response,
    }
}

#[derive(Debug, serde::Deserialize)]
struct ApproveForm {
    plan: String,
    user: String,
}

async fn approve(
    State(app): Shared,
    Path((stack, name)): Path<(String, String)>,
    Form(form): Form<ApproveForm>,
) -> Response {
    let address = format!("{stack}/{name}");
    if !app.allow_approve {
        let page = pages::message("Read-only", "This view was started without `--allow-approve`.");
        return (StatusCode::FORBIDDEN, Html(page)).into_response();
    }
    let layout = runner::Layout::new(&app.root);
    let current = runner::approval::plan_id(&layout, &address).map(|(_, id)| id);
    if current.as_deref() != Some(form.plan.as_str()) {
        let page = pages::message(
            "Not approved: the plan changed",
            &format!(
                "The plan you approved ({}) is no longer the kept plan of {address}: it was applied \
                 or replaced by a new plan. Nothing was approved; look at the plan now kept.",
                form.plan
            ),
        );
        return (StatusCode::CONFLICT, Html(page)).into_response();
    }
    let user =
        if form.user.trim().is_empty() { app.user.clone() } else { form.user.trim().to_owned() };
    let approval = app
        .project
        .component(&address)
        .and_then(|c| c.terraform())
        .and_then(|t| t.approval.clone());
    if let Some(message) = approval.and_then(|a| runner::approval::not_allowed(&a, &user)) {
        let page = pages::message("Not approved", &message);
        return (StatusCode::FORBIDDEN, Html(page)).into_response();
    }
    let at = crate::policy::now().unwrap_or(0);
    match runner::approval::approve(&layout, &address, &form.plan, &user, at) {
        Ok(_) => Redirect::to(&format!("/node/{address}")).into_response(),
        Err(e) => {
            let page = pages::message("Not approved", &format!("cannot record the approval: {e}"));
            (StatusCode::INTERNAL_SERVER_ERROR, Html(page)).into_response()
        }
    }
}
