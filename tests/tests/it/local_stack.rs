//! `make run` end to end: `scripts/local-stack` on free ports, the commands it prints run
//! as printed, deliveries of every kind sent with `webhook-cli`, what landed read back
//! with `webhook-cli show`, then a Ctrl-C and nothing it started left running.
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::moto::free_port;
use serde_json::Value;

/// Not the script's default, so the test sees that the setting reaches the function.
const SECRET: &str = "E_AI_K_local-stack-test-not-real";
/// Moto's start, the resources and the function's start; generous for a loaded machine.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// Ctrl-C to exit: the script gives each process group 5 s before it kills it.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// `webhook-cli`: `WEBHOOK_CLI_BIN`, else `$CARGO_TARGET_DIR` (or the workspace's
/// `target`) `/debug/webhook-cli`. Panics when it is missing or older than its sources.
fn cli_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("WEBHOOK_CLI_BIN").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    built_bin("webhook-cli", &["cli/src", "shared/src"])
}

/// `local-gateway` (tools/local-gateway), as [`cli_bin`] finds `webhook-cli`.
fn gateway_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("LOCAL_GATEWAY_BIN").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    built_bin("local-gateway", &["tools/local-gateway/src"])
}

/// `$CARGO_TARGET_DIR` (or the workspace's `target`) `/debug/NAME`, which
/// `scripts/build-binaries` builds. Panics when it is missing or older than a `.rs` file
/// under `sources` (directories relative to the workspace root).
fn built_bin(name: &str, sources: &[&str]) -> PathBuf {
    let root = e2e::workspace_root();
    let bin = e2e::target_dir().join("debug").join(name);
    let built = std::fs::metadata(&bin).and_then(|m| m.modified()).unwrap_or_else(|_| {
        panic!(
            "{name} not found: run the end-to-end tests with `make e2e` (scripts/e2e), which builds them first, or run `scripts/build-binaries` before [looked at {}]",
            bin.display()
        )
    });
    let dirs: Vec<PathBuf> = sources.iter().map(|d| root.join(d)).collect();
    if let Some(newer) = newer_source(built, &dirs) {
        panic!(
            "{name} is older than {}: run the end-to-end tests with `make e2e` (scripts/e2e), which builds them first, or run `scripts/build-binaries` before",
            newer.display()
        );
    }
    bin
}

/// A `.rs` file under `dirs` modified after `built`. (Manifests are left out, as in
/// `e2e::function`: a change to one need not relink the binary.)
fn newer_source(built: std::time::SystemTime, dirs: &[PathBuf]) -> Option<PathBuf> {
    let mut stack = dirs.to_vec();
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).ok()?.flatten().map(|e| e.path()));
        } else if path.extension().is_some_and(|e| e == "rs")
            && std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t > built)
        {
            return Some(path);
        }
    }
    None
}

/// The script starts as a terminal's foreground job does: SIGINT and SIGQUIT at their
/// default actions. This test may run in a process that ignores them (started with `&` by
/// a non-interactive shell, by `nohup`, by some CI runners), and an ignored signal stays
/// ignored across exec, so that bash could not even trap the Ctrl-C. GNU env resets them
/// and then execs the script (same process, same group); `std` alone cannot without
/// `unsafe`.
const DEFAULT_SIGNALS: [&str; 2] = ["env", "--default-signal=INT,QUIT"];

/// `scripts/local-stack` in a process group of its own, its stdout and stderr collected.
struct LocalStack {
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
    exit: Option<ExitStatus>,
    /// The processes it had started when last looked at (see [`LocalStack::started`]).
    started: Vec<Proc>,
}

