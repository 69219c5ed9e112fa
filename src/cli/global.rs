//! Settings shared by every command: one flag and one environment variable per field, with
//! the reference implementation's names where it has them.

use std::path::PathBuf;

use clap::{ArgAction, Args};

use super::choices::one_of;

use chronoseek::ingest::{DedupSetting, FetchOptions, IngestOptions, SamplerOptions, SamplingPlan};
use chronoseek::model::{DeviceSpec, ModelOptions, ModelSource, Precision};
use chronoseek::query::{EngineOptions, SegmenterKind};

/// Options every `chronoseek` command accepts. Listed under their own heading, after a
/// command's own options, so `chronoseek library search --help` starts with what is particular
/// to that command.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalOpts {
    /// LanceDB store: a local folder, or s3://bucket/prefix on an S3-compatible object store
    /// (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
    /// AWS_ALLOW_HTTP=true for a plain-http endpoint). Default: a folder under the user's data
    /// directory (~/.local/share/chronoseek/store on Linux).
    #[arg(long, env = "CHRONOSEEK_STORE", global = true, value_name = "URI")]
    pub store: Option<String>,

    /// CLIP checkpoint: a Hugging Face hub id (optionally id@revision; HF_HOME, HF_TOKEN and
    /// HF_ENDPOINT are honoured) or a local directory with config.json and model.safetensors.
    #[arg(long, env = "CHRONOSEEK_MODEL", global = true, value_name = "ID",
          default_value = chronoseek::model::DEFAULT_MODEL_ID)]
    pub model: String,

    /// Local model directory in the Hugging Face layout; overrides --model.
    #[arg(long, env = "CHRONOSEEK_MODEL_DIR", global = true, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,

    /// Inference device: cpu, or cuda:N in builds with the `cuda` feature.
    #[arg(long, env = "CHRONOSEEK_DEVICE", global = true, default_value = "cpu", value_name = "DEVICE")]
    pub device: DeviceSpec,

    /// How the model's matmuls run: `f32` (full precision, the reference's numbers), `q8`
    /// (8-bit weights through candle's quantized kernels: faster on CPUs with AVX-512 VNNI),
    /// or `f16`/`bf16` (16-bit weights and activations: for `--device cuda:N`, where the
    /// tensor cores run them; slow on CPUs). Anything but f32 gives embeddings within a cosine
    /// of 0.999 of f32's, stored under their own model key (`…:q8`, `…:f16`).
    #[arg(long, env = "CHRONOSEEK_PRECISION", global = true, default_value = "f32", value_name = "PRECISION",
          value_parser = one_of::<Precision>(Precision::NAMES))]
    pub precision: Precision,

    /// Machine-readable output on stdout (progress bars are hidden; logs stay on stderr).
    #[arg(long, global = true)]
    pub json: bool,

    /// More log output (-v info, -vv debug, -vvv trace). LOG_LEVEL / RUST_LOG set it too.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Less output: no progress bars, errors only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    #[command(flatten)]
    pub pipeline: PipelineOpts,
}

/// How videos are sampled, embedded and segmented.
#[derive(Debug, Clone, Args)]
pub struct PipelineOpts {
    /// Frame sampling plan: a rate in frames per second (e.g. 1, 0.5), or `adaptive` for the
    /// reference miner's plan (1 fps; 0.5 fps from 60 s; 0.25 fps from 300 s).
    #[arg(long, env = "CHRONOSEEK_SAMPLING", global = true, default_value = "1", value_name = "PLAN")]
    pub sampling: SamplingPlan,

    /// Frames per image-embedding batch.
    #[arg(long, env = "CHRONOSEEK_BATCH_SIZE", global = true, default_value_t = 32, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub batch_size: u32,

    /// Near-duplicate frames: a sampled frame whose pixels differ from the last embedded frame
    /// by at most this mean absolute difference (in the model's normalised input units; one
    /// 8-bit grey level is about 0.015) reuses that frame's embedding instead of running the
    /// image tower. `off` embeds every sampled frame.
    #[arg(long, env = "CHRONOSEEK_DEDUP", global = true, default_value = "0.015", value_name = "THRESHOLD")]
    pub dedup: DedupSetting,

