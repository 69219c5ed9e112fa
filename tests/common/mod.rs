//! Shared helpers for integration tests: fixture paths, a generated tiny model, engines on
//! temporary LanceDB stores, and a real HTTP server on 127.0.0.1.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use chronoseek::index::Store;
use chronoseek::ingest::{FetchOptions, Fetcher};
use chronoseek::model::tiny::{TinySpec, write_random_clip};
use chronoseek::model::{ClipEmbedder, DeviceSpec, ModelFiles};
use chronoseek::query::{Engine, EngineOptions};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("data/fixtures/videos").join(name)
}

/// `../shared` beside the checkout (read-only data the project may read in tests).
pub fn shared() -> PathBuf {
    root().join("../shared")
}

/// A tiny CLIP with seeded random weights, written once per test binary.
pub fn tiny_model_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        write_random_clip(dir.path(), TinySpec::default(), 7).expect("write tiny model");
        dir
    })
    .path()
}

/// The model the project trained and ships (`data/fixtures/models/chronoseek-tiny-clip`),
/// whose answers on the colour-scene fixtures mean something.
pub fn bundled_model() -> Arc<ClipEmbedder> {
    static MODEL: OnceLock<Arc<ClipEmbedder>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let files =
                ModelFiles::in_dir(&root().join("data/fixtures/models/chronoseek-tiny-clip")).expect("model files");
            Arc::new(
                ClipEmbedder::from_files(&files, "chronoseek-tiny-clip", DeviceSpec::Cpu).expect("load bundled model"),
            )
        })
        .clone()
}

pub fn tiny_model() -> Arc<ClipEmbedder> {
    static MODEL: OnceLock<Arc<ClipEmbedder>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let files = ModelFiles::in_dir(tiny_model_dir()).expect("model files");
            Arc::new(ClipEmbedder::from_files(&files, "tiny-test", DeviceSpec::Cpu).expect("load tiny model"))
        })
        .clone()
}

/// An engine over a fresh store in `dir`.
pub async fn engine_in(dir: &Path, opts: EngineOptions) -> Engine {
    let store = Store::open(&dir.join("store").display().to_string()).await.expect("open store");
    let fetcher = Fetcher::new(FetchOptions::default()).expect("fetcher");
    Engine::new(store, tiny_model(), fetcher, opts)
}

/// An engine over the store of a test-matrix backend.
pub async fn engine_on(backend: &Backend, opts: EngineOptions) -> Engine {
    let fetcher = Fetcher::new(FetchOptions::default()).expect("fetcher");
    Engine::new(backend.open().await, tiny_model(), fetcher, opts)
}

/// A minimal HTTP/1.1 file server on 127.0.0.1 for download tests: serves files from `dir`
/// with ETag and Content-Length, answers HEAD, 404s unknown paths, and `/redirect/N` chains.
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    pub gets: Arc<std::sync::atomic::AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub async fn start(dir: PathBuf) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let gets = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = gets.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else { return };
                let dir = dir.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut req = Vec::new();
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        let Ok(n) = sock.read(&mut buf).await else { return };
                        if n == 0 {
                            return;
                        }
                        req.extend_from_slice(&buf[..n]);
                    }
                    let text = String::from_utf8_lossy(&req).to_string();
                    let mut parts = text.split_whitespace();
                    let method = parts.next().unwrap_or("").to_string();
                    let path = parts.next().unwrap_or("/").to_string();
                    let response: Vec<u8> = if let Some(n) = path.strip_prefix("/redirect/") {
                        let n: u32 = n.parse().unwrap_or(0);
                        let next = if n == 0 { "/scenes.mp4".to_string() } else { format!("/redirect/{}", n - 1) };
                        format!(
                            "HTTP/1.1 302 Found\r\nLocation: {next}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        )
                        .into_bytes()
                    } else {
                        match std::fs::read(dir.join(path.trim_start_matches('/'))) {
                            Ok(body) => {
                                let etag = blake3::hash(&body).to_hex()[..16].to_string();
                                let mut head = format!(
                                    "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {}\r\nETag: \"{etag}\"\r\nConnection: close\r\n\r\n",
                                    body.len()
                                )
                                .into_bytes();
                                if method == "GET" {
                                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                    head.extend_from_slice(&body);
                                }
                                head
                            }
                            Err(_) => {
                                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
                            }
                        }
                    };
                    let _ = sock.write_all(&response).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Self { addr, gets, _task: task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }
}

