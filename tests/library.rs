//! Library-wide search with real parts: ffmpeg on the fixture videos, the bundled tiny CLIP,
//! LanceDB and the HNSW index in temp dirs. What each search did is proven through its stats
//! and the engine's counters.

mod common;

use std::path::Path;
use std::sync::Arc;

use chronoseek::index::{Store, VideoRecord};
use chronoseek::ingest::{FetchOptions, Fetcher, IngestOutcome, VideoSource};
use chronoseek::library::{
    Candidates, Copies, IndexUnit, Library, LibraryError, LibraryQuery, LibraryTopK, Picture, Probe, RefreshOptions,
    staleness,
};
use chronoseek::progress::silent;
use chronoseek::query::{Engine, EngineOptions};

async fn engine(dir: &Path) -> Arc<Engine> {
    let store = Store::open(&dir.join("store").display().to_string()).await.unwrap();
    Arc::new(Engine::new(
        store,
        common::bundled_model(),
        Fetcher::new(FetchOptions::default()).unwrap(),
        EngineOptions::default(),
    ))
}

async fn ingest(engine: &Engine, name: &str) -> VideoRecord {
    ingest_path(engine, &common::fixture(name)).await
}

async fn ingest_path(engine: &Engine, path: &Path) -> VideoRecord {
    let source = VideoSource::parse(&path.display().to_string()).unwrap();
    match engine.ingest(&source, &silent()).await.unwrap() {
        IngestOutcome::Ingested(r, _) | IngestOutcome::AlreadyIngested(r) => r,
    }
}

