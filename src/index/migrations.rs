//! The runner for `migrations/`: ordered, idempotent schema steps with the version reached
//! recorded in the `meta` table.

use std::sync::Arc;

use arrow_array::{RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use futures::TryStreamExt;
use lancedb::Connection;
use lancedb::query::{ExecutableQuery, QueryBase};
use serde::Deserialize;

use super::StoreError;
use super::retry::retrying;

/// Every migration this build knows, in order. Embedded so the binary needs no files at run time.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_initial.json"),
    include_str!("../../migrations/0002_transcripts.json"),
    include_str!("../../migrations/0003_recorded_at.json"),
    include_str!("../../migrations/0004_frame_cuts.json"),
];

pub const META_TABLE: &str = "meta";

#[derive(Debug, Deserialize)]
struct Migration {
    version: u32,
    name: String,
    steps: Vec<Step>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Step {
    CreateTable {
        create_table: String,
        fields: Vec<(String, String, bool)>,
    },
    /// New nullable columns on an existing table: old rows read them as null.
    AddColumns {
        add_columns: String,
        fields: Vec<(String, String, bool)>,
    },
}

/// The schema version this build writes.
pub fn latest_version() -> u32 {
    MIGRATIONS.len() as u32
}

fn parse_type(t: &str) -> Result<DataType, StoreError> {
    Ok(match t {
        "utf8" => DataType::Utf8,
        "int32" => DataType::Int32,
        "int64" => DataType::Int64,
        "float64" => DataType::Float64,
        "list<int64>" => DataType::List(Arc::new(Field::new("item", DataType::Int64, true))),
        "list<float32>" => DataType::List(Arc::new(Field::new("item", DataType::Float32, true))),
        "list<utf8>" => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        other => return Err(StoreError::Migration(format!("unknown column type '{other}'"))),
    })
}

fn schema_of(fields: &[(String, String, bool)]) -> Result<SchemaRef, StoreError> {
    let fields = fields
        .iter()
        .map(|(n, t, nullable)| Ok(Field::new(n, parse_type(t)?, *nullable)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

/// The Arrow schema a migration declares for `table` (the latest declaration wins).
pub fn declared_schema(table: &str) -> Result<SchemaRef, StoreError> {
    // The migrations are compiled in: parse them once per process.
    static SCHEMAS: std::sync::OnceLock<Result<std::collections::HashMap<String, SchemaRef>, String>> =
        std::sync::OnceLock::new();
    let schemas = SCHEMAS
        .get_or_init(|| {
            let mut all: std::collections::HashMap<String, Vec<(String, String, bool)>> = Default::default();
            for text in MIGRATIONS {
                let m: Migration = serde_json::from_str(text).map_err(|e| e.to_string())?;
                for step in m.steps {
                    match step {
                        Step::CreateTable { create_table, fields } => {
                            all.insert(create_table, fields);
                        }
                        Step::AddColumns { add_columns, fields } => {
                            all.entry(add_columns).or_default().extend(fields);
                        }
                    }
                }
            }
            all.into_iter().map(|(table, fields)| Ok((table, schema_of(&fields).map_err(|e| e.to_string())?))).collect()
        })
        .as_ref()
        .map_err(|e| StoreError::Migration(e.clone()))?;
    schemas.get(table).cloned().ok_or_else(|| StoreError::Migration(format!("no migration declares table '{table}'")))
}

fn meta_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("key", DataType::Utf8, false), Field::new("value", DataType::Utf8, false)]))
}

/// Reads the recorded schema version (0 for a new store).
pub async fn current_version(conn: &Connection) -> Result<u32, StoreError> {
    let names = conn.table_names().execute().await?;
    if !names.iter().any(|n| n == META_TABLE) {
        return Ok(0);
    }
    let meta = conn.open_table(META_TABLE).execute().await?;
    let batches: Vec<RecordBatch> =
        meta.query().only_if("key = 'schema_version'").execute().await?.try_collect().await?;
    let mut version = 0;
    for b in &batches {
        if let Some(col) = b.column_by_name("value").and_then(|c| c.as_any().downcast_ref::<StringArray>()) {
            for v in col.iter().flatten() {
                let v: u32 =
                    v.parse().map_err(|_| StoreError::Migration(format!("bad schema_version '{v}' in meta")))?;
                version = version.max(v);
            }
        }
    }
    Ok(version)
}