impl LocalStack {
    fn start(moto_port: u16, gateway_port: u16) -> Self {
        let root = e2e::workspace_root();
        let [launcher, reset] = DEFAULT_SIGNALS;
        let mut child = Command::new(launcher)
            .arg(reset)
            .arg(root.join("scripts/local-stack"))
            .current_dir(&root)
            .env("MOTO_PORT", moto_port.to_string())
            .env("GATEWAY_PORT", gateway_port.to_string())
            .env("EXTRACTA_WEBHOOK_SECRET", SECRET)
            // Never `cargo build` from inside `cargo test` (it would wait for the build
            // directory lock this test run holds): run the binaries already built.
            .env("LOCAL_STACK_SKIP_BUILD", "1")
            .env("WEBHOOK_BIN", e2e::function::webhook_bin())
            .env("WEBHOOK_CLI_BIN", cli_bin())
            .env("LOCAL_GATEWAY_BIN", gateway_bin())
            .env_remove("AWS_LAMBDA_LOG_FORMAT")
            .env_remove("RESULTS_PREFIX")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Like a terminal's foreground job: Ctrl-C is a SIGINT to this whole group.
            .process_group(0)
            .spawn()
            .expect("start scripts/local-stack through GNU env (coreutils 8.31 or later)");
        let output = Arc::new(Mutex::new(Vec::new()));
        if let Some(out) = child.stdout.take() {
            collect(out, output.clone());
        }
        if let Some(err) = child.stderr.take() {
            collect(err, output.clone());
        }
        LocalStack {
            child,
            output,
            exit: None,
            started: Vec::new(),
        }
    }

    /// Every process the script has started and that still runs, remembered so that
    /// none outlives the test, whatever happens.
    fn started(&mut self) -> Vec<Proc> {
        self.started = descendants(self.pid());
        self.started.clone()
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn output(&self) -> String {
        self.output.lock().unwrap_or_else(|p| p.into_inner()).join("\n")
    }

    /// Waits for a line starting with `prefix`; panics (with the output) if the script
    /// exits first or `timeout` passes.
    fn wait_for_line(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.output().lines().find(|l| l.starts_with(prefix)) {
                return line.to_owned();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "scripts/local-stack exited ({status}) before printing {prefix:?}\n--- output ---\n{}",
                    self.output()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "no {prefix:?} line within {timeout:?}\n--- output ---\n{}",
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `signal` to the script's process group, as a terminal does on Ctrl-C.
    fn signal_group(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), "--", &format!("-{}", self.pid())])
            .stderr(Stdio::null())
            .status();
    }

    /// Waits up to `timeout` for the script to exit.
    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(status);
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for LocalStack {
    /// A failed assertion must not leave the stack running: SIGTERM, then SIGKILL, to the
    /// script and to every process it was seen to start.
    fn drop(&mut self) {
        if self.exit.is_none() && self.wait_exit(Duration::ZERO).is_none() {
            self.signal_group("TERM");
            if self.wait_exit(Duration::from_secs(15)).is_none() {
                self.signal_group("KILL");
                let _ = self.child.wait();
            }
        }
        for p in self.started.iter().filter(|p| still_running(p)) {
            let _ = Command::new("kill").args(["-KILL", &p.pid.to_string()]).status();
        }
    }
}

fn collect(stream: impl Read + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            into.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
    });
}

/// A process as `/proc` shows it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Proc {
    pid: u32,
    cmdline: String,
}

/// `(parent pid, state, cmdline)` of a live process, from `/proc`.
fn proc_info(pid: u32) -> Option<(u32, char, String)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    let mut rest = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ").trim().to_owned();
    Some((ppid, state, cmdline))
}

/// Every process descended from `root` right now (not `root` itself).
fn descendants(root: u32) -> Vec<Proc> {
    let mut children: BTreeMap<u32, Vec<Proc>> = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Some((ppid, _, cmdline)) = proc_info(pid) {
            children.entry(ppid).or_default().push(Proc { pid, cmdline });
        }
    }
    let mut found = Vec::new();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        for child in children.remove(&pid).unwrap_or_default() {
            todo.push(child.pid);
            found.push(child);
        }
    }
    found.sort();
    found
}

/// True when `p` still runs (same pid, same command line, not a zombie).
fn still_running(p: &Proc) -> bool {
    matches!(proc_info(p.pid), Some((_, state, cmdline)) if state != 'Z' && cmdline == p.cmdline)
}

fn refuses(port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_secs(1)).is_err()
}

/// A command line as the script prints it: `NAME=value ...` assignments, then the program
/// and its arguments (no quoting needed: the script prints none).
fn run_printed(line: &str) -> (bool, String) {
    let mut words = line.split_whitespace().peekable();
    let mut env = Vec::new();
    while let Some((name, value)) = words.peek().and_then(|w| w.split_once('=')) {
        if !name.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            break;
        }
        env.push((name.to_owned(), value.to_owned()));
        words.next();
    }
    let program = words.next().unwrap_or_else(|| panic!("no program in {line:?}"));
    run(Command::new(program).args(words).envs(env))
}

