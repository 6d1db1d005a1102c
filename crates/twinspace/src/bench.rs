//! `twinspace bench http`: load figures of a running server over HTTP. It makes
//! a scratch world, creates twins from several client threads (twins created/s),
//! then patches them for a fixed time (patches/s: each one acknowledged only
//! after it is durable, so this is also durable acknowledged writes/s over HTTP),
//! reads the group-commit counters from `/metrics` to show how many writes
//! shared each fsync, and deletes the world again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// Most client threads: each holds one connection.
const THREADS_MAX: usize = 512;
/// Most twins a run creates.
const TWINS_MAX: usize = 1_000_000;
/// Longest patch phase.
const SECONDS_MAX: u64 = 600;

#[derive(clap::Args)]
pub(crate) struct BenchArgs {
    /// The server's base URL; without it the bench starts a server of its own on
    /// a loopback port over a scratch data directory (removed afterwards).
    #[arg(long)]
    url: Option<String>,
    /// An admin token (the bench creates and deletes a scratch world); needed with --url.
    #[arg(long, env = "TWINSPACE_TOKEN")]
    token: Option<String>,
    /// Client threads (concurrent requests).
    #[arg(long, default_value_t = 32)]
    threads: usize,
    /// Twins to create.
    #[arg(long, default_value_t = 5_000)]
    twins: usize,
    /// Seconds of patching.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
}

#[derive(clap::Subcommand)]
pub(crate) enum BenchCommand {
    /// Twins created/s and durable patches/s over HTTP (own loopback server, or --url).
    Http(BenchArgs),
    /// Restart time of a world of N placed twins, through the real store.
    Restart(crate::bench_restart::RestartArgs),
    /// Live fan-out: N WebSocket clients with moving regions, and nats-server on the same traffic.
    Live(crate::bench_live::LiveArgs),
}

struct Client {
    agent: ureq::Agent,
    base: String,
    auth: String,
}

impl Client {
    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, String)> {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self
                .agent
                .get(&url)
                .header("Authorization", &self.auth)
                .call(),
            "DELETE" => self
                .agent
                .delete(&url)
                .header("Authorization", &self.auth)
                .call(),
            "POST" => self
                .agent
                .post(&url)
                .header("Authorization", &self.auth)
                .send_json(body.unwrap_or(&Value::Null)),
            "PUT" => self
                .agent
                .put(&url)
                .header("Authorization", &self.auth)
                .send_json(body.unwrap_or(&Value::Null)),
            "PATCH" => self
                .agent
                .patch(&url)
                .header("Authorization", &self.auth)
                .send_json(body.unwrap_or(&Value::Null)),
            _ => bail!("unsupported method {method}"),
        };
        let response = request.with_context(|| format!("{method} {url}"))?;
        let status = response.status().as_u16();
        Ok((
            status,
            response.into_body().read_to_string().unwrap_or_default(),
        ))
    }

    fn expect(&self, method: &str, path: &str, body: Option<&Value>, ok: &[u16]) -> Result<String> {
        let (status, text) = self.send(method, path, body)?;
        if !ok.contains(&status) {
            bail!("{method} {path}: {status}: {text}");
        }
        Ok(text)
    }

    fn commits(&self) -> Result<(f64, f64)> {
        let text = self.expect("GET", "/metrics", None, &[200])?;
        let read = |name: &str| {
            text.lines()
                .find_map(|l| {
                    l.strip_prefix(name)
                        .and_then(|v| v.trim().parse::<f64>().ok())
                })
                .unwrap_or(0.0)
        };
        Ok((
            read("twinspace_commit_commits_total "),
            read("twinspace_commit_batches_total "),
        ))
    }
}

fn run_parallel(
    threads: usize,
    work: impl Fn(usize) -> Result<()> + Send + Sync + 'static,
) -> Result<()> {
    let work = Arc::new(work);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let work = Arc::clone(&work);
            std::thread::spawn(move || work(t))
        })
        .collect();
    for handle in handles {
        handle
            .join()
            .map_err(|_| anyhow::anyhow!("a bench thread panicked"))??;
    }
    Ok(())
}