/// Creates `name` unless a whole table of that name is there. A process killed while LanceDB
/// creates a table leaves its folder without a first version: `table_names` lists it, nothing
/// can open it. Such a leftover holds no data (a table gets rows only after it was created), so
/// after 2 s without it becoming openable (the time a live creator gets) it is dropped and
/// created again; a crash at any moment of a migration leaves a store the next open completes.
async fn ensure_table(conn: &Connection, name: &str, schema: SchemaRef) -> Result<(), StoreError> {
    let names = conn.table_names().execute().await?;
    if names.iter().any(|n| n == name) {
        // Listed but not openable: interrupted, or another process is creating it right now
        // (two first opens of a new store). Give a live creator time to finish first.
        let mut tries = 0;
        loop {
            match conn.open_table(name).execute().await {
                Ok(_) => return Ok(()),
                Err(lancedb::Error::TableNotFound { .. } | lancedb::Error::TableCorrupted { .. }) if tries < 10 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Err(lancedb::Error::TableNotFound { .. } | lancedb::Error::TableCorrupted { .. }) => {
                    tracing::warn!(table = name, "a table whose creation was interrupted is created again");
                    conn.drop_table(name, &[]).await?;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    // Two first opens at once (two processes on a new store): the loser finds it created.
    match conn.create_empty_table(name, schema).execute().await {
        Ok(_) | Err(lancedb::Error::TableAlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Adds the columns of `fields` that `table` lacks, all null (idempotent: a crash between the
/// schema change and the version record is completed by the next open).
async fn ensure_columns(conn: &Connection, table: &str, fields: &[(String, String, bool)]) -> Result<(), StoreError> {
    let t = conn.open_table(table).execute().await?;
    add_missing_columns(conn, &t, fields).await
}

/// The columns of `fields` that the table version `t` holds lacks.
async fn missing_columns(
    t: &lancedb::Table,
    fields: &[(String, String, bool)],
) -> Result<Vec<(String, String, bool)>, StoreError> {
    let have = t.schema().await?;
    Ok(fields.iter().filter(|(name, _, _)| have.field_with_name(name).is_err()).cloned().collect())
}

/// [`ensure_columns`] on an open handle `t`, which may be behind the table.
async fn add_missing_columns(
    conn: &Connection,
    t: &lancedb::Table,
    fields: &[(String, String, bool)],
) -> Result<(), StoreError> {
    let missing = missing_columns(t, fields).await?;
    if missing.is_empty() {
        return Ok(());
    }
    if let Some((name, _, _)) = missing.iter().find(|(_, _, nullable)| !nullable) {
        return Err(StoreError::Migration(format!("{}.{name}: an added column must be nullable", t.name())));
    }
    let schema = schema_of(&missing)?;
    let mut first = true;
    retrying("add columns", || {
        let schema = schema.clone();
        let first = std::mem::replace(&mut first, false);
        async move {
            // A retry follows another writer's commit: add to the newest version.
            let t = if first { t.clone() } else { conn.open_table(t.name()).execute().await? };
            let Err(e) =
                t.add_columns().transform(lancedb::table::NewColumnTransform::AllNulls(schema.clone())).execute().await
            else {
                return Ok(());
            };
            // Another process may have added them first (Lance says `ColumnAlreadyExists`, a
            // commit conflict, or, finding the clash while rebasing, invalid input): what
            // decides is whether the newest version has every column.
            let latest = conn.open_table(t.name()).execute().await?;
            let have = latest.schema().await?;
            if schema.fields().iter().all(|f| have.field_with_name(f.name()).is_ok()) { Ok(()) } else { Err(e) }
        }
    })
    .await?;
    Ok(())
}

/// Brings the store to [`latest_version`]. Refuses stores written by a newer build.
pub async fn migrate(conn: &Connection) -> Result<u32, StoreError> {
    ensure_table(conn, META_TABLE, meta_schema()).await?;
    let current = current_version(conn).await?;
    if current > latest_version() {
        return Err(StoreError::SchemaTooNew { found: current, supported: latest_version() });
    }
    for text in MIGRATIONS {
        let m: Migration = serde_json::from_str(text).map_err(|e| StoreError::Migration(e.to_string()))?;
        if m.version <= current {
            continue;
        }
        tracing::info!(version = m.version, name = %m.name, "applying store migration");
        for step in &m.steps {
            match step {
                Step::CreateTable { create_table, fields } => {
                    ensure_table(conn, create_table, schema_of(fields)?).await?
                }
                Step::AddColumns { add_columns, fields } => ensure_columns(conn, add_columns, fields).await?,
            }
        }
        record_version(conn, m.version).await?;
    }
    Ok(latest_version().max(current))
}

async fn record_version(conn: &Connection, version: u32) -> Result<(), StoreError> {
    let meta = conn.open_table(META_TABLE).execute().await?;
    let batch = RecordBatch::try_new(
        meta_schema(),
        vec![
            Arc::new(StringArray::from(vec!["schema_version"])),
            Arc::new(StringArray::from(vec![version.to_string()])),
        ],
    )?;
    // Append then delete older rows: a crash in between leaves two rows, and the reader takes
    // the highest, so the record is never lost.
    retrying("record schema version", || meta.add(batch.clone()).execute()).await?;
    let stale = format!("key = 'schema_version' AND value <> '{version}'");
    retrying("record schema version", || meta.delete(stale.as_str())).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_and_parse() {
        for (i, text) in MIGRATIONS.iter().enumerate() {
            let m: Migration = serde_json::from_str(text).unwrap();
            assert_eq!(m.version as usize, i + 1, "migration {} is out of order", m.name);
            for step in &m.steps {
                let (Step::CreateTable { fields, .. } | Step::AddColumns { fields, .. }) = step;
                schema_of(fields).unwrap();
            }
        }
        assert!(declared_schema("frames").is_ok());
        // Added columns follow the created ones.
        let videos = declared_schema("videos").unwrap();
        let last: Vec<&str> = videos.fields().iter().rev().take(2).map(|f| f.name().as_str()).collect();
        assert_eq!(last, ["recorded_at_ms", "transcript_id"]);
        assert!(declared_schema("nope").is_err());
    }

    #[tokio::test]
    async fn columns_another_process_added_meanwhile_count_as_added() {
        // Two processes migrating one store both see the column missing; the one that commits
        // second must take the other's column as done, not fail the open.
        let dir = tempfile::tempdir().unwrap();
        let uri = dir.path().to_str().unwrap();
        let fields = vec![("extra".to_string(), "utf8".to_string(), true)];
        let schema = schema_of(&[("id".to_string(), "utf8".to_string(), false)]).unwrap();
        let first = lancedb::connect(uri).execute().await.unwrap();
        first.create_empty_table("t", schema).execute().await.unwrap();
        let behind = first.open_table("t").execute().await.unwrap();
        assert_eq!(missing_columns(&behind, &fields).await.unwrap().len(), 1);
        // The other process adds it.
        let second = lancedb::connect(uri).execute().await.unwrap();
        ensure_columns(&second, "t", &fields).await.unwrap();
        // This one, with its handle from before, adds it too: done, not an error.
        add_missing_columns(&first, &behind, &fields).await.unwrap();
        let latest = first.open_table("t").execute().await.unwrap();
        assert!(missing_columns(&latest, &fields).await.unwrap().is_empty());
        // A real failure is still one: a non-nullable column is refused.
        let strict = vec![("strict".to_string(), "utf8".to_string(), false)];
        assert!(matches!(ensure_columns(&first, "t", &strict).await, Err(StoreError::Migration(_))));
    }

    #[tokio::test]
    async fn a_store_from_a_newer_build_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let conn = lancedb::connect(dir.path().to_str().unwrap()).execute().await.unwrap();
        assert_eq!(migrate(&conn).await.unwrap(), latest_version());
        let newer = latest_version() + 1;
        record_version(&conn, newer).await.unwrap();
        let err = migrate(&conn).await.unwrap_err();
        assert!(
            matches!(err, StoreError::SchemaTooNew { found, supported } if found == newer && supported == latest_version()),
            "{err}"
        );
        assert_eq!(current_version(&conn).await.unwrap(), newer, "the record is left as the newer build wrote it");
    }
}