fn query(text: &str, k: usize) -> LibraryQuery {
    LibraryQuery::new(text, LibraryTopK::new(k).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_is_persisted_extended_and_never_serves_replaced_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("library");
    let engine = engine(dir.path()).await;
    let mp4 = ingest(&engine, "scenes.mp4").await;
    let webm = ingest(&engine, "scenes.webm").await;
    ingest(&engine, "odd.mkv").await;
    let lib = Library::new(engine.clone(), &root);

    // No index yet: every video is scored exactly, and the answer is already there.
    let before = lib.search(&query("a red screen", 5)).await.unwrap();
    assert_eq!((before.stats.generation.as_deref(), before.stats.videos_scanned_exact), (None, 3));
    assert!(!before.hits.is_empty());

    let built = lib.refresh(&RefreshOptions::default(), &silent()).await.unwrap();
    assert!(built.rebuilt);
    assert_eq!((built.videos, built.generation.as_deref()), (3, Some("gen-000001")));
    assert!(built.vectors >= 3 && built.vectors <= 30 + 12 + 6, "{built:?}");

    let c0 = engine.counters();
    let ann = lib.search(&query("a red screen", 5)).await.unwrap();
    let c1 = engine.counters().since(&c0);
    assert_eq!((ann.stats.videos_scanned_exact, c1.ann_searches, c1.library_searches), (0, 1, 1));
    assert_eq!(c1.image_embeddings + c1.videos_decoded, 0, "a library search embeds no frame");
    // On a small library the graph misses nothing: same answers as the exact path.
    let mut exact_q = query("a red screen", 5);
    exact_q.candidates = Candidates::Exact;
    let exact = lib.search(&exact_q).await.unwrap();
    assert_eq!(ann.hits, exact.hits);
    assert_eq!(ann.hits, before.hits);
    // The bundled model knows its colours: the red scene of scenes.mp4 (0-10 s) comes first.
    assert_eq!(ann.hits[0].fingerprint, mp4.fingerprint, "{:?}", ann.hits);
    assert!(ann.hits[0].start < 10.0 && ann.hits[0].end > 0.0, "{:?}", ann.hits[0]);
    assert!(ann.hits.windows(2).all(|w| w[0].score >= w[1].score));

    // A video ingested after the build is found at once (scanned exactly) ...
    let rotated = ingest(&engine, "rotated.mp4").await;
    let fresh = lib.search(&query("a black screen", 5)).await.unwrap();
    assert_eq!((fresh.stats.generation.as_deref(), fresh.stats.videos_scanned_exact), (Some("gen-000001"), 1));
    let behind = staleness(engine.store(), &root).await.unwrap();
    assert_eq!((behind.len(), behind[0].pending_videos, behind[0].dead_vectors), (1, 1, 0));
    // ... and a refresh inserts it without a rebuild.
    let extended = lib.refresh(&RefreshOptions::default(), &silent()).await.unwrap();
    assert!(!extended.rebuilt);
    assert_eq!((extended.added_videos, extended.videos, extended.generation.as_deref()), (1, 4, Some("gen-000002")));
    assert_eq!(extended.vectors, built.vectors + extended.added_vectors);
    let after = lib.search(&query("a black screen", 5)).await.unwrap();
    assert_eq!(after.stats.videos_scanned_exact, 0);
    assert!(after.hits.iter().any(|h| h.fingerprint == rotated.fingerprint), "{:?}", after.hits);
    // Nothing to do: the manifest alone says so.
    let again = lib.refresh(&RefreshOptions::default(), &silent()).await.unwrap();
    assert_eq!((again.added_videos, again.generation.as_deref()), (0, Some("gen-000002")));

    // A restarted process reads the same generation from disk and answers the same.
    let engine2 = self::engine(dir.path()).await;
    let lib2 = Library::new(engine2.clone(), &root);
    let restarted = lib2.search(&query("a black screen", 5)).await.unwrap();
    assert_eq!(restarted.stats.generation.as_deref(), Some("gen-000002"));
    assert_eq!(restarted.hits, after.hits);

    // scenes.webm is re-ingested (a new frames row): its old vectors stay in the graph but
    // are never proposed again, and the video is scanned exactly until the next refresh.
    let frames = engine.store().load_frames(&mp4).await.unwrap();
    let replaced = VideoRecord {
        ingest_id: chronoseek::ingest::unique_id(),
        created_at_ms: webm.created_at_ms + 1,
        frame_count: frames.len() as u32,
        ..webm.clone()
    };
    engine.store().put_video(&replaced, &frames).await.unwrap();
    let q = engine.embed_query("a magenta screen").await.unwrap();
    let records = lib.videos().await.unwrap();
    let cands = lib.ann_candidates(&q, 10_000, &records).await.unwrap();
    assert!(!cands.hits.is_empty());
    assert!(cands.hits.iter().all(|h| h.fingerprint != webm.fingerprint), "old vectors proposed");
    assert!(!cands.indexed.contains(&webm.fingerprint));
    let stale = staleness(engine.store(), &root).await.unwrap();
    assert_eq!(stale[0].pending_videos, 1);
    assert!(stale[0].dead_vectors > 0);
    let searched = lib.search(&query("a magenta screen", 5)).await.unwrap();
    assert_eq!(searched.stats.videos_scanned_exact, 1);
    // The dead share is above the rebuild threshold here: the refresh rebuilds.
    let rebuilt =
        lib.refresh(&RefreshOptions { max_dead_fraction: 0.0, ..Default::default() }, &silent()).await.unwrap();
    assert!(rebuilt.rebuilt && rebuilt.dead_vectors == 0, "{rebuilt:?}");
    assert_eq!(rebuilt.generation.as_deref(), Some("gen-000003"));
    let cands = lib.ann_candidates(&q, 10_000, &lib.videos().await.unwrap()).await.unwrap();
    assert!(cands.hits.iter().any(|h| h.fingerprint == webm.fingerprint && h.ingest_id == replaced.ingest_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shots_index_fewer_vectors_and_restrictions_search_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("library");
    let engine = engine(dir.path()).await;
    let mp4 = ingest(&engine, "scenes.mp4").await;
    let webm = ingest(&engine, "scenes.webm").await;
    // A video of two shots whose frames all differ a little (a camera's noise): 20 distinct
    // frame vectors, 2 shot vectors.
    let dim = engine.embed_query("x").await.unwrap().len();
    let mut m = chronoseek::index::FrameMatrix::new(dim);
    for i in 0..20usize {
        let mut v = vec![0f32; dim];
        v[if i < 10 { 0 } else { 1 }] = 1.0;
        v[2 + i % (dim - 2)] = 0.01 * (1 + i) as f32;
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= n);
        m.push(i as i64 * 1000, &v);
    }
    let two_shots = VideoRecord {
        fingerprint: chronoseek::fingerprint::Fingerprint::of(b"two shots"),
        ingest_id: chronoseek::ingest::unique_id(),
        frame_count: 20,
        duration_s: 20.0,
        ..mp4.clone()
    };
    engine.store().put_video(&two_shots, &m).await.unwrap();
    let lib = Library::new(engine.clone(), &root);
    let frames = lib.refresh(&RefreshOptions::default(), &silent()).await.unwrap();
    let shots =
        lib.refresh(&RefreshOptions { unit: Some(IndexUnit::Shot), ..Default::default() }, &silent()).await.unwrap();
    assert!(shots.rebuilt, "another unit rebuilds");
    assert_eq!(frames.vectors - shots.vectors, 20 - 2, "{shots:?} vs {frames:?}");
    // A later refresh keeps the unit.
    ingest(&engine, "odd.mkv").await;
    let kept = lib.refresh(&RefreshOptions::default(), &silent()).await.unwrap();
    assert!(!kept.rebuilt && kept.added_videos == 1);
    assert_eq!(staleness(engine.store(), &root).await.unwrap()[0].unit, IndexUnit::Shot);

    let mut only = query("a red screen", 10);
    only.videos = vec![webm.fingerprint];
    let a = lib.search(&only).await.unwrap();
    assert!(a.hits.iter().all(|h| h.fingerprint == webm.fingerprint) && !a.hits.is_empty());
    assert_eq!(a.stats.videos_scanned_exact, 1);
    let mut unknown = query("a red screen", 10);
    unknown.videos = vec![chronoseek::fingerprint::Fingerprint::of(b"not stored")];
    assert!(matches!(lib.search(&unknown).await, Err(chronoseek::library::LibraryError::UnknownVideo(_))));
    assert!(lib.search(&query("   ", 3)).await.is_err(), "blank query refused");
    assert!(LibraryTopK::new(0).is_none() && LibraryTopK::new(101).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moments_like_a_picture_or_like_a_stored_moment() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    // scenes.mp4: red 0-10 s, green 10-20 s, blue 20-30 s.
    let mp4 = ingest(&engine, "scenes.mp4").await;
    ingest(&engine, "scenes.webm").await;
    ingest(&engine, "odd.mkv").await;
    // Its green scene again, cut out, scaled down and re-encoded by the ffmpeg tool: other
    // bytes (another video), the same look.
    let green = dir.path().join("green.mp4");
    let ok = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-ss", "11", "-t", "8", "-i"])
        .arg(common::fixture("scenes.mp4"))
        .args(["-vf", "scale=160:120", "-an", "-c:v", "libx264"])
        .arg(&green)
        .status()
        .expect("the ffmpeg tool is installed");
    assert!(ok.success());
    let copy = ingest_path(&engine, &green).await;
    assert_ne!(copy.fingerprint, mp4.fingerprint);
    let lib = Library::new(engine.clone(), &dir.path().join("library"));
    lib.refresh(&RefreshOptions::default(), &silent()).await.unwrap();
    let k = LibraryTopK::new(5).unwrap();

    // A picture: scenes.mp4's frame at 15 s written as a PNG (the page's thumbnail code).
    let png = chronoseek::ingest::thumbnail::thumbnail_png(&common::fixture("scenes.mp4"), 15.0, 320).unwrap();
    let path = dir.path().join("still.png");
    std::fs::write(&path, png).unwrap();
    // The cut-out green scene is a clip of scenes.mp4, by default folded into it (below); kept
    // apart here to compare the two.
    let kept = |probe: Probe| {
        let mut q = LibraryQuery::new(probe, k);
        q.copies = Copies::Keep;
        q
    };
    let c0 = engine.counters();
    let seen = lib.search(&kept(Probe::Picture(Picture::open(&path).unwrap()))).await.unwrap();
    let c = engine.counters().since(&c0);
    assert_eq!((c.picture_embeddings, c.text_embeddings, c.image_embeddings, c.videos_decoded), (1, 0, 0, 0));
    assert_eq!(seen.stats.videos_scanned_exact, 0, "candidates came from the index");
    // The two green moments lead, well ahead of anything else.
    let leaders: std::collections::HashSet<_> = seen.hits[..2].iter().map(|h| h.fingerprint).collect();
    assert_eq!(leaders, std::collections::HashSet::from([mp4.fingerprint, copy.fingerprint]), "{:#?}", seen.hits);
    let in_mp4 = seen.hits.iter().find(|h| h.fingerprint == mp4.fingerprint).unwrap();
    assert!(in_mp4.start >= 9.0 && in_mp4.end <= 21.0 && in_mp4.start < 15.0 && in_mp4.end > 15.0, "{in_mp4:?}");
    assert!(seen.hits[1].score > seen.hits[2].score + 0.05, "{:#?}", seen.hits);
    let folded = lib.search(&LibraryQuery::new(Probe::Picture(Picture::open(&path).unwrap()), k)).await.unwrap();
    let under: Vec<_> = folded.hits[0].copies.iter().map(|c| c.fingerprint).collect();
    assert!(leaders.contains(&folded.hits[0].fingerprint) && under.len() == 1, "{:#?}", folded.hits);
    assert!(leaders.contains(&under[0]) && under[0] != folded.hits[0].fingerprint, "{:#?}", folded.hits);

    // A stored moment: scenes.mp4 at 15 s. No tower runs (its frame is in the store), the
    // moment itself is left out, and the green copy comes first.
    let c0 = engine.counters();
    let like = lib.search(&kept(Probe::Moment { video: mp4.fingerprint, at_s: 15.0 })).await.unwrap();
    let c = engine.counters().since(&c0);
    assert_eq!((c.picture_embeddings, c.text_embeddings, c.image_embeddings, c.videos_decoded), (0, 0, 0, 0));
    assert_eq!(like.hits[0].fingerprint, copy.fingerprint, "{:#?}", like.hits);
    assert!(
        like.hits.iter().all(|h| !(h.fingerprint == mp4.fingerprint && h.start <= 15.0 && h.end >= 15.0)),
        "the probe's own moment is an answer: {:#?}",
        like.hits
    );
    // Its score is the cosine with scenes.mp4's stored frame: the copy is the same green.
    assert!(like.hits[0].score > 0.9, "{:?}", like.hits[0]);

    // Times the video does not have, and videos the store does not have, are refused.
    for at_s in [31.0, -1.0, f64::NAN, f64::INFINITY] {
        let q = LibraryQuery::new(Probe::Moment { video: mp4.fingerprint, at_s }, k);
        let e = lib.search(&q).await.unwrap_err();
        assert!(matches!(e, LibraryError::MomentOutside { .. }), "{at_s}: {e}");
        assert_eq!(e.code(), chronoseek::protocol::ErrorCode::QueryInvalid);
    }
    let stranger = chronoseek::fingerprint::Fingerprint::of(b"not stored");
    let q = LibraryQuery::new(Probe::Moment { video: stranger, at_s: 1.0 }, k);
    assert!(matches!(lib.search(&q).await, Err(LibraryError::UnknownVideo(_))));
}

/// Runs the ffmpeg tool with these arguments (after the quiet, no-prompt ones).
fn ffmpeg(args: &[&str], out: &Path) {
    let ok = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y"])
        .args(args)
        .arg(out)
        .status()
        .expect("the ffmpeg tool is installed");
    assert!(ok.success(), "ffmpeg {args:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_of_a_video_are_one_result() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    // scenes.mp4 (red 0-10 s, green, blue), the same footage re-encoded smaller into another
    // container, and the same three colours in another order (the same length, not a copy).
    let mp4 = ingest(&engine, "scenes.mp4").await;
    let copy_path = dir.path().join("scenes-small.mkv");
    let fixture = common::fixture("scenes.mp4");
    ffmpeg(
        &["-i", fixture.to_str().unwrap(), "-vf", "scale=160:120", "-c:v", "mpeg4", "-q:v", "12", "-an"],
        &copy_path,
    );
    let copy = ingest_path(&engine, &copy_path).await;
    let reordered_path = dir.path().join("reordered.mp4");
    let mut args = Vec::new();
    for c in ["blue", "green", "red"] {
        args.extend(["-f".to_string(), "lavfi".into(), "-i".into(), format!("color=c={c}:s=320x240:r=10:d=10")]);
    }
    args.extend(["-filter_complex".into(), "concat=n=3:v=1:a=0".into(), "-c:v".into(), "libx264".into()]);
    ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>(), &reordered_path);
    let reordered = ingest_path(&engine, &reordered_path).await;
    assert!(mp4.fingerprint != copy.fingerprint && (copy.duration_s - mp4.duration_s).abs() < 0.5);
    let lib = Library::new(engine.clone(), &dir.path().join("library"));
    lib.refresh(&RefreshOptions::default(), &silent()).await.unwrap();
    let red = |h: &chronoseek::library::LibraryHit| h.start < 9.0 && h.end > 1.0;

    // Folded (the default): the red moment once, its copy listed under it; the reordered
    // video's red moment (20-30 s) is a result of its own.
    let folded = lib.search(&query("a red screen", 10)).await.unwrap();
    let first = &folded.hits[0];
    assert!([mp4.fingerprint, copy.fingerprint].contains(&first.fingerprint) && red(first), "{:#?}", folded.hits);
    let other = if first.fingerprint == mp4.fingerprint { copy.fingerprint } else { mp4.fingerprint };
    assert_eq!(first.copies.len(), 1, "{first:#?}");
    let c = &first.copies[0];
    assert_eq!(c.fingerprint, other);
    assert!(c.start < 9.0 && c.end > 1.0, "the same moment in the copy: {c:?}");
    assert!(!folded.hits.iter().any(|h| h.fingerprint == other && red(h)), "listed twice: {:#?}", folded.hits);
    let own = folded.hits.iter().find(|h| h.fingerprint == reordered.fingerprint && h.start >= 19.0);
    assert!(own.is_some_and(|h| h.copies.is_empty()), "the reordered video is not a copy: {:#?}", folded.hits);
    // Every moment of the pair appears once: the copy adds no result of its own.
    let pair = |hits: &[chronoseek::library::LibraryHit]| {
        hits.iter().filter(|h| h.fingerprint == mp4.fingerprint || h.fingerprint == copy.fingerprint).count()
    };
    assert!(folded.hits.iter().all(|h| h.fingerprint != other || h.copies.is_empty()));

    // The library's groups of copies: the pair, and nothing else.
    let videos = chronoseek::library::current_videos(engine.store(), engine.model().key()).await.unwrap();
    let groups = chronoseek::library::copies::find_copies(&engine, &videos, &silent()).await.unwrap();
    let mut group = vec![mp4.fingerprint, copy.fingerprint];
    group.sort_by(|x, y| {
        let d = |fp| videos.iter().find(|v| v.fingerprint == fp).unwrap().duration_s;
        d(*x).total_cmp(&d(*y)).then(x.cmp(y))
    });
    assert_eq!((groups.groups, groups.videos), (vec![group], 3));
    assert!(groups.pairs_compared >= 2, "three videos of about 30 s: {}", groups.pairs_compared);

    // Kept apart on request: the copy's red moment is a result again.
    let mut q = query("a red screen", 10);
    q.copies = Copies::Keep;
    let kept = lib.search(&q).await.unwrap();
    assert!(kept.hits.iter().any(|h| h.fingerprint == other && red(h)), "{:#?}", kept.hits);
    assert!(kept.hits.iter().all(|h| h.copies.is_empty()));
    assert!(pair(&kept.hits) > pair(&folded.hits), "{:#?}\n{:#?}", kept.hits, folded.hits);

    // "Moments like this one" leaves the moment out of its copies too (kept, it is there).
    let k = LibraryTopK::new(5).unwrap();
    let like = lib.search(&LibraryQuery::new(Probe::Moment { video: mp4.fingerprint, at_s: 5.0 }, k)).await.unwrap();
    assert!(
        like.hits.iter().all(|h| !([mp4.fingerprint, copy.fingerprint].contains(&h.fingerprint) && red(h))),
        "{:#?}",
        like.hits
    );
    let mut q = LibraryQuery::new(Probe::Moment { video: mp4.fingerprint, at_s: 5.0 }, k);
    q.copies = Copies::Keep;
    let like = lib.search(&q).await.unwrap();
    let again = like.hits.iter().find(|h| h.fingerprint == copy.fingerprint && red(h));
    assert!(again.is_some_and(|h| h.score > 0.99), "the same frames: {:#?}", like.hits);

    // What is said: the same words at the same time in both copies are one result, the same
    // words at the same time in the reordered video (as long, other frames) another.
    use chronoseek::index::{Heard, SpokenSegment, Transcript};
    for (i, r) in [&mp4, &copy, &reordered].into_iter().enumerate() {
        let segment =
            SpokenSegment { start_ms: 2000, end_ms: 4000, text: "look, all red".into(), embedding: vec![0.0; 4] };
        let t = Transcript {
            fingerprint: r.fingerprint,
            model_key: r.model_key.clone(),
            transcript_id: format!("t{i}"),
            audio_model: "hand-made".into(),
            heard: Heard::Speech { language: Some("en".into()), segments: vec![segment] },
            created_at_ms: 0,
        };
        engine.store().put_transcript(r, &t).await.unwrap();
    }
    let said = lib.search(&LibraryQuery::new(Probe::Said("all red".into()), k)).await.unwrap();
    let videos: Vec<_> = said.hits.iter().map(|h| (h.fingerprint, h.copies.len())).collect();
    assert_eq!(said.hits.len(), 2, "{:#?}", said.hits);
    assert!(videos.contains(&(reordered.fingerprint, 0)), "{videos:?}");
    let folded = said.hits.iter().find(|h| h.fingerprint != reordered.fingerprint).unwrap();
    assert_eq!((folded.copies.len(), folded.copies[0].start, folded.copies[0].end), (1, 2.0, 4.0), "{folded:#?}");
    let mut q = LibraryQuery::new(Probe::Said("all red".into()), k);
    q.copies = Copies::Keep;
    assert_eq!(lib.search(&q).await.unwrap().hits.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clip_cut_from_a_video_is_folded_into_it_and_found_where_it_was_cut() {
    use chronoseek::library::copies::Relation;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    // scenes.mp4 (red 0-10 s, green, blue) and 10 s cut from it at 6 s, smaller and
    // re-encoded (red 4 s, then green); beside it 10 s of the same colours the other way round
    // (green 4 s, then red): a clip of nothing.
    let mp4 = ingest(&engine, "scenes.mp4").await;
    let fixture = common::fixture("scenes.mp4");
    let clip_path = dir.path().join("cut.mp4");
    ffmpeg(&["-ss", "6", "-t", "10", "-i", fixture.to_str().unwrap(), "-vf", "scale=160:120", "-an"], &clip_path);
    let clip = ingest_path(&engine, &clip_path).await;
    let other_path = dir.path().join("green-red.mp4");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=green:s=320x240:r=10:d=4",
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=320x240:r=10:d=6",
            "-filter_complex",
            "concat=n=2:v=1:a=0",
            "-c:v",
            "libx264",
        ],
        &other_path,
    );
    let other = ingest_path(&engine, &other_path).await;
    assert!((clip.duration_s - 10.0).abs() < 0.5, "{}", clip.duration_s);
    let lib = Library::new(engine.clone(), &dir.path().join("library"));
    lib.refresh(&RefreshOptions::default(), &silent()).await.unwrap();

    // Where the clip was cut, proposed by the graph; and the same without an index.
    let videos = chronoseek::library::current_videos(engine.store(), engine.model().key()).await.unwrap();
    let found = lib.find_clips(&videos, &silent()).await.unwrap();
    assert!(found.indexed, "the graph proposed the pairs");
    assert_eq!(found.clips.len(), 1, "{found:#?}");
    let c = &found.clips[0];
    assert_eq!((c.clip, c.of), (clip.fingerprint, mp4.fingerprint));
    assert!((c.from_s - 6.0).abs() <= 1.0 && (c.to_s - 16.0).abs() <= 1.0, "cut at 6 s: {c:?}");
    assert!(c.also_from_s.is_empty(), "the footage does not repeat: one place: {c:?}");
    assert!(found.pairs_compared <= 2, "only videos the graph proposed: {found:#?}");
    let bare = Library::new(engine.clone(), &dir.path().join("no-index"));
    let exact = bare.find_clips(&videos, &silent()).await.unwrap();
    assert_eq!((exact.clips, exact.indexed), (found.clips.clone(), false));

    // A search lists the green moment once: the clip's (4-10 s there) under the original's.
    let green = |start: f64, end: f64| end - start > 3.0 && start < 16.0 && end > 10.0;
    let answer = lib.search(&query("a green screen", 10)).await.unwrap();
    let of_two: Vec<_> = answer
        .hits
        .iter()
        .filter(|h| {
            (h.fingerprint == mp4.fingerprint && green(h.start, h.end))
                || (h.fingerprint == clip.fingerprint && green(h.start + 6.0, h.end + 6.0))
        })
        .collect();
    assert_eq!(of_two.len(), 1, "{:#?}", answer.hits);
    let (kept, under) = (of_two[0], &of_two[0].copies);
    let expected = if kept.fingerprint == mp4.fingerprint {
        (clip.fingerprint, Relation::Clip)
    } else {
        (mp4.fingerprint, Relation::Original)
    };
    assert_eq!(under.iter().map(|c| (c.fingerprint, c.relation)).collect::<Vec<_>>(), [expected], "{kept:#?}");
    assert!(
        answer.hits.iter().filter(|h| h.fingerprint == other.fingerprint).all(|h| h.copies.is_empty()),
        "the colours the other way round are not the clip: {:#?}",
        answer.hits
    );
    let mut q = query("a green screen", 10);
    q.copies = Copies::Keep;
    let kept = lib.search(&q).await.unwrap();
    let clip_green = |h: &&chronoseek::library::LibraryHit| h.fingerprint == clip.fingerprint && h.end > 5.0;
    assert!(kept.hits.iter().any(|h| clip_green(&h)), "kept apart on request: {:#?}", kept.hits);

    // "Moments like this one" at 12 s of the original leaves out the clip's moment at 6 s.
    let k = LibraryTopK::new(10).unwrap();
    let like = lib.search(&LibraryQuery::new(Probe::Moment { video: mp4.fingerprint, at_s: 12.0 }, k)).await;
    let like = like.unwrap();
    assert!(
        !like.hits.iter().any(|h| h.fingerprint == clip.fingerprint && (h.start..=h.end).contains(&6.0)),
        "{like:#?}"
    );
    let mut q = LibraryQuery::new(Probe::Moment { video: mp4.fingerprint, at_s: 12.0 }, k);
    q.copies = Copies::Keep;
    let like = lib.search(&q).await.unwrap();
    assert!(
        like.hits.iter().any(|h| h.fingerprint == clip.fingerprint && (h.start..=h.end).contains(&6.0)),
        "{like:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clip_of_footage_that_repeats_is_listed_with_every_place_and_folded_under_none() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    // scenes.mp4 played twice (red, green, blue, red, green, blue: 60 s) and 10 s cut from it
    // at 6 s (red 4 s, then green): the same footage is at 6 s and at 36 s.
    let fixture = common::fixture("scenes.mp4");
    let twice_path = dir.path().join("twice.mp4");
    ffmpeg(&["-stream_loop", "1", "-i", fixture.to_str().unwrap(), "-an", "-c:v", "libx264"], &twice_path);
    let twice = ingest_path(&engine, &twice_path).await;
    assert!((twice.duration_s - 60.0).abs() < 1.0, "{}", twice.duration_s);
    let clip_path = dir.path().join("cut.mp4");
    ffmpeg(&["-ss", "6", "-t", "10", "-i", fixture.to_str().unwrap(), "-vf", "scale=160:120", "-an"], &clip_path);
    let clip = ingest_path(&engine, &clip_path).await;
    let lib = Library::new(engine.clone(), &dir.path().join("library"));
    lib.refresh(&RefreshOptions::default(), &silent()).await.unwrap();

    let videos = chronoseek::library::current_videos(engine.store(), engine.model().key()).await.unwrap();
    let found = lib.find_clips(&videos, &silent()).await.unwrap();
    assert_eq!(found.clips.len(), 1, "{found:#?}");
    let c = &found.clips[0];
    assert_eq!((c.clip, c.of), (clip.fingerprint, twice.fingerprint));
    let mut places: Vec<f64> = c.also_from_s.iter().copied().chain([c.from_s]).collect();
    places.sort_by(f64::total_cmp);
    assert_eq!(places.len(), 2, "one place per repeat: {c:?}");
    assert!((places[0] - 6.0).abs() <= 1.0 && (places[1] - 36.0).abs() <= 1.0, "cut at 6 s or 36 s: {c:?}");

    // Nothing tells which repeat it was cut from: a search folds neither into the other.
    let answer = lib.search(&query("a green screen", 10)).await.unwrap();
    assert!(answer.hits.iter().all(|h| h.copies.is_empty()), "{:#?}", answer.hits);
    assert!(answer.hits.iter().any(|h| h.fingerprint == clip.fingerprint), "{:#?}", answer.hits);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_range_keeps_to_videos_recorded_in_it() {
    use chronoseek::library::period::RecordedRange;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    // scenes.mp4 as a camera would have written it (the same streams, a recording date), and
    // scenes.webm, which says nothing about when it was recorded.
    let dated_path = dir.path().join("camera.mp4");
    common::with_recording_date(&common::fixture("scenes.mp4"), "2024-07-14T15:30:12Z", &dated_path);
    let dated = ingest_path(&engine, &dated_path).await;
    let undated = ingest(&engine, "scenes.webm").await;
    assert_eq!((dated.recorded_at_ms, undated.recorded_at_ms), (Some(1_720_971_012_000), None));
    let stored = engine.store().video(&dated.fingerprint, engine.model().key()).await.unwrap().unwrap();
    assert_eq!(stored.recorded_at_ms, Some(1_720_971_012_000), "read back from the store");
    let lib = Library::new(engine.clone(), &dir.path().join("library"));
    lib.refresh(&RefreshOptions::default(), &silent()).await.unwrap();

    let within = |from: &str, until: &str| {
        let mut q = query("a red screen", 10);
        q.recorded = RecordedRange::new(
            (!from.is_empty()).then(|| from.parse().unwrap()),
            (!until.is_empty()).then(|| until.parse().unwrap()),
            &chronoseek::library::period::Zone::utc(),
        )
        .unwrap();
        q
    };
    let videos = |a: &chronoseek::library::LibraryAnswer| {
        a.hits.iter().map(|h| h.fingerprint).collect::<std::collections::BTreeSet<_>>()
    };
    let all = lib.search(&within("", "")).await.unwrap();
    assert_eq!(videos(&all), [dated.fingerprint, undated.fingerprint].into(), "no range: every video");
    let july = lib.search(&within("2024-07", "2024-07")).await.unwrap();
    assert_eq!(videos(&july), [dated.fingerprint].into());
    assert_eq!(july.stats.videos_scanned_exact, 1, "only the video in range is scored");
    assert!(july.hits.iter().all(|h| h.recorded_at_ms == Some(1_720_971_012_000)));
    assert_eq!(videos(&lib.search(&within("2024", "")).await.unwrap()), [dated.fingerprint].into());
    assert!(lib.search(&within("2024-07-15", "")).await.unwrap().hits.is_empty(), "recorded the day before");
    assert!(lib.search(&within("", "2024-07-13")).await.unwrap().hits.is_empty());
}
