//! One moto server per test binary, started on a free port and killed with the process.
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Kills moto when the test process (whose pid is `$1`) disappears, and passes on moto's
/// exit status if moto dies first. The test process never runs destructors for statics,
/// so this is what keeps `cargo test` from leaving a server behind.
const WATCHDOG: &str = r#"
parent=$1; shift
"$@" &
child=$!
trap 'kill "$child" 2>/dev/null; exit 0' TERM INT HUP
while kill -0 "$parent" 2>/dev/null; do
  if ! kill -0 "$child" 2>/dev/null; then wait "$child"; exit $?; fi
  sleep 0.3
done
kill "$child" 2>/dev/null
sleep 1
kill -9 "$child" 2>/dev/null
exit 0
"#;

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    /// Where its output goes.
    pub log: PathBuf,
    /// The watchdog shell (moto's parent); it lives as long as the test process.
    watchdog: std::sync::Mutex<std::process::Child>,
}

impl Moto {
    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// True while moto's watchdog (and so moto) is running.
    pub fn is_running(&self) -> bool {
        let mut child = self.watchdog.lock().unwrap_or_else(|p| p.into_inner());
        matches!(child.try_wait(), Ok(None))
    }

    /// The socket address, for proxies.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

/// The moto server of this test binary, started on first use.
pub fn shared() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(start)
}

/// Finds `moto_server`: the project's `.venv` first, then `PATH`. Panics when absent.
pub fn find_moto_server() -> PathBuf {
    let venv = crate::workspace_root().join(".venv/bin/moto_server");
    if venv.is_file() {
        return venv;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("moto_server");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!("moto_server not found: run scripts/dev-setup (installs requirements-dev.txt into .venv)");
}

/// A command that runs `program` (add its arguments) under the watchdog: it is killed
/// once process `parent` is gone.
pub fn watched(parent: u32, program: &std::path::Path) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(WATCHDOG)
        .arg("e2e-watchdog")
        .arg(parent.to_string())
        .arg(program);
    cmd
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

fn start() -> Moto {
    let bin = find_moto_server();
    let dir = crate::workspace_root().join("target/e2e");
    std::fs::create_dir_all(&dir).expect("create target/e2e");
    let mut last_error = String::new();
    for _attempt in 0..3 {
        let port = free_port();
        let log = dir.join(format!("moto-{}-{port}.log", std::process::id()));
        let out = std::fs::File::create(&log).expect("create moto log");
        let err = out.try_clone().expect("clone moto log handle");
        let mut child = watched(std::process::id(), &bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", bin.display()));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if answers(port) {
                return Moto {
                    port,
                    log,
                    watchdog: std::sync::Mutex::new(child),
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                last_error = format!(
                    "{} exited with {status} before answering on port {port}; see {}",
                    bin.display(),
                    log.display()
                );
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} did not answer on port {port} within 60 s; see {}",
                    bin.display(),
                    log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("moto_server failed to start: {last_error}");
}

/// True when an HTTP server answers on the port.
fn answers(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream
        .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    let mut got = 0;
    while got < head.len() {
        match stream.read(&mut head[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    head[..got].starts_with(b"HTTP/1.")
}