/// Runs a command from the workspace root; returns success and stdout + stderr.
fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .current_dir(e2e::workspace_root())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The answer `webhook-cli send` printed: `HTTP <status>` then the body.
fn answer(output: &str) -> (u16, Value) {
    let (head, body) = output.split_once('\n').unwrap_or((output, ""));
    let status = head
        .strip_prefix("HTTP ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("webhook-cli send printed no HTTP status:\n{output}"));
    let body = serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("answer body is not JSON ({e}):\n{output}"));
    (status, body)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_else(|| panic!("not a string: {s}")).to_owned())
        .collect()
}

/// What `webhook-cli show` printed: the object keys, and each queue's message bodies.
struct Shown {
    keys: BTreeSet<String>,
    queues: BTreeMap<String, Vec<Value>>,
}

fn parse_show(output: &str) -> Shown {
    let mut keys = BTreeSet::new();
    let mut queues: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut queue: Option<String> = None;
    for line in output.lines() {
        if line.starts_with("http") {
            queue = Some(line.trim().to_owned());
            queues.entry(line.trim().to_owned()).or_default();
        } else if let (Some(q), Some(rest)) = (&queue, line.strip_prefix("  [")) {
            let (_, body) = rest
                .split_once("] ")
                .unwrap_or_else(|| panic!("message line without attributes: {line}"));
            let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("message is not JSON ({e}): {body}"));
            queues.entry(q.clone()).or_default().push(body);
        } else if queue.is_none() {
            // "  <size>  <key>" lines of the bucket listing.
            let mut words = line.split_whitespace();
            if let (Some(size), Some(key), None) = (words.next(), words.next(), words.next()) {
                if size.parse::<u64>().is_ok() {
                    keys.insert(key.to_owned());
                }
            }
        }
    }
    Shown { keys, queues }
}

fn queue_ending<'a>(shown: &'a Shown, suffix: &str, output: &str) -> &'a [Value] {
    shown
        .queues
        .iter()
        .find(|(url, _)| url.ends_with(suffix))
        .map(|(_, messages)| messages.as_slice())
        .unwrap_or_else(|| panic!("no queue ending in {suffix} in:\n{output}"))
}