/// A server started by the bench itself: its URL, admin token and data directory.
struct Local {
    url: String,
    token: String,
    data_dir: std::path::PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Local {
    fn start() -> Result<Local> {
        let data_dir = std::env::temp_dir().join(format!("twinspace-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        let store: Arc<dyn store::Store> = Arc::new(crate::serve::open_store(&data_dir)?);
        let opened = server::App::open(store, server::ServerOptions::default())?;
        let token = opened
            .first_admin_token
            .context("a fresh store makes an admin token")?;
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}", listener.local_addr()?);
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = opened.app;
        let thread = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                    let serve = axum::serve(listener, app.router()).with_graceful_shutdown(async {
                        let _ = stopped.await;
                    });
                    let _ = serve.await;
                }
                app.shutdown().await;
            });
        });
        Ok(Local {
            url,
            token,
            data_dir,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

pub(crate) fn run(command: BenchCommand) -> Result<()> {
    let args = match command {
        BenchCommand::Http(args) => args,
        BenchCommand::Restart(args) => return crate::bench_restart::run(&args),
        BenchCommand::Live(args) => return crate::bench_live::run(&args),
    };
    let local = match &args.url {
        Some(_) => None,
        None => Some(Local::start()?),
    };
    let (url, token) = match (&local, args.url, args.token) {
        (Some(local), _, _) => (local.url.clone(), local.token.clone()),
        (None, Some(url), Some(token)) => (url, token),
        (None, _, None) => bail!("--url needs --token (an admin token of that server)"),
        (None, None, Some(_)) => bail!("unreachable: no url and no local server"),
    };
    println!(
        "server                           {}",
        if local.is_some() {
            if cfg!(debug_assertions) {
                "started by the bench (DEBUG build: use --release for figures)"
            } else {
                "started by the bench (release build, loopback, fsync on)"
            }
        } else {
            url.as_str()
        }
    );
    let threads = args.threads.clamp(1, THREADS_MAX);
    let twins = args.twins.clamp(threads, TWINS_MAX);
    let seconds = args.seconds.clamp(1, SECONDS_MAX);
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .max_idle_connections(THREADS_MAX)
        .max_idle_connections_per_host(THREADS_MAX)
        .build()
        .new_agent();
    let root = Client {
        agent: agent.clone(),
        base: url.trim_end_matches('/').to_owned(),
        auth: format!("Bearer {token}"),
    };
    let world = format!("bench-{}", std::process::id());
    root.expect("POST", "/worlds", Some(&json!({ "id": world })), &[201])?;
    let client = Arc::new(Client {
        agent,
        base: format!("{}/worlds/{world}", root.base),
        auth: root.auth.clone(),
    });
    let result = measure(&client, threads, twins, seconds, &root);
    root.expect("DELETE", &format!("/worlds/{world}"), None, &[204])?;
    result
}

fn measure(
    client: &Arc<Client>,
    threads: usize,
    twins: usize,
    seconds: u64,
    root: &Client,
) -> Result<()> {
    let model = json!([{ "@id": "dtmi:bench:Machine;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
        "contents": (0..10).map(|i| json!({ "@type": "Property", "name": format!("p{i}"), "schema": "double" })).collect::<Vec<_>>() }]);
    client.expect("POST", "/models", Some(&model), &[201])?;

    let started = Instant::now();
    {
        let client = Arc::clone(client);
        run_parallel(threads, move |t| {
            for n in (t..twins).step_by(threads) {
                let mut twin = json!({ "$metadata": { "$model": "dtmi:bench:Machine;1" } });
                for i in 0..10 {
                    twin[format!("p{i}")] = json!(n as f64 + f64::from(i));
                }
                client.expect("PUT", &format!("/digitaltwins/m{n}"), Some(&twin), &[200])?;
            }
            Ok(())
        })?;
    }
    let created_per_second = twins as f64 / started.elapsed().as_secs_f64();

    let (commits_before, batches_before) = root.commits()?;
    let patches = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    {
        let (client, patches) = (Arc::clone(client), Arc::clone(&patches));
        run_parallel(threads, move |t| {
            let mut n = t;
            while Instant::now() < deadline {
                let patch = json!([{ "op": "replace", "path": format!("/p{}", n % 10), "value": n as f64 }]);
                client.expect(
                    "PATCH",
                    &format!("/digitaltwins/m{}", n % twins),
                    Some(&patch),
                    &[204],
                )?;
                patches.fetch_add(1, Ordering::Relaxed);
                n += threads;
            }
            Ok(())
        })?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let patched = patches.load(Ordering::Relaxed) as f64;
    let (commits_after, batches_after) = root.commits()?;
    let commits = commits_after - commits_before;
    println!("threads                          {threads}");
    println!("twins created over HTTP          {twins} at {created_per_second:.0}/s");
    println!(
        "patches over HTTP (durable, acknowledged)  {patched:.0} in {elapsed:.1} s = {:.0}/s",
        patched / elapsed
    );
    if commits > 0.0 {
        println!(
            "group commit during patches      {commits:.0} fsyncs, {:.1} writes per fsync",
            (batches_after - batches_before) / commits
        );
    }
    Ok(())
}
