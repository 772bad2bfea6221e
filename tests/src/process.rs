//! The real `bacon-server` binary as a child process, for start-up, restart and crash tests.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// Builds `bacon-server` (a no-op when it is up to date) and returns its path.
///
/// # Panics
/// When cargo cannot build it.
pub fn server_binary() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf();
        let mut command = std::process::Command::new(cargo);
        command
            .args(["build", "--quiet", "-p", "bacon-api", "--bin", "bacon-server", "--message-format=json"])
            .current_dir(&workspace)
            .stderr(Stdio::inherit());
        // Cargo sets CARGO_PKG_* and friends for this test; build scripts that watch them would
        // see a change and rebuild half the tree, twice per test run. Hand cargo a clean slate.
        for (key, _) in std::env::vars() {
            let keep = ["CARGO_HOME", "CARGO_TARGET_DIR", "CARGO_NET_OFFLINE"].contains(&key.as_str())
                || key.starts_with("CARGO_BUILD_")
                || key.starts_with("CARGO_REGISTRIES_");
            if (key.starts_with("CARGO_") && !keep) || key == "OUT_DIR" || key.starts_with("RUST_TEST") {
                command.env_remove(key);
            }
        }
        let output = command.output().expect("cargo runs");
        assert!(output.status.success(), "building bacon-server failed");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|msg| msg["target"]["name"] == "bacon-server")
            .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
            .expect("cargo reports the bacon-server executable")
    })
    .clone()
}

/// A running `bacon-server` child whose stdout and stderr lines are collected.
pub struct ServerProcess {
    pub child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    pub output: Vec<String>,
    /// What the process wrote to stdout alone (where its log lines go).
    stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts `bacon-server <args>` in `cwd` with only the given `BACON_*` variables set, and
    /// loopback opened to plugins (wiremock vendors listen there) unless `env` sets
    /// `BACON_EGRESS__ALLOW_INTERNAL` itself.
    ///
    /// # Panics
    /// When the process cannot be started.
    pub fn start(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(server_binary());
        command.args(args);
        Self::spawn(command, cwd, env)
    }

    /// Like [`ServerProcess::start`], with the process's address space capped at `bytes`
    /// (`RLIMIT_AS`, set by the shell that then becomes the server): an allocation past it
    /// aborts the process.
    ///
    /// # Panics
    /// When the process cannot be started.
    pub fn start_with_address_space(cwd: &Path, args: &[&str], env: &[(&str, &str)], bytes: u64) -> Self {
        let mut command = Command::new("sh");
        command.arg("-c").arg(format!("ulimit -v {} && exec \"$0\" \"$@\"", bytes / 1024));
        command.arg(server_binary()).args(args);
        Self::spawn(command, cwd, env)
    }

    fn spawn(mut command: Command, cwd: &Path, env: &[(&str, &str)]) -> Self {
        command.current_dir(cwd).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        for (key, _) in std::env::vars() {
            if key.starts_with("BACON_") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        command.env("BACON_LOG_FORMAT", "plain");
        command.env("BACON_EGRESS__ALLOW_INTERNAL", crate::app::TEST_ALLOW_INTERNAL.join(","));
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("bacon-server starts");
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        for (stream, copy) in [
            (
                child.stdout.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
                Some(stdout.clone()),
            ),
            (child.stderr.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>), None),
        ] {
            let Some(stream) = stream else { continue };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    if let Some(copy) = &copy
                        && let Ok(mut lines) = copy.lock()
                    {
                        lines.push(line.clone());
                    }
                    let _ = tx.send(line);
                }
            });
        }
        Self { child, lines, output: Vec::new(), stdout }
    }

    /// Waits for an output line containing `needle` and returns it.
    ///
    /// # Panics
    /// When the process exits or `deadline` passes first; the output so far is in the message.
    pub async fn wait_for_line(&mut self, needle: &str, deadline: Duration) -> String {
        let found = tokio::time::timeout(deadline, async {
            while let Some(line) = self.lines.recv().await {
                self.output.push(line.clone());
                if line.contains(needle) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!("no line containing {needle:?}; output so far:\n{}", self.output.join("\n")),
        }
    }

    /// Waits for `Bacon is listening on http://ADDR` and returns `http://ADDR`.
    pub async fn wait_for_listening(&mut self) -> String {
        let line = self.wait_for_line("Bacon is listening on http://", Duration::from_secs(60)).await;
        let start = line.find("http://").expect("url");
        line[start..].split_whitespace().next().expect("url").to_string()
    }

    /// The first tenant's API key, which a first start prints (after it is listening).
    ///
    /// # Panics
    /// When the process has not printed one.
    pub fn first_tenant_key(&mut self) -> String {
        self.drain()
            .iter()
            .map(|l| l.trim())
            .find(|l| l.starts_with("bacon_") && !l.starts_with("bacon_admin_"))
            .expect("the first tenant's key is printed")
            .to_string()
    }

    /// The lines the process wrote to stdout until now.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().map(|lines| lines.clone()).unwrap_or_default()
    }

    /// Collects what the process printed until now without waiting.
    /// Waits for the process to exit and for every line it wrote (its pipes closed), up to
    /// `deadline`, and returns its exit status and all its output. (A `drain` right after the
    /// exit may miss lines the readers had not forwarded yet.)
    ///
    /// # Panics
    /// When the process does not exit within `deadline`.
    pub async fn exit(&mut self, deadline: Duration) -> (std::process::ExitStatus, &[String]) {
        let status = tokio::time::timeout(deadline, self.child.wait())
            .await
            .expect("the process exits in time")
            .expect("the exit status is read");
        let end = tokio::time::Instant::now() + deadline;
        while let Ok(Some(line)) = tokio::time::timeout_at(end, self.lines.recv()).await {
            self.output.push(line);
        }
        (status, &self.output)
    }

    pub fn drain(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.output.push(line);
        }
        &self.output
    }

    /// Sends SIGTERM and waits for a clean exit.
    ///
    /// # Panics
    /// When the process does not exit within `deadline` or exits with an error.
    pub async fn terminate(&mut self, deadline: Duration) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(status.success());
        let exit =
            tokio::time::timeout(deadline, self.child.wait()).await.expect("exits in time").expect("exit status");
        self.drain();
        assert!(exit.success(), "exit status {exit:?}; output:\n{}", self.output.join("\n"));
    }
}