#[test]
fn make_run_serves_signed_deliveries_and_ctrl_c_stops_everything() {
    let moto_port = free_port();
    let gateway_port = std::iter::repeat_with(free_port)
        .find(|p| *p != moto_port)
        .expect("a second free port");
    let url = format!("http://127.0.0.1:{gateway_port}/webhook");
    let cli = cli_bin();

    // GIVEN the local stack, started the way `make run` starts it, on free ports,
    let mut stack = LocalStack::start(moto_port, gateway_port);
    let ready = stack.wait_for_line("local-stack: ready", READY_TIMEOUT);
    assert!(ready.contains(&url), "the ready line names the URL: {ready}");
    let banner = stack.output();
    assert!(banner.contains(SECRET), "the banner shows the secret in use:\n{banner}");
    let printed = |needle: &str| {
        banner
            .lines()
            .find(|l| l.contains(needle))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no printed command with {needle:?}:\n{banner}"))
            .to_owned()
    };
    let send_line = printed("webhook-cli send ");
    let show_line = printed("webhook-cli show ");
    for part in [url.as_str(), SECRET, "--event extraction.confirmed", "--files 3"] {
        assert!(
            send_line.contains(part),
            "{part:?} missing from the printed send command: {send_line}"
        );
    }
    let endpoint = format!("AWS_ENDPOINT_URL=http://127.0.0.1:{moto_port}");
    assert!(show_line.contains(&endpoint), "{show_line}");
    assert!(show_line.contains("--bucket extracta-results"), "{show_line}");

    // AND everything it started, as the process tree shows it.
    let started = stack.started();
    for name in ["moto_server", "local-gateway", "webhook"] {
        assert!(
            started
                .iter()
                .any(|p| p.cmdline.split_whitespace().any(|w| w.ends_with(name))),
            "no {name} process under the script: {started:#?}"
        );
    }

    // WHEN the printed send command runs as printed (confirmed, 3 files),
    let (ok, out) = run_printed(&send_line);
    assert!(
        ok,
        "the printed send command failed:\n{out}\n--- stack ---\n{}",
        stack.output()
    );
    let mut answers = vec![("extraction.confirmed", 3, answer(&out))];
    // AND the other events are sent,
    for (event, files) in [
        ("extraction.processed", 2),
        ("extraction.edited", 2),
        ("extraction.failed", 2),
        ("classification.completed", 1),
    ] {
        let (ok, out) = run(Command::new(&cli)
            .args(["send", "--url", &url, "--secret", SECRET, "--event", event])
            .args(["--files", &files.to_string()]));
        assert!(ok, "send {event} failed:\n{out}\n--- stack ---\n{}", stack.output());
        answers.push((event, files, answer(&out)));
    }
    // AND one with a wrong secret,
    let (ok, out) = run(Command::new(&cli).args([
        "send",
        "--url",
        &url,
        "--secret",
        "E_AI_K_not-the-secret",
        "--event",
        "extraction.confirmed",
    ]));

    // THEN the wrong secret is refused with 401,
    assert!(!ok, "webhook-cli send must fail on a 401:\n{out}");
    assert_eq!(answer(&out).0, 401, "{out}");
    // AND every other delivery got a 200 that routes it as the contract says,
    let mut expected_keys = BTreeSet::new();
    let mut stored_by_event: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (event, files, (status, body)) in &answers {
        assert_eq!(*status, 200, "{event}: {body}");
        assert_eq!(body["event"], *event, "{body}");
        let routed = if event.starts_with("extraction.") { *files } else { 0 };
        assert_eq!(body["files"], routed, "{event}: {body}");
        let stored = strings(&body["stored"]);
        assert_eq!(stored.len(), routed, "{event}: {body}");
        let published = if matches!(*event, "extraction.confirmed" | "extraction.failed") {
            *files
        } else {
            0
        };
        assert_eq!(body["published"], published, "{event}: {body}");
        let archived = body["archived"]
            .as_str()
            .unwrap_or_else(|| panic!("no archive key: {body}"));
        assert!(archived.starts_with("extracta/_deliveries/"), "{archived}");
        assert!(archived.contains(&format!("/{event}/")), "{archived}");
        expected_keys.insert(archived.to_owned());
        expected_keys.extend(stored.iter().cloned());
        stored_by_event.insert(event, stored);
    }
    // AND the printed show command finds exactly those objects, and the messages.
    let (ok, out) = run_printed(&show_line);
    assert!(ok, "the printed show command failed:\n{out}");
    let shown = parse_show(&out);
    assert_eq!(shown.keys, expected_keys, "objects in the bucket:\n{out}");
    for (queue, event, count) in [
        ("/extracta-confirmed-queue", "extraction.confirmed", 3),
        ("/extracta-failed-queue", "extraction.failed", 2),
    ] {
        let messages = queue_ending(&shown, queue, &out);
        assert_eq!(messages.len(), count, "messages on {queue}:\n{out}");
        let mut keys: Vec<String> = messages
            .iter()
            .map(|m| {
                assert_eq!(m["event"], event, "{m}");
                assert!(m["eventId"].as_str().is_some_and(|id| id.len() == 64), "{m}");
                assert_eq!(m["s3"]["bucket"], "extracta-results", "{m}");
                m["s3"]["key"].as_str().unwrap_or_default().to_owned()
            })
            .collect();
        keys.sort();
        let mut want = stored_by_event[event].clone();
        want.sort();
        assert_eq!(keys, want, "each message points at its stored object");
    }
    // AND the event bus's rule handed its queue one event per file of the four events and
    // one archive pointer for the future namespace (docs/contract.md §10).
    let events = queue_ending(&shown, "/extracta-events-rule-target", &out);
    let mut per_type: BTreeMap<String, usize> = BTreeMap::new();
    for e in events {
        assert_eq!(e["source"], "extracta.ai", "{e}");
        *per_type
            .entry(e["detail-type"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    let want: BTreeMap<String, usize> = [
        ("extraction.confirmed", 3),
        ("extraction.processed", 2),
        ("extraction.edited", 2),
        ("extraction.failed", 2),
        ("classification.completed", 1),
    ]
    .into_iter()
    .map(|(t, n)| (t.to_owned(), n))
    .collect();
    assert_eq!(per_type, want, "events on the rule's queue:\n{out}");
    // AND the function's and the gateway's log lines reached the terminal.
    let log = stack.output();
    for needle in [
        "status=200",
        "status=401",
        "local-gateway: POST /webhook -> 200",
        "local-gateway: POST /webhook -> 401",
    ] {
        assert!(log.contains(needle), "{needle:?} not in the output:\n{log}");
    }

    // WHEN Ctrl-C reaches the script (a SIGINT to its process group),
    stack.signal_group("INT");
    let status = stack.wait_exit(STOP_TIMEOUT);

    // THEN it exits 0, and nothing it started runs or listens any more.
    let output = stack.output();
    assert!(
        status.is_some(),
        "scripts/local-stack still runs {STOP_TIMEOUT:?} after SIGINT:\n{output}"
    );
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "exit status after SIGINT:\n{output}"
    );
    assert!(output.contains("local-stack: stopped"), "{output}");
    assert!(
        !output.contains("unexpectedly"),
        "an orderly stop must not look like a crash:\n{output}"
    );
    let survivors: Vec<&Proc> = started.iter().filter(|p| still_running(p)).collect();
    assert!(survivors.is_empty(), "still running after Ctrl-C: {survivors:#?}");
    assert!(refuses(moto_port), "moto's port {moto_port} still accepts connections");
    assert!(
        refuses(gateway_port),
        "the gateway's port {gateway_port} still accepts connections"
    );
}

#[test]
fn the_test_helpers_read_what_they_claim() {
    // The printed-command runner passes the assignments and stops at the program.
    let (ok, out) = run_printed("LOCAL_STACK_PROBE=yes printenv LOCAL_STACK_PROBE");
    assert!(ok && out.trim() == "yes", "{out}");
    // `show`'s output, as cli/src/show.rs prints it.
    let shown = parse_show(
        "s3://b/\n       12  a/one.json\n        3  a/two.json\n  (2 objects)\n\
         http://127.0.0.1:1/123/q-queue\n  [event=x] {\"event\":\"x\"}\n  (1 messages)\n\
         http://127.0.0.1:1/123/r-queue\n  (0 messages)\n",
    );
    assert_eq!(
        shown.keys,
        BTreeSet::from(["a/one.json".to_owned(), "a/two.json".to_owned()])
    );
    assert_eq!(shown.queues.len(), 2);
    assert_eq!(queue_ending(&shown, "/q-queue", "")[0]["event"], "x");
    assert!(queue_ending(&shown, "/r-queue", "").is_empty());
    // The launcher resets SIGINT and SIGQUIT when its parent ignores them (here a shell
    // that ignores them, as `&` in a non-interactive shell does).
    let ignored = |prefix: &[&str]| {
        let probe = ["sh", "-c", "grep '^SigIgn:' /proc/self/status"];
        let (ok, out) = run(Command::new("sh")
            .args(["-c", "trap '' INT QUIT; exec \"$@\"", "sh"])
            .args(prefix)
            .args(probe));
        assert!(ok, "{out}");
        let mask = out.trim().strip_prefix("SigIgn:").map(str::trim).unwrap_or_default();
        let mask = u64::from_str_radix(mask, 16).unwrap_or_else(|_| panic!("no SigIgn mask: {out}"));
        (mask & 0b10 != 0, mask & 0b100 != 0) // bit N-1 is signal N: SIGINT 2, SIGQUIT 3
    };
    assert_eq!(ignored(&[]), (true, true), "without the launcher both stay ignored");
    assert_eq!(ignored(&DEFAULT_SIGNALS), (false, false), "with it neither is");
    // The process tree: this test's own child is found, and gone once reaped.
    let mut child = Command::new("sleep").arg("30").spawn().expect("sleep");
    let found = descendants(std::process::id());
    let sleeper = found
        .iter()
        .find(|p| p.pid == child.id())
        .expect("the child is a descendant")
        .clone();
    assert!(still_running(&sleeper));
    child.kill().expect("kill");
    child.wait().expect("reap");
    assert!(!still_running(&sleeper));
}
