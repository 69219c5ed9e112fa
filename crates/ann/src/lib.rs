//! Approximate nearest neighbours over L2-normalised vectors: an HNSW graph (`hnsw_rs`) with a
//! dot-product distance, built in parallel, searched with an optional id filter, dumped to and
//! reloaded from a directory.
//!
//! Why our own distance instead of `anndists::DistDot`: that one asserts `1 - dot >= 0`, and
//! two unit vectors that are equal (a video's near-duplicate frames share one embedding row)
//! can have a dot product a rounding error above 1, which panics mid-build. [`UnitDot`] clamps
//! at 0 and sums in eight lanes, so it vectorises.
//!
//! Why the reload leaks a small value: `hnsw_rs` ties a reloaded graph's lifetime to the
//! `HnswIo` that read it. The graph's points are copied into memory (no mmap), so the reader
//! only has to outlive it in the type system; it is a few hundred bytes per load, and a process
//! loads an index a handful of times.

use std::path::{Path, PathBuf};

use hnsw_rs::prelude::{AnnT, Distance, FilterT, Hnsw, HnswIo};

/// `1 - a·b`, clamped at 0, for unit vectors.
#[derive(Debug, Default, Clone, Copy)]
pub struct UnitDot;

/// `a·b` in eight independent lanes (so the compiler vectorises it).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

impl Distance<f32> for UnitDot {
    fn eval(&self, va: &[f32], vb: &[f32]) -> f32 {
        (1.0 - dot(va, vb)).max(0.0)
    }
}

/// Graph shape. `max_connections` is HNSW's M (at most 255), `ef_construction` the beam width
/// while inserting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphParams {
    pub max_connections: usize,
    pub ef_construction: usize,
}