/// Compiled JSON schema from ../shared/protocol/jsonschema.
pub fn schema(name: &str) -> jsonschema::Validator {
    schema_at(&shared().join("protocol/jsonschema").join(name))
}

/// A schema of this repository's own outputs (`docs/schemas/`).
pub fn repo_schema(name: &str) -> jsonschema::Validator {
    schema_at(&root().join("docs/schemas").join(name))
}

fn schema_at(path: &Path) -> jsonschema::Validator {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value: serde_json::Value = serde_json::from_str(&text).expect("schema json");
    jsonschema::validator_for(&value).expect("valid schema")
}

pub fn assert_valid(validator: &jsonschema::Validator, instance: &serde_json::Value) {
    let errors: Vec<String> = validator.iter_errors(instance).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "schema violations {errors:?} in {instance}");
}

/// `src` as a camera writes it: the same streams (copied, not re-encoded) with a recording date
/// (`creation_time`, RFC 3339), written to `out` by the ffmpeg tool.
pub fn with_recording_date(src: &Path, date: &str, out: &Path) {
    let ok = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-i"])
        .arg(src)
        .args(["-c", "copy", "-metadata"])
        .arg(format!("creation_time={date}"))
        .arg(out)
        .status()
        .expect("the ffmpeg tool is installed");
    assert!(ok.success());
}

/// One hour of small MPEG-4 video at `path`, made by the ffmpeg tool: its ingest takes seconds,
/// long enough to interrupt or to hold an ingest slot.
pub fn long_video(path: &Path) {
    let ok = std::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x48:rate=4:duration=3600",
        ])
        .args(["-c:v", "mpeg4", "-q:v", "20"])
        .arg(path)
        .status()
        .expect("the ffmpeg tool is installed");
    assert!(ok.success());
}

/// Starts `chronoseek miner` on 127.0.0.1 with an OS-chosen port (`--json`), with the given
/// global options before the command and miner options after it; returns the process and the
/// port it printed.
pub fn spawn_miner(global: &[&std::ffi::OsStr], miner: &[&str]) -> (std::process::Child, u16) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_chronoseek"))
        .args(global)
        .args(["--json", "miner", "--host", "127.0.0.1", "--port", "0", "--allow-private-video-urls"])
        .args(miner)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn the miner");
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("miner output");
    let info: serde_json::Value = serde_json::from_str(&first).expect("the miner prints where it listens");
    let port =
        info["listening"].as_str().and_then(|l| l.rsplit(':').next()).and_then(|p| p.parse().ok()).expect("port");
    (child, port)
}

/// An HLS playlist whose segment is a local file, as a hostile server would send it.
pub fn playlist_with_local_segment(dir: &std::path::Path) -> std::path::PathBuf {
    let seg = dir.join("seg.ts");
    let status = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-i"])
        .arg(fixture("scenes.mp4"))
        .args(["-t", "5", "-c:v", "mpeg2video", "-f", "mpegts"])
        .arg(&seg)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    let list = dir.join("list.m3u8");
    let text = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:5\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:5.0,\nfile://{}\n#EXT-X-ENDLIST\n",
        seg.display()
    );
    std::fs::write(&list, text).unwrap();
    list
}

/// An S3-compatible server on 127.0.0.1: moto's `moto_server` from PyPI, in a venv made once
/// under the target directory (pinned version), one server per test binary. Conditional PUTs
/// (`If-None-Match: *`), which LanceDB's commits rely on, are supported since moto 5.0.14.
pub struct S3Server {
    pub endpoint: String,
}

