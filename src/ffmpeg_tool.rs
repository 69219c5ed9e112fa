//! The `ffmpeg` program, for jobs that through the libraries would need a hand-built filter
//! graph, encoder and muxer: rendering remixed tasks (`validator::remix`), cutting clips out
//! of stored videos (`library::clip`) and joining moments into reels (`library::reel`).
//! Decoding for embeddings stays in-process (ffmpeg-next).
//!
//! The child dies with the caller: killed when the future is dropped (`kill_on_drop`), and on
//! Linux when this process dies, even by SIGKILL (`PR_SET_PDEATHSIG`).

use std::path::Path;
use std::process::{ExitStatus, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("the ffmpeg program could not be started: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("ffmpeg failed ({status}): {stderr}")]
    Failed { status: ExitStatus, stderr: String },
}

/// Whether the `ffmpeg` program runs.
pub async fn check() -> Result<(), ToolError> {
    let status = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-version"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .map_err(ToolError::Spawn)?;
    if status.success() { Ok(()) } else { Err(ToolError::Failed { status, stderr: "ffmpeg -version failed".into() }) }
}

/// Runs `ffmpeg` with `args`, which write `out`; on failure `out` is removed and the error
/// carries the last lines ffmpeg printed.
pub async fn run(args: &[String], out: &Path) -> Result<(), ToolError> {
    let mut cmd = tokio::process::Command::new("ffmpeg");
    #[cfg(target_os = "linux")]
    // SAFETY: the closure runs in the forked child before exec and only calls prctl, which is
    // async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let output = cmd.args(args).stdin(Stdio::null()).kill_on_drop(true).output().await.map_err(ToolError::Spawn)?;
    if !output.status.success() {
        let _ = std::fs::remove_file(out);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        let tail = tail.into_iter().rev().collect::<Vec<_>>().join(" | ");
        return Err(ToolError::Failed { status: output.status, stderr: tail });
    }
    Ok(())
}
