//! Issue #18, acceptance 5: the README's walkthrough runs as written, on a fresh data dir.
//!
//! Every `sh` block after the README's two commands is run, in order, by one `bash` (so `KEY`
//! and `ADMIN` carry over as in a reader's terminal) against a real `bacon-server serve` started
//! the way the first command starts it. What a reader fills in is filled in the same way: the
//! server's address for `localhost:8080`, the key printed on first start for `bacon_…`, and each
//! `ten_…`, `flow_…`, `run_…`, `hk_…` with the last such id an earlier command printed. The
//! examples call `httpbin.org`; here a local echo stands in for it (tests have no internet).
//! Every `curl` must answer 2xx (`--fail-with-body`).

use std::path::Path;
use std::time::Duration;

use bacon_plugin_sdk::testing::wiremock::matchers::any;
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_tests::process::ServerProcess;

/// The bodies of the README's fenced `sh` blocks, in order.
fn sh_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// Defines `curl` as the README's curl, failing on a non-2xx answer and logging every answer,
/// and `last PREFIX`, the last id with that prefix any answer held.
const PRELUDE: &str = r#"set -euo pipefail
LOG="$PWD/answers.log"
: > "$LOG"
curl() { command curl --fail-with-body -sS "$@" | tee -a "$LOG"; echo >> "$LOG"; echo; }
last() { grep -oE "$1[0-9A-Za-z_-]+" "$LOG" | tail -1; }
"#;

fn fill_in(block: &str, server: &str, echo: &str) -> String {
    let echo_host = echo.trim_start_matches("http://");
    let mut script = block
        .replace("localhost:8080", server)
        .replace("https://httpbin.org", echo)
        .replace("httpbin.org", echo_host)
        .replace("KEY=bacon_…", "KEY=\"$FIRST_KEY\"");
    for prefix in ["ten_", "flow_", "run_", "hk_"] {
        script = script.replace(&format!("{prefix}…"), &format!("$(last {prefix})"));
    }
    script
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walkthrough_runs_as_written_on_a_fresh_data_dir() {
    let echo = MockServer::start().await;
    Mock::given(any()).respond_with(ResponseTemplate::new(200).set_body_string("{\"echo\": true}")).mount(&echo).await;
    let cwd = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(cwd.path(), &["serve"], &[("BACON_HTTP__BIND", "127.0.0.1:0")]);
    let base = server.wait_for_listening().await;
    let key = server.first_tenant_key();

    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let blocks = sh_blocks(&readme);
    // The README's two commands: this test runs the server the first starts (the same binary,
    // a debug build) and is itself part of the second.
    assert!(blocks[0].contains("bacon-server -- serve"), "{}", blocks[0]);
    assert!(blocks[1].contains("cargo test --workspace"), "{}", blocks[1]);
    assert!(blocks.len() >= 6, "the walkthrough's blocks: {blocks:#?}");
    let server_address = base.trim_start_matches("http://");
    let script: String = std::iter::once(PRELUDE.to_string())
        .chain(blocks[2..].iter().map(|block| fill_in(block, server_address, &echo.uri())))
        .collect::<Vec<_>>()
        .join("\n");

    let ran = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(cwd.path())
            .env("FIRST_KEY", &key)
            .output(),
    )
    .await
    .expect("the walkthrough finishes")
    .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&ran.stdout), String::from_utf8_lossy(&ran.stderr));
    assert!(ran.status.success(), "a README command failed.\nscript:\n{script}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    // What the walkthrough did: a tenant and its key, a run of the README's flow, a delivery's
    // run, and the HTTP plugin's call through the echo.
    let answers = std::fs::read_to_string(cwd.path().join("answers.log")).unwrap();
    for expected in ["\"name\":\"Acme\"", "\"role\":\"editor\"", "\"name\":\"Order lookup\"", "\"hookUrl\""] {
        assert!(answers.contains(expected), "no {expected} in the answers:\n{answers}");
    }
    assert!(!echo.received_requests().await.unwrap_or_default().is_empty(), "the HTTP plugin called the echo");
    server.terminate(Duration::from_secs(30)).await;
}