    /// Segment proposal: `snap` (default) snaps the reference's windows to shot cuts found in
    /// the frame embeddings; `baseline` reproduces the Python reference miner exactly;
    /// `contrast` ranks shot-aligned windows by inside-versus-outside contrast.
    #[arg(long, env = "CHRONOSEEK_SEGMENTER", global = true, default_value = "snap", value_name = "NAME",
          value_parser = one_of::<SegmenterKind>(SegmenterKind::NAMES))]
    pub segmenter: SegmenterKind,

    /// Largest video accepted, in bytes.
    #[arg(long, env = "CHRONOSEEK_MAX_VIDEO_BYTES", global = true, default_value_t = 2 * 1024 * 1024 * 1024,
          value_name = "BYTES")]
    pub max_video_bytes: u64,

    /// Longest video accepted, in seconds: by its header's duration before decoding, by its
    /// frames' times while decoding (also refused: over 1,000 frames a second on average over it).
    #[arg(long, env = "CHRONOSEEK_MAX_VIDEO_SECONDS", global = true, default_value_t = 4.0 * 3600.0,
          value_name = "SECONDS")]
    pub max_video_seconds: f64,

    /// Largest decoded frame accepted, in pixels (width x height); bigger videos are refused
    /// before decoding.
    #[arg(long, env = "CHRONOSEEK_MAX_PIXELS", global = true, default_value_t = 8192 * 4320, value_name = "PIXELS")]
    pub max_pixels: u64,

    /// Seconds to wait for a connection when downloading a video.
    #[arg(long, env = "CHRONOSEEK_CONNECT_TIMEOUT", global = true, default_value_t = 10, value_name = "SECONDS")]
    pub connect_timeout: u64,

    /// The yt-dlp program used for platform pages (YouTube, Vimeo, ...).
    #[arg(long = "yt-dlp", env = "CHRONOSEEK_YT_DLP", global = true, default_value = "yt-dlp", value_name = "PATH")]
    pub yt_dlp: PathBuf,

    /// A cookies file passed to yt-dlp, for sites that want a signed-in session.
    #[arg(long, env = "CHRONOSEEK_YTDLP_COOKIES", global = true, value_name = "FILE")]
    pub yt_dlp_cookies: Option<PathBuf>,

    /// A browser yt-dlp reads cookies from (e.g. firefox).
    #[arg(long, env = "CHRONOSEEK_YTDLP_COOKIES_BROWSER", global = true, value_name = "BROWSER")]
    pub yt_dlp_cookies_browser: Option<String>,

    /// Megabytes of frame matrices kept in memory across searches (0 = read the store every
    /// time). A 1-hour video at 1 fps with 512-d embeddings takes about 7 MB.
    #[arg(long, env = "CHRONOSEEK_FRAME_CACHE_MB", global = true, default_value_t = 256, value_name = "MB")]
    pub frame_cache_mb: usize,

    /// Seconds a download may stall before it is abandoned.
    #[arg(long, env = "CHRONOSEEK_READ_TIMEOUT", global = true, default_value_t = 30, value_name = "SECONDS")]
    pub read_timeout: u64,
}

impl GlobalOpts {
    /// The store URI, defaulting to the user's data directory.
    pub fn store_uri(&self) -> String {
        self.store.clone().unwrap_or_else(default_store_uri)
    }

    /// Device and precision of the model.
    pub fn model_options(&self) -> ModelOptions {
        ModelOptions { device: self.device, precision: self.precision }
    }

    pub fn model_source(&self) -> ModelSource {
        ModelSource::from_flags(Some(&self.model), self.model_dir.as_deref())
    }
}

impl PipelineOpts {
    pub fn fetch_options(&self) -> FetchOptions {
        FetchOptions {
            max_bytes: self.max_video_bytes,
            connect_timeout: std::time::Duration::from_secs(self.connect_timeout),
            read_timeout: std::time::Duration::from_secs(self.read_timeout),
            yt_dlp: chronoseek::ingest::platform::YtDlpOptions {
                program: self.yt_dlp.clone(),
                cookies: self.yt_dlp_cookies.clone().filter(|p| !p.as_os_str().is_empty()),
                cookies_from_browser: self.yt_dlp_cookies_browser.clone().filter(|b| !b.is_empty()),
            },
            ..FetchOptions::default()
        }
    }

    pub fn engine_options(&self) -> EngineOptions {
        EngineOptions {
            ingest: IngestOptions {
                sampler: SamplerOptions {
                    plan: self.sampling,
                    max_pixels: self.max_pixels,
                    max_duration_s: self.max_video_seconds,
                    ..SamplerOptions::default()
                },
                batch_size: self.batch_size as usize,
                dedup: self.dedup.0,
                ..IngestOptions::default()
            },
            segmenter: self.segmenter,
            frame_cache_bytes: self.frame_cache_mb.saturating_mul(1 << 20),
            ..EngineOptions::default()
        }
    }
}

/// `<data dir>/chronoseek/store`, or `./chronoseek-store` where there is no data directory.
pub fn default_store_uri() -> String {
    dirs::data_dir()
        .map(|d| d.join("chronoseek").join("store"))
        .unwrap_or_else(|| PathBuf::from("chronoseek-store"))
        .display()
        .to_string()
}