pub const MOTO: &str = "moto[server]==5.2.5";
pub const S3_BUCKET: &str = "chronoseek";

impl S3Server {
    pub fn get() -> &'static S3Server {
        static SERVER: OnceLock<S3Server> = OnceLock::new();
        SERVER.get_or_init(Self::start)
    }

    fn start() -> S3Server {
        let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("moto-5.2.5");
        let server = venv.join("bin/moto_server");
        if !server.exists() {
            let ok = |c: &mut std::process::Command| c.status().map(|s| s.success()).unwrap_or(false);
            assert!(
                ok(std::process::Command::new("python3").args(["-m", "venv"]).arg(&venv)),
                "python3 -m venv failed (make deps installs python3-venv)"
            );
            assert!(
                ok(std::process::Command::new(venv.join("bin/python")).args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    MOTO,
                ])),
                "pip could not install {MOTO} from PyPI"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // Started from a thread that never ends, with PR_SET_PDEATHSIG (tied to the spawning
        // thread): the server dies with the test binary, never outlives it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::os::unix::process::CommandExt;
            let mut cmd = std::process::Command::new(&server);
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            match cmd.spawn() {
                Ok(_child) => {
                    tx.send(Ok(())).ok();
                    // This thread's life is the server's (PR_SET_PDEATHSIG): never return.
                    loop {
                        std::thread::park();
                    }
                }
                Err(e) => {
                    tx.send(Err(e.to_string())).ok();
                }
            }
        });
        rx.recv().unwrap().expect("start moto_server");
        let endpoint = format!("http://127.0.0.1:{port}");
        let started = std::time::Instant::now();
        // Up when it answers; then the bucket (moto accepts an unsigned create).
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                use std::io::{Read, Write};
                let req = format!(
                    "PUT /{S3_BUCKET} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let mut resp = String::new();
                if s.write_all(req.as_bytes()).is_ok()
                    && s.read_to_string(&mut resp).is_ok()
                    && resp.starts_with("HTTP/1.1 200")
                {
                    break;
                }
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(60), "moto_server did not start");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        S3Server { endpoint }
    }

    /// LanceDB storage options for this server.
    pub fn options(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", self.endpoint.as_str()),
            ("aws_access_key_id", "test"),
            ("aws_secret_access_key", "test"),
            ("aws_region", "us-east-1"),
            ("allow_http", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The same, as the environment a `chronoseek` process reads.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// A fresh store location in the bucket.
    pub fn new_uri(&self) -> String {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("s3://{S3_BUCKET}/{}-{}-{n}", std::process::id(), crate::common::unique())
    }
}

/// A short random-enough suffix.
pub fn unique() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{nanos:08x}")
}

/// Where a store lives in a test of the matrix: a temporary folder, or a prefix on the S3 server.
pub enum Backend {
    Local(tempfile::TempDir),
    S3(String),
}

impl Backend {
    pub fn local() -> Self {
        Self::Local(tempfile::tempdir().unwrap())
    }
    pub fn s3() -> Self {
        Self::S3(S3Server::get().new_uri())
    }
    pub fn uri(&self) -> String {
        match self {
            Self::Local(d) => d.path().join("store").display().to_string(),
            Self::S3(u) => u.clone(),
        }
    }
    pub async fn open(&self) -> Store {
        match self {
            Self::Local(_) => Store::open(&self.uri()).await.expect("open local store"),
            Self::S3(_) => Store::open_with(&self.uri(), S3Server::get().options()).await.expect("open S3 store"),
        }
    }
}

/// Runs `$body` (an async block using `backend: Backend`) once on a local folder and once on
/// S3: one test per backend, the same code.
#[macro_export]
macro_rules! store_matrix {
    ($name:ident, |$backend:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($backend: common::Backend) $body
            #[tokio::test]
            async fn local() {
                run(common::Backend::local()).await
            }
            #[tokio::test]
            async fn s3() {
                run(common::Backend::s3()).await
            }
        }
    };
}
