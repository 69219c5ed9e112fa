//! `chronoseek store ...`.

use clap::Subcommand;
use serde_json::json;

use super::global::GlobalOpts;
use chronoseek::index::Store;

use super::{CliError, output::Output};

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Row counts, schema version and location; library indexes with their size and how far
    /// they are behind the store.
    Stats(StatsArgs),
    /// List stored videos (complete ones only).
    List,
    /// Compact files and fold new rows into indices.
    Optimize,
}

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub index: super::library::IndexFlags,
}

pub async fn run(g: &GlobalOpts, cmd: StoreCommand, out: &Output) -> Result<(), CliError> {
    let store = Store::open(&g.store_uri()).await?;
    match cmd {
        StoreCommand::Stats(args) => {
            let counts = store.row_counts().await?;
            out.say(format!("store {} (schema version {})", store.uri(), store.schema_version()));
            for (table, n) in &counts {
                out.say(format!("  {table:<16} {n:>8} rows"));
            }
            let root = args.index.root(g);
            let indexes = chronoseek::library::staleness(&store, &root).await?;
            if indexes.is_empty() {
                out.say(format!("library index: none in {} (chronoseek library index builds one)", root.display()));
            }
            for s in &indexes {
                out.say(format!(
                    "library index {} ({}, by {}): {} vectors of {} videos, {:.1} MB; behind the store: {} videos \
                     pending, {} dead vectors",
                    s.generation,
                    s.model_key,
                    s.unit.name(),
                    s.vectors,
                    s.indexed_videos,
                    s.bytes as f64 / 1e6,
                    s.pending_videos,
                    s.dead_vectors
                ));
            }
            let map: serde_json::Map<String, serde_json::Value> =
                counts.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            out.json_line(&json!({"uri": store.uri(), "schema_version": store.schema_version(), "rows": map,
                "library_indexes": indexes}));
        }
        StoreCommand::List => {
            for v in store.list_videos().await? {
                out.say(format!(
                    "{}  {:>8.1} s  {:>6} frames  {:<24}  {}",
                    v.fingerprint, v.duration_s, v.frame_count, v.model_key, v.source
                ));
                out.json_line(&json!({"fingerprint": v.fingerprint.to_hex(), "model_key": v.model_key,
                    "duration_s": v.duration_s, "frames": v.frame_count, "width": v.width, "height": v.height,
                    "sampling": v.sampling, "source": v.source}));
            }
        }
        StoreCommand::Optimize => {
            store.optimize().await?;
            out.say("optimized");
            out.json_line(&json!({"optimized": true}));
        }
    }
    Ok(())
}
