//! Terminal output: tracing logs on stderr that do not tear progress bars, one progress bar
//! per long task, and the error report with its exit code.

use std::io::Write;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing_subscriber::{EnvFilter, fmt::MakeWriter};

use chronoseek::config::GlobalOpts;

use super::CliError;

#[derive(Clone)]
pub struct Output {
    multi: MultiProgress,
    pub json: bool,
    pub quiet: bool,
}

/// Writes log lines above the progress bars instead of through them.
#[derive(Clone)]
struct SuspendingStderr(MultiProgress);

impl Write for SuspendingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.suspend(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for SuspendingStderr {
    type Writer = SuspendingStderr;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Output {
    pub fn init(g: &GlobalOpts) -> Self {
        let multi = MultiProgress::new();
        if g.json || g.quiet {
            multi.set_draw_target(ProgressDrawTarget::hidden());
        }
        let level = match (g.quiet, g.verbose) {
            (true, _) => "error",
            (false, 0) => "warn",
            (false, 1) => "info",
            (false, 2) => "debug",
            _ => "trace",
        };
        // -v flags win; otherwise RUST_LOG, then LOG_LEVEL (the reference's name).
        let filter = if g.verbose > 0 || g.quiet {
            EnvFilter::new(format!("{level},lance=warn,lancedb=warn,datafusion=warn"))
        } else {
            EnvFilter::try_from_default_env()
                .or_else(|_| EnvFilter::try_new(std::env::var("LOG_LEVEL").unwrap_or_default().to_lowercase()))
                .unwrap_or_else(|_| EnvFilter::new(level))
        };
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(SuspendingStderr(multi.clone()))
            .with_target(false)
            .try_init();
        Self { multi, json: g.json, quiet: g.quiet }
    }

    /// A bar for one video's frames (length set once the duration is known).
    pub fn frames_bar(&self, label: &str) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new(0));
        bar.set_style(
            ProgressStyle::with_template("{prefix:.bold} [{bar:30}] {pos}/{len} frames {per_sec} eta {eta} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(short_label(label));
        bar
    }

    /// A bar over a list of items (videos, tasks, runs).
    pub fn items_bar(&self, len: u64, what: &str) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new(len));
        bar.set_style(
            ProgressStyle::with_template(&format!("{{bar:30}} {{pos}}/{{len}} {what} {{elapsed}} {{msg}}"))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    }

    /// A human line on stdout (suppressed by --json and --quiet).
    pub fn say(&self, line: impl AsRef<str>) {
        if !self.json && !self.quiet {
            self.multi.suspend(|| println!("{}", line.as_ref()));
        }
    }

    /// A JSON document on stdout (only with --json).
    pub fn json_line(&self, value: &impl serde::Serialize) {
        if self.json {
            match serde_json::to_string(value) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("error: cannot serialise output: {e}"),
            }
        }
    }

    pub fn error(&self, e: &CliError) {
        if self.json {
            self.json_line(&e.envelope());
        }
        self.multi.suspend(|| eprintln!("error: {e}"));
    }
}

fn short_label(label: &str) -> String {
    let name = label.rsplit('/').next().unwrap_or(label);
    if name.chars().count() > 28 {
        let tail: String = name.chars().rev().take(27).collect::<Vec<_>>().into_iter().rev().collect();
        format!("…{tail}")
    } else {
        name.to_string()
    }
}
