//! A plain LanceDB vector table (`id`, `vector`) with LanceDB's own IVF_PQ index: the
//! comparison `chronoseek library bench` runs beside the HNSW graph and an exact scan. Not part
//! of the store; the bench writes it in a temporary folder.

use std::sync::Arc;

use arrow_array::{Array, FixedSizeListArray, Float32Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use futures::TryStreamExt;
use lancedb::{
    DistanceType, Table,
    index::{Index, vector::IvfPqIndexBuilder},
    query::{ExecutableQuery, QueryBase, Select},
};

use super::StoreError;

pub struct VectorTable {
    table: Table,
    dim: usize,
}

impl VectorTable {
    /// Writes `vectors` (row-major, `dim` wide; ids are row numbers) into a new table `name`
    /// of the database at `uri`, `batch_rows` rows per write.
    pub async fn create(
        uri: &str,
        name: &str,
        dim: usize,
        vectors: &[f32],
        batch_rows: usize,
    ) -> Result<Self, StoreError> {
        let conn = lancedb::connect(uri).execute().await?;
        let item = Arc::new(Field::new("item", DataType::Float32, true));
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("vector", DataType::FixedSizeList(item.clone(), dim as i32), false),
        ]));
        let table = conn.create_empty_table(name, schema.clone()).execute().await?;
        let rows = vectors.len() / dim;
        let mut start = 0;
        while start < rows {
            let end = (start + batch_rows.max(1)).min(rows);
            let ids = Int64Array::from_iter_values(start as i64..end as i64);
            let values = Float32Array::from(vectors[start * dim..end * dim].to_vec());
            let list = FixedSizeListArray::try_new(item.clone(), dim as i32, Arc::new(values), None)?;
            let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(list)])?;
            table.add(batch).execute().await?;
            start = end;
        }
        Ok(Self { table, dim })
    }

    /// Builds LanceDB's IVF_PQ index (cosine) on the vectors.
    pub async fn create_ivf_pq(&self, partitions: u32, sub_vectors: u32) -> Result<(), StoreError> {
        let builder = IvfPqIndexBuilder::default()
            .distance_type(DistanceType::Cosine)
            .num_partitions(partitions)
            .num_sub_vectors(sub_vectors);
        self.table.create_index(&["vector"], Index::IvfPq(builder)).execute().await?;
        Ok(())
    }

    /// The ids of the `k` nearest rows by cosine. With `index`, through the IVF_PQ index
    /// probing `nprobes` partitions and re-ranking `refine × k` candidates exactly; without,
    /// LanceDB's flat scan.
    pub async fn search(&self, query: &[f32], k: usize, index: Option<(usize, u32)>) -> Result<Vec<i64>, StoreError> {
        debug_assert_eq!(query.len(), self.dim);
        let mut q = self
            .table
            .query()
            .nearest_to(query)?
            .distance_type(DistanceType::Cosine)
            .select(Select::columns(&["id", "_distance"]))
            .limit(k);
        match index {
            Some((nprobes, refine)) => q = q.nprobes(nprobes)?.refine_factor(refine),
            None => q = q.bypass_vector_index(),
        }
        let batches: Vec<RecordBatch> = q.execute().await?.try_collect().await?;
        let mut ids = Vec::with_capacity(k);
        for b in &batches {
            let col = b
                .column_by_name("id")
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                .ok_or_else(|| StoreError::Corrupt("vector table: id column missing".into()))?;
            ids.extend((0..col.len()).map(|i| col.value(i)));
        }
        Ok(ids)
    }
}