/// M 32 and ef_construction 200: on the bench's 100,000 video-like vectors (queries far from
/// every frame, as text queries are), M 16 / ef_construction 100 reached recall@10 0.90 at
/// ef 256; M 32 / 200 reached 1.00 at ef 128, for 2.6x the build time (README, "Search your
/// library").
impl Default for GraphParams {
    fn default() -> Self {
        Self { max_connections: 32, ef_construction: 200 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AnnError {
    #[error("max_connections must be 2..=255, got {0}")]
    BadConnections(usize),
    #[error("vector {id} has width {got}, the graph {want}")]
    Width { id: usize, got: usize, want: usize },
    #[error("index files in {dir}: {source}")]
    Io { dir: PathBuf, source: std::io::Error },
    #[error("index files in {dir} could not be {action}: {message}")]
    Format { dir: PathBuf, action: &'static str, message: String },
}

/// One neighbour: the id it was inserted with and its dot product with the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub id: usize,
    pub similarity: f32,
}

/// An HNSW graph over unit vectors of one width.
pub struct Graph {
    inner: Hnsw<'static, f32, UnitDot>,
    dim: usize,
    params: GraphParams,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph").field("dim", &self.dim).field("len", &self.len()).field("params", &self.params).finish()
    }
}

/// Layers of the graph (hnsw_rs's maximum).
const MAX_LAYERS: usize = 16;

impl Graph {
    /// An empty graph; `capacity` is a hint for allocation.
    pub fn new(dim: usize, capacity: usize, params: GraphParams) -> Result<Self, AnnError> {
        if !(2..=255).contains(&params.max_connections) {
            return Err(AnnError::BadConnections(params.max_connections));
        }
        let inner = Hnsw::new(params.max_connections, capacity.max(1), MAX_LAYERS, params.ef_construction, UnitDot);
        Ok(Self { inner, dim, params })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }
    pub fn params(&self) -> GraphParams {
        self.params
    }
    pub fn len(&self) -> usize {
        self.inner.get_nb_point()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inserts `(vector, id)` pairs, in parallel over the machine's cores. Ids are the caller's
    /// (search returns them); vectors must be L2-normalised.
    pub fn insert(&mut self, items: &[(&[f32], usize)]) -> Result<(), AnnError> {
        if let Some((v, id)) = items.iter().find(|(v, _)| v.len() != self.dim) {
            return Err(AnnError::Width { id: *id, got: v.len(), want: self.dim });
        }
        self.inner.set_searching_mode(false);
        self.inner.parallel_insert_slice(&items.to_vec());
        self.inner.set_searching_mode(true);
        Ok(())
    }

    /// The `k` nearest ids to `query` (a unit vector), best first, exploring `ef` candidates
    /// (at least `k`). With a filter, only ids it accepts are returned (hnsw_rs's filtered
    /// search walks through rejected points but never returns them).
    pub fn search(&self, query: &[f32], k: usize, ef: usize, filter: Option<&dyn Fn(usize) -> bool>) -> Vec<Hit> {
        if query.len() != self.dim || self.is_empty() || k == 0 {
            return Vec::new();
        }
        let ef = ef.max(k);
        let hits = match filter {
            Some(f) => {
                let f = |id: &usize| f(*id);
                self.inner.search_filter(query, k, ef, Some(&f as &dyn FilterT))
            }
            None => self.inner.search(query, k, ef),
        };
        hits.into_iter().map(|n| Hit { id: n.d_id, similarity: 1.0 - n.distance }).collect()
    }

    /// Writes the graph into `dir` (which must exist) as `<basename>.hnsw.graph` and
    /// `<basename>.hnsw.data`, synced to disk. Returns the basename written. Write into a fresh
    /// directory and rename it into place: a crash mid-dump then leaves no half index.
    pub fn dump(&self, dir: &Path, basename: &str) -> Result<String, AnnError> {
        let name = self.inner.file_dump(dir, basename).map_err(|e| AnnError::Format {
            dir: dir.to_path_buf(),
            action: "written",
            message: format!("{e:#}"),
        })?;
        for ext in ["hnsw.graph", "hnsw.data"] {
            let path = dir.join(format!("{name}.{ext}"));
            let io = |source| AnnError::Io { dir: dir.to_path_buf(), source };
            std::fs::File::open(&path).and_then(|f| f.sync_all()).map_err(io)?;
        }
        Ok(name)
    }

    /// Reads a graph written by [`Graph::dump`]. The files are read into memory.
    pub fn load(dir: &Path, basename: &str, dim: usize, params: GraphParams) -> Result<Self, AnnError> {
        for ext in ["hnsw.graph", "hnsw.data"] {
            let path = dir.join(format!("{basename}.{ext}"));
            if let Err(source) = std::fs::metadata(&path) {
                return Err(AnnError::Io { dir: dir.to_path_buf(), source });
            }
        }
        // See the module docs: the reader must outlive the graph, so it lives for the process.
        let io: &'static mut HnswIo = Box::leak(Box::new(HnswIo::new(dir, basename)));
        let mut inner: Hnsw<'static, f32, UnitDot> = io.load_hnsw().map_err(|e| AnnError::Format {
            dir: dir.to_path_buf(),
            action: "read",
            message: format!("{e:#}"),
        })?;
        let got = inner.get_point_indexation().get_data_dimension();
        if got != dim && inner.get_nb_point() > 0 {
            return Err(AnnError::Format {
                dir: dir.to_path_buf(),
                action: "read",
                message: format!("vectors have width {got}, expected {dim}"),
            });
        }
        inner.set_searching_mode(true);
        Ok(Self { inner, dim, params })
    }
}

/// Exact top-`k` by dot product over `(id, vector)` pairs: the reference the graph's recall is
/// measured against.
pub fn exact_top_k<'a>(query: &[f32], items: impl Iterator<Item = (usize, &'a [f32])>, k: usize) -> Vec<Hit> {
    let mut hits: Vec<Hit> = items.map(|(id, v)| Hit { id, similarity: dot(query, v) }).collect();
    let k = k.min(hits.len());
    if k == 0 {
        return Vec::new();
    }
    hits.select_nth_unstable_by(k - 1, |a, b| b.similarity.total_cmp(&a.similarity));
    hits.truncate(k);
    hits.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        // xorshift: deterministic, no dependency.
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut v: Vec<f32> = (0..dim)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= n);
        v
    }

    #[test]
    fn dot_matches_naive_sum_for_every_tail_length() {
        for dim in [1, 7, 8, 9, 33] {
            let (a, b) = (unit(1, dim), unit(2, dim));
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() < 1e-5, "dim {dim}");
        }
    }

    #[test]
    fn duplicates_do_not_panic_and_distance_is_never_negative() {
        let v = unit(3, 64);
        assert_eq!(UnitDot.eval(&v, &v), (1.0 - dot(&v, &v)).max(0.0));
        assert!(UnitDot.eval(&v, &v) >= 0.0);
        let mut g = Graph::new(64, 100, GraphParams::default()).unwrap();
        let items: Vec<(&[f32], usize)> = (0..50).map(|i| (v.as_slice(), i)).collect();
        g.insert(&items).unwrap();
        assert_eq!(g.len(), 50);
        assert!(g.search(&v, 5, 20, None).iter().all(|h| (h.similarity - 1.0).abs() < 1e-4));
    }

    #[test]
    fn search_finds_exact_neighbours_filters_and_survives_dump_and_load() {
        let dim = 32;
        let data: Vec<Vec<f32>> = (0..2000).map(|i| unit(i + 10, dim)).collect();
        let mut g = Graph::new(dim, data.len(), GraphParams::default()).unwrap();
        let items: Vec<(&[f32], usize)> = data.iter().enumerate().map(|(i, v)| (v.as_slice(), i)).collect();
        g.insert(&items).unwrap();
        let q = unit(99_999, dim);
        let exact = exact_top_k(&q, data.iter().enumerate().map(|(i, v)| (i, v.as_slice())), 10);
        let approx = g.search(&q, 10, 400, None);
        let ids = |h: &[Hit]| h.iter().map(|h| h.id).collect::<Vec<_>>();
        assert_eq!(ids(&approx), ids(&exact), "high ef on 2,000 points is exact");
        let odd = |id: usize| id % 2 == 1;
        let filtered = g.search(&q, 10, 400, Some(&odd));
        assert!(filtered.iter().all(|h| h.id % 2 == 1) && filtered.len() == 10);

        let dir = std::env::temp_dir().join(format!("chronoseek-ann-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let name = g.dump(&dir, "graph").unwrap();
        let back = Graph::load(&dir, &name, dim, g.params()).unwrap();
        assert_eq!(back.len(), 2000);
        assert_eq!(ids(&back.search(&q, 10, 400, None)), ids(&exact));
        // A reloaded graph takes more points.
        let mut back = back;
        let extra = unit(123_456, dim);
        back.insert(&[(extra.as_slice(), 5000)]).unwrap();
        assert_eq!(back.search(&extra, 1, 50, None)[0].id, 5000);
        assert!(matches!(Graph::load(&dir, "missing", dim, g.params()), Err(AnnError::Io { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
