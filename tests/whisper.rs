//! Whisper's front half on real parts: audio decoded by FFmpeg from every shape of stream, and
//! the tiny random Whisper in `../shared/model/tiny-random-whisper` loaded through the same code
//! as real weights, reproducing what Hugging Face transformers computed for its speech file
//! (features, encoder output, decoder logits, greedy tokens) within the file's tolerances.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use chronoseek::ingest::MediaTrust;
use chronoseek::ingest::audio::{AUDIO_RATE, AudioOptions, decode_audio};
use chronoseek::model::whisper::{FeatureExtractor, MelFilters, N_FRAMES, WhisperModel, argmax};
use chronoseek::model::{DeviceSpec, ModelFiles};
use serde_json::Value;

fn whisper_dir() -> PathBuf {
    common::shared().join("model/tiny-random-whisper")
}

fn expected() -> Value {
    serde_json::from_slice(&std::fs::read(whisper_dir().join("expected_outputs.json")).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn close(got: &[f32], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((f64::from(*g) - w).abs() <= tol, "{what}[{i}]: {g} vs {w} (tolerance {tol})");
    }
}

/// Audio options for the user's own files (limit: four hours).
fn local() -> AudioOptions {
    AudioOptions::default()
}

/// ... and for bytes a caller sent.
fn network() -> AudioOptions {
    AudioOptions { trust: MediaTrust::Network, ..AudioOptions::default() }
}

fn speech() -> Vec<f32> {
    decode_audio(&whisper_dir().join("speech16k.wav"), local()).unwrap().expect("the file has audio").samples
}

fn mel_filters() -> MelFilters {
    MelFilters::from_npz(&common::shared().join("model/whisper-assets/mel_filters.npz"), 80).expect("mel filters")
}

/// The speech file's log-mel features, computed by our extractor.
fn speech_features() -> Vec<f32> {
    FeatureExtractor::new(mel_filters()).log_mel(&speech())
}

#[test]
fn the_speech_file_decodes_to_the_samples_python_read() {
    let pcm = speech();
    assert_eq!(pcm.len() as u64, expected()["pcm_samples"].as_u64().unwrap());
    // s16 → f32 is x / 32768, as NumPy's astype(float32) / 32768.
    let bytes = std::fs::read(whisper_dir().join("speech16k.wav")).unwrap();
    let data = bytes.windows(4).position(|w| w == b"data").unwrap() + 8;
    let first: Vec<f32> =
        bytes[data..data + 64].chunks_exact(2).map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0).collect();
    assert_eq!(&pcm[..32], &first[..]);
}

#[test]
fn log_mel_features_match_transformers() {
    let e = expected();
    let tol = &e["tolerance"];
    let mel = speech_features();
    assert_eq!(mel.len(), 80 * N_FRAMES);
    let f = &e["features"];
    let ftol = tol["features_abs"].as_f64().unwrap();
    let at = |bin: usize, frame: usize| mel[bin * N_FRAMES + frame];
    close(&(0..8).map(|b| at(b, 0)).collect::<Vec<_>>(), &floats(&f["frame0_first8"]), ftol, "frame 0");
    close(&(100..108).map(|t| at(10, t)).collect::<Vec<_>>(), &floats(&f["bin10_frames100_108"]), ftol, "bin 10");
    close(&(0..8).map(|b| at(b, N_FRAMES - 1)).collect::<Vec<_>>(), &floats(&f["last_frame_first8"]), ftol, "last");
    let n = mel.len() as f64;
    let mean = mel.iter().map(|x| f64::from(*x)).sum::<f64>() / n;
    let std = (mel.iter().map(|x| (f64::from(*x) - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert!((mean - f["mean"].as_f64().unwrap()).abs() < ftol, "mean {mean}");
    assert!((std - f["std"].as_f64().unwrap()).abs() < ftol, "std {std}");
}

#[test]
fn encoder_logits_and_greedy_tokens_match_transformers() {
    let e = expected();
    let tol = &e["tolerance"];
    let mel = speech_features();
    let files = ModelFiles::in_dir(&whisper_dir()).unwrap();
    let mut model = WhisperModel::from_files(&files, DeviceSpec::Cpu).expect("load tiny whisper");
    let audio = model.encode(&mel).unwrap();
    assert_eq!(audio.dims(), &[1, 1500, 64]);
    let rows = audio.squeeze(0).unwrap().to_vec2::<f32>().unwrap();
    let htol = tol["hidden_abs"].as_f64().unwrap();
    let h = &e["encoder_last_hidden"];
    close(&rows[0][..8], &floats(&h["row0_first8"]), htol, "encoder row 0");
    close(&rows[700][..8], &floats(&h["row700_first8"]), htol, "encoder row 700");

    let prompt: Vec<u32> = e["decoder_prompt"].as_array().unwrap().iter().map(|t| t.as_u64().unwrap() as u32).collect();
    let logits = model.next_logits(&prompt, &audio, true).unwrap();
    let l = &e["logits_last_position"];
    let ltol = tol["logits_abs"].as_f64().unwrap();
    close(&logits[..8], &floats(&l["first8"]), ltol, "logits");
    assert_eq!(u64::from(argmax(&logits)), l["argmax"].as_u64().unwrap());
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|a, b| logits[*b].total_cmp(&logits[*a]));
    let top5: Vec<u64> = order[..5].iter().map(|i| *i as u64).collect();
    let want: Vec<u64> = l["top5"].as_array().unwrap().iter().map(|t| t.as_u64().unwrap()).collect();
    assert_eq!(top5, want);

    let greedy = model.greedy(&prompt, &audio, 8).unwrap();
    let want: Vec<u32> =
        e["greedy_8_tokens_after_prompt"].as_array().unwrap().iter().map(|t| t.as_u64().unwrap() as u32).collect();
    assert_eq!(greedy, want);
}

/// A test clip made by the ffmpeg program: `seconds` of colour, and a 440 Hz tone of
/// `audio_seconds` in `layout` at `rate` (no audio when `None`).
fn clip(dir: &Path, name: &str, seconds: f64, audio: Option<(&str, u32, f64)>) -> PathBuf {
    let out = dir.join(name);
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("color=c=blue:s=64x48:r=10:d={seconds}"));
    if let Some((layout, rate, secs)) = audio {
        cmd.args(["-f", "lavfi", "-i"]).arg(format!("sine=frequency=440:sample_rate={rate}:duration={secs}")).args([
            "-af",
            &format!("aformat=channel_layouts={layout}"),
            "-ar",
            &rate.to_string(),
        ]);
    }
    cmd.args(["-c:v", "libx264", "-pix_fmt", "yuv420p"]);
    if audio.is_some() {
        cmd.args(["-c:a", "aac"]);
    }
    let status = cmd.arg(&out).status().unwrap();
    assert!(status.success());
    out
}

/// The tone's frequency from zero crossings.
fn frequency(samples: &[f32]) -> f64 {
    let crossings = samples.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
    crossings as f64 / (samples.len() as f64 / f64::from(AUDIO_RATE))
}

#[test]
fn any_layout_and_rate_becomes_16_khz_mono_and_no_audio_is_none() {
    let dir = tempfile::tempdir().unwrap();
    assert!(decode_audio(&common::fixture("scenes.webm"), network()).unwrap().is_none(), "no audio stream");
    let mp4 = decode_audio(&common::fixture("scenes.mp4"), network()).unwrap().unwrap();
    assert!((mp4.seconds() - 30.0).abs() < 0.1, "{}", mp4.seconds());
    for (name, layout, rate, channels) in
        [("mono8k.mp4", "mono", 8_000, 1), ("stereo48k.mp4", "stereo", 48_000, 2), ("surround.mp4", "5.1", 44_100, 6)]
    {
        let a = decode_audio(&clip(dir.path(), name, 3.0, Some((layout, rate, 3.0))), network()).unwrap().unwrap();
        assert_eq!((a.source_rate, a.source_channels), (rate, channels), "{name}");
        assert!((a.seconds() - 3.0).abs() < 0.1, "{name}: {} s", a.seconds());
        let f = frequency(&a.samples[AUDIO_RATE as usize / 2..AUDIO_RATE as usize * 5 / 2]);
        assert!((f - 440.0).abs() < 5.0, "{name}: {f} Hz");
        let peak = a.samples.iter().fold(0f32, |m, x| m.max(x.abs()));
        assert!(peak > 0.05 && peak <= 1.0, "{name}: peak {peak}");
    }
    // The audio is what the stream holds, whatever the picture's length.
    let short = decode_audio(&clip(dir.path(), "short.mp4", 5.0, Some(("mono", 16_000, 2.0))), local());
    assert!((short.unwrap().unwrap().seconds() - 2.0).abs() < 0.1);
    let long = decode_audio(&clip(dir.path(), "long.mp4", 2.0, Some(("stereo", 22_050, 4.0))), local());
    assert!((long.unwrap().unwrap().seconds() - 4.0).abs() < 0.1);
}

#[test]
fn the_tokenizer_encodes_and_decodes_as_tiktoken_does() {
    use chronoseek::model::whisper::WhisperTokenizer;
    let golden: Value = serde_json::from_slice(
        &std::fs::read(common::root().join("data/fixtures/whisper-tokenizer-golden.json")).unwrap(),
    )
    .unwrap();
    let tok = WhisperTokenizer::from_tiktoken(&common::shared().join("model/whisper-assets/multilingual.tiktoken"), 99)
        .unwrap();
    assert_eq!(tok.n_vocab() as u64, golden["n_vocab"].as_u64().unwrap());
    for (name, id) in golden["specials"].as_object().unwrap() {
        assert_eq!(tok.special(name).map(u64::from), id.as_u64(), "{name}");
    }
    assert_eq!(tok.timestamp(tok.special("<|30.00|>").unwrap()), Some(30.0));
    assert_eq!(tok.timestamp(tok.special("<|0.02|>").unwrap()), Some(0.02));
    assert_eq!(tok.timestamp(tok.special("<|notimestamps|>").unwrap()), None);
    let ids = |v: &Value| v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect::<Vec<_>>();
    for case in golden["encode"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        assert_eq!(tok.encode(text), ids(&case["ids"]), "{text:?}");
        assert_eq!(tok.decode(&ids(&case["ids"])), text, "round trip");
    }
    for case in golden["decode"].as_array().unwrap() {
        assert_eq!(tok.decode(&ids(&case["ids"])), case["text"].as_str().unwrap());
    }
    let with_specials = ids(&golden["decode"][0]["ids"]);
    assert_eq!(tok.decode_text(&with_specials), " A man throws a red ball.");
}

fn tokenizer() -> chronoseek::model::whisper::WhisperTokenizer {
    chronoseek::model::whisper::WhisperTokenizer::from_tiktoken(
        &common::shared().join("model/whisper-assets/multilingual.tiktoken"),
        99,
    )
    .unwrap()
}

#[test]
fn timestamp_rules_hold_on_hand_made_logits() {
    use chronoseek::model::whisper::transcribe::apply_rules;
    let tok = tokenizer();
    let ts = |s: f64| tok.timestamp_begin() + (s / 0.02).round() as u32;
    let word = tok.encode(" dog")[0];
    let eot = tok.end_of_text();
    let fresh = || vec![0f32; tok.n_vocab()];

    // First token: a timestamp, at most 1 s in, even when text or a later time is likelier.
    let mut l = fresh();
    l[word as usize] = 9.0;
    l[ts(2.0) as usize] = 8.0;
    l[ts(0.5) as usize] = 1.0;
    apply_rules(&mut l, &[], &tok);
    assert_eq!(argmax(&l), ts(0.5));
    assert!(l[eot as usize].is_infinite() && l[tok.encode(" ")[0] as usize].is_infinite(), "no blank start");

    // The opening timestamp is followed by text.
    let mut l = fresh();
    l[ts(0.6) as usize] = 9.0;
    l[word as usize] = 1.0;
    apply_rules(&mut l, &[ts(0.5)], &tok);
    assert_eq!(argmax(&l), word);

    // A timestamp after text ends the segment: another timestamp (not earlier) or the end
    // follows, never text.
    let mut l = fresh();
    l[word as usize] = 9.0;
    l[ts(0.4) as usize] = 5.0;
    l[ts(1.5) as usize] = 2.0;
    apply_rules(&mut l, &[ts(0.0), word, ts(0.5)], &tok);
    assert_eq!(argmax(&l), ts(1.5));
    assert!(l[word as usize].is_infinite() && l[ts(0.4) as usize].is_infinite());
    assert!(l[ts(0.5) as usize].is_finite(), "the next segment may start when this one ends");

    // After a closed pair: text next, no timestamp.
    let mut l = fresh();
    l[ts(3.0) as usize] = 9.0;
    l[word as usize] = 1.0;
    apply_rules(&mut l, &[ts(0.0), word, ts(2.0), ts(2.0)], &tok);
    assert_eq!(argmax(&l), word);

    // After text: time never goes back past the last timestamp.
    let mut l = fresh();
    l[ts(1.0) as usize] = 9.0;
    l[ts(2.5) as usize] = 3.0;
    apply_rules(&mut l, &[ts(0.0), word, ts(2.0), ts(2.0), word], &tok);
    assert_eq!(argmax(&l), ts(2.5));

    // Many timestamps together likelier than the best word: a timestamp is forced.
    let mut l = vec![-10f32; tok.n_vocab()];
    l[word as usize] = 2.0;
    for s in 0..100 {
        l[(ts(1.0) + s) as usize] = 0.5;
    }
    apply_rules(&mut l, &[ts(0.0), word], &tok);
    assert!(tok.timestamp(argmax(&l)).is_some());
    assert!(l[word as usize].is_infinite());
}

#[test]
fn segments_are_read_between_timestamp_pairs() {
    use chronoseek::model::whisper::transcribe::segments;
    let tok = tokenizer();
    let ts = |s: f64| tok.timestamp_begin() + (s / 0.02).round() as u32;
    let mut sampled = vec![ts(0.0)];
    sampled.extend(tok.encode(" A man throws a ball."));
    sampled.extend([ts(2.0), ts(2.5)]);
    sampled.extend(tok.encode(" The dog runs."));
    sampled.extend([ts(4.0), tok.end_of_text(), ts(9.0)]);
    let s = segments(&sampled, &tok);
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].start, s[0].end, s[0].text.as_str()), (0.0, 2.0, "A man throws a ball."));
    assert_eq!((s[1].start, s[1].end, s[1].text.as_str()), (2.5, 4.0, "The dog runs."));
}

/// The tiny random Whisper, English, 24 tokens a window at most (quick).
fn tiny_english_transcriber() -> chronoseek::model::whisper::Transcriber {
    use chronoseek::model::whisper::{Language, Transcriber};
    let files = ModelFiles::in_dir(&whisper_dir()).unwrap();
    let model = WhisperModel::from_files(&files, DeviceSpec::Cpu).unwrap();
    let mut t =
        Transcriber::new(model, FeatureExtractor::new(mel_filters()), tokenizer(), Language::Fixed("en".into()));
    t.max_tokens = 24;
    t
}

/// The speech file 8 times over: 40.5 s, more than one window.
fn long_speech() -> Vec<f32> {
    let one = speech();
    (0..8).flat_map(|_| one.iter().copied()).collect()
}

#[test]
fn the_tiny_model_transcribes_a_long_signal_window_by_window_into_well_formed_segments() {
    let mut t = tiny_english_transcriber();
    let long = long_speech(); // 40.5 s: two windows
    let total = long.len() as f64 / 16_000.0;
    let segments = t.transcribe(&long).unwrap();
    eprintln!("{segments:?}");
    let mut last = 0.0;
    for s in &segments {
        assert!(s.start >= last - 1e-9 && s.start < s.end && s.end <= total + 1e-9, "{s:?}");
        assert!(!s.text.trim().is_empty());
        last = s.start;
    }
}

/// The first 8 mel bins of frame 0.
fn frame0(mel: &[f32]) -> Vec<f32> {
    (0..8).map(|b| mel[b * N_FRAMES]).collect()
}

#[test]
fn the_computed_mel_filter_bank_is_openai_whispers() {
    // Hub checkpoints ship no mel_filters.npz: the bank computed as librosa does must be the
    // one openai-whisper ships, and give the same features.
    let shipped = mel_filters();
    let computed = MelFilters::slaney(80);
    let a = FeatureExtractor::new(shipped).log_mel(&speech());
    let b = FeatureExtractor::new(computed).log_mel(&speech());
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(worst < 1e-5, "features differ by up to {worst}");
    close(&frame0(&b), &floats(&expected()["features"]["frame0_first8"]), 1e-4, "features from the computed bank");
}

/// Writes `multilingual.tiktoken` as a Hugging Face `vocab.json` (GPT-2's byte-to-character
/// names, `<|endoftext|>` after the ordinary tokens), as hub checkpoints ship it.
fn hf_vocab_json(dir: &Path) -> PathBuf {
    use base64::Engine as _;
    let map = chronoseek::model::whisper::tokenizer::byte_to_unicode();
    let text = std::fs::read_to_string(common::shared().join("model/whisper-assets/multilingual.tiktoken")).unwrap();
    let mut vocab = serde_json::Map::new();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (token, rank) = line.split_once(' ').unwrap();
        let bytes = base64::engine::general_purpose::STANDARD.decode(token).unwrap_or_default();
        let name: String = bytes.iter().map(|b| map[*b as usize]).collect();
        if !name.is_empty() {
            vocab.insert(name, rank.parse::<u64>().unwrap().into());
        }
        n += 1;
    }
    vocab.insert("<|endoftext|>".into(), n.into());
    let path = dir.join("vocab.json");
    std::fs::write(&path, serde_json::to_vec(&vocab).unwrap()).unwrap();
    path
}

#[test]
fn a_hugging_face_vocab_json_gives_the_same_tokenizer() {
    let map = chronoseek::model::whisper::tokenizer::byte_to_unicode();
    // GPT-2's names: a space is 'Ġ', a newline 'Ċ', byte 0 'Ā', printable ASCII itself.
    assert_eq!((map[b' ' as usize], map[b'\n' as usize], map[0], map[b'a' as usize]), ('Ġ', 'Ċ', 'Ā', 'a'));
    let dir = tempfile::tempdir().unwrap();
    let hf = chronoseek::model::whisper::WhisperTokenizer::from_hf_vocab(&hf_vocab_json(dir.path()), 99).unwrap();
    let tt = tokenizer();
    assert_eq!(hf.n_vocab(), tt.n_vocab());
    assert_eq!(hf.n_vocab(), 51_865);
    let golden: Value =
        serde_json::from_slice(&std::fs::read("data/fixtures/whisper-tokenizer-golden.json").unwrap()).unwrap();
    let mut checked = 0;
    for case in golden["encode"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let ids: Vec<u32> = case["ids"].as_array().unwrap().iter().map(|i| i.as_u64().unwrap() as u32).collect();
        assert_eq!(hf.encode(text), ids, "{text:?}");
        assert_eq!(hf.decode(&ids), tt.decode(&ids));
        checked += 1;
    }
    assert!(checked >= 5, "the golden file has encode cases");
    assert_eq!(hf.special("<|transcribe|>"), tt.special("<|transcribe|>"));
    assert_eq!(hf.timestamp_begin(), tt.timestamp_begin());
}

#[tokio::test]
async fn a_checkpoint_laid_out_as_on_the_hub_loads_and_transcribes() {
    use chronoseek::model::whisper::{Language, Transcriber};
    use chronoseek::model::{Download, ModelSource};
    // What `huggingface-cli download openai/whisper-tiny` leaves: config, weights, vocab.json;
    // no mel_filters.npz, no .tiktoken.
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::os::unix::fs::symlink(whisper_dir().join(f), dir.path().join(f)).unwrap();
    }
    hf_vocab_json(dir.path());
    let source = ModelSource::Dir(dir.path().to_path_buf());
    let mut t = Transcriber::load(&source, DeviceSpec::Cpu, Download::Never).await.unwrap();
    assert_eq!(t.language, Language::Detect, "51,865 ids: a multilingual checkpoint");
    assert_eq!(t.tokenizer.n_vocab(), 51_865);
    t.max_tokens = 16;
    let segments = t.transcribe(&speech()).unwrap();
    assert_eq!(t.windows, 1, "5 s of speech is one window");
    for s in &segments {
        assert!(0.0 <= s.start && s.start < s.end && s.end <= 5.07, "{s:?}");
    }
    // The encoder sees the same features as through the shipped filter bank.
    let mel = t.features.log_mel(&speech());
    close(&frame0(&mel), &floats(&expected()["features"]["frame0_first8"]), 1e-4, "loaded extractor");
    // No vocabulary at all: the error names what is missing.
    let empty = tempfile::tempdir().unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::os::unix::fs::symlink(whisper_dir().join(f), empty.path().join(f)).unwrap();
    }
    let e = Transcriber::load(&ModelSource::Dir(empty.path().to_path_buf()), DeviceSpec::Cpu, Download::Never)
        .await
        .err()
        .expect("no vocabulary");
    assert!(e.to_string().contains("vocab.json"), "{e}");
}

// ---- Listening at ingest, transcripts in the store, fusion at search ----

mod listening {
    use super::*;
    use chronoseek::index::{FrameMatrix, Heard, SpokenSegment, Store, Transcript, VideoRecord};
    use chronoseek::ingest::{IngestOptions, IngestOutcome, Listener, TranscriptOutcome, VideoInput, VideoSource};
    use chronoseek::model::whisper::Transcriber;
    use chronoseek::model::{Download, ModelSource};
    use chronoseek::protocol::TopK;
    use chronoseek::query::EngineOptions;

    /// The tiny random Whisper laid out as a user's model folder (weights, config, vocabulary).
    pub fn whisper_folder(dir: &Path) -> PathBuf {
        let folder = dir.join("whisper");
        std::fs::create_dir_all(&folder).unwrap();
        for f in ["config.json", "model.safetensors"] {
            std::os::unix::fs::symlink(whisper_dir().join(f), folder.join(f)).unwrap();
        }
        std::os::unix::fs::symlink(
            common::shared().join("model/whisper-assets/multilingual.tiktoken"),
            folder.join("multilingual.tiktoken"),
        )
        .unwrap();
        folder
    }

    async fn listener(dir: &Path) -> std::sync::Arc<Listener> {
        let source = ModelSource::Dir(whisper_folder(dir));
        let mut t = Transcriber::load(&source, DeviceSpec::Cpu, Download::Never).await.unwrap();
        t.max_tokens = 16; // random weights talk until stopped: keep the test short
        Listener::new(t, "tiny-random-whisper")
    }

    /// 8 s of colour with the speech file as its sound track.
    pub fn talking_video(dir: &Path) -> PathBuf {
        let out = dir.join("talk.mp4");
        let status = Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=64x48:r=10:d=8", "-i"])
            .arg(whisper_dir().join("speech16k.wav"))
            .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"])
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        out
    }

    fn source(p: &Path) -> VideoSource {
        VideoSource::File(p.to_path_buf())
    }

    async fn engine(dir: &Path, audio: Option<std::sync::Arc<Listener>>) -> chronoseek::query::Engine {
        let mut opts = EngineOptions { result_cache_capacity: 0, ..EngineOptions::default() };
        opts.ingest = IngestOptions { audio, ..IngestOptions::default() };
        common::engine_in(dir, opts).await
    }

    #[tokio::test]
    async fn ingest_listens_once_and_a_cached_search_does_no_audio_work() {
        let dir = tempfile::tempdir().unwrap();
        let talk = talking_video(dir.path());
        let silent = clip(dir.path(), "silent.mp4", 3.0, None);
        let engine = engine(dir.path(), Some(listener(dir.path()).await)).await;
        let progress = chronoseek::progress::silent();

        let before = engine.counters();
        let IngestOutcome::Ingested(rec, stats) = engine.ingest(&source(&talk), &progress).await.unwrap() else {
            panic!("a new video is ingested")
        };
        let work = engine.counters().since(&before);
        assert_eq!((work.audio_decodes, work.whisper_windows, work.transcripts_stored), (1, 1, 1));
        let transcript = engine.store().transcript(&rec).await.unwrap().expect("the record names a transcript");
        assert_eq!(Some(transcript.transcript_id.as_str()), rec.transcript_id.as_deref());
        assert_eq!(stats.speech_segments, Some(transcript.segments().len()));
        assert_eq!(work.segment_embeddings, transcript.segments().len() as u64);
        assert!(matches!(transcript.heard, Heard::Speech { .. }));
        assert_eq!(transcript.audio_model, "tiny-random-whisper");
        for s in transcript.segments() {
            // Inside the 5.06-s speech track (AAC pads its end by a frame or two).
            assert!(0 <= s.start_ms && s.start_ms < s.end_ms && s.end_ms <= 5_200, "{s:?}");
            assert_eq!(s.embedding.len(), engine.model().dim());
        }

        // No audio stream: stored as such, nothing decoded for the ear.
        let before = engine.counters();
        let silent_rec = engine.ingest(&source(&silent), &progress).await.unwrap().record().clone();
        let work = engine.counters().since(&before);
        assert_eq!((work.audio_decodes, work.whisper_windows, work.transcripts_stored), (0, 0, 1));
        let t = engine.store().transcript(&silent_rec).await.unwrap().unwrap();
        assert_eq!(t.heard, Heard::NoAudioStream);

        // Searches on the stored video: no decode, no Whisper, no segment embedding; the
        // transcript is read once, then served with the frames from memory.
        let video = VideoInput::Stored(rec.fingerprint);
        for round in 0..3 {
            let answer = engine.search(&video, "a man throws a red ball", TopK::default(), &progress).await.unwrap();
            let c = answer.counters;
            assert_eq!(
                (c.videos_decoded, c.audio_decodes, c.whisper_windows, c.segment_embeddings, c.image_embeddings),
                (0, 0, 0, 0, 0),
                "round {round}"
            );
            assert_eq!(c.transcript_loads, u64::from(round == 0), "round {round}");
            let fused = u64::from(!transcript.segments().is_empty());
            assert_eq!(c.audio_fused_searches, fused, "round {round}");
            let meta = answer.metadata("m", engine.options().segmenter);
            assert_eq!(meta["audio"], if fused == 1 { "fused" } else { "none" });
        }
    }

    #[tokio::test]
    async fn a_sound_track_past_the_duration_limit_is_not_listened_to_and_the_picture_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        // Two seconds of picture carrying 70 seconds of sound (three of Whisper's 30-s
        // windows), in a Matroska file written as a live stream: it states no duration, so only
        // the tracks themselves tell.
        let mp4 = clip(dir.path(), "long-sound.mp4", 2.0, Some(("mono", 16_000, 70.0)));
        let mkv = dir.path().join("long-sound.mkv");
        let status = Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error", "-y", "-i"])
            .arg(&mp4)
            .args(["-c", "copy", "-f", "matroska", "-live", "1"])
            .arg(&mkv)
            .status()
            .unwrap();
        assert!(status.success());
        let ear = listener(dir.path()).await;
        let mut opts = EngineOptions { result_cache_capacity: 0, ..EngineOptions::default() };
        opts.ingest = IngestOptions { audio: Some(ear.clone()), ..IngestOptions::default() };
        opts.ingest.sampler.max_duration_s = 4.0;
        let engine = common::engine_in(dir.path(), opts).await;
        let progress = chronoseek::progress::silent();
        let before = engine.counters();
        let rec = engine.ingest(&source(&mkv), &progress).await.unwrap().record().clone();
        let work = engine.counters().since(&before);
        // Only the first window (the 5 s up to the limit and its slack) reached the model.
        assert_eq!((work.videos_decoded, work.audio_failures, work.whisper_windows), (1, 1, 1));
        assert_eq!(rec.transcript_id, None, "stored visual-only");
        assert!(engine.store().transcript(&rec).await.unwrap().is_none());
        // The same file within an 80-s limit is listened to, all three windows.
        let mut opts = EngineOptions { result_cache_capacity: 0, ..EngineOptions::default() };
        opts.ingest = IngestOptions { audio: Some(ear), ..IngestOptions::default() };
        opts.ingest.sampler.max_duration_s = 80.0;
        let roomy = common::engine_in(&dir.path().join("roomy"), opts).await;
        let before = roomy.counters();
        let rec = roomy.ingest(&source(&mkv), &progress).await.unwrap().record().clone();
        let work = roomy.counters().since(&before);
        assert_eq!((work.audio_failures, work.whisper_windows, work.transcripts_stored), (0, 3, 1));
        assert!(rec.transcript_id.is_some());
    }

    #[tokio::test]
    async fn a_stored_video_gets_its_transcript_without_its_frames_being_touched() {
        let dir = tempfile::tempdir().unwrap();
        let talk = talking_video(dir.path());
        let progress = chronoseek::progress::silent();
        // Ingested visual-only (as before transcripts existed).
        let visual = engine(dir.path(), None).await;
        let old = visual.ingest(&source(&talk), &progress).await.unwrap().record().clone();
        assert_eq!(old.transcript_id, None);
        let e = visual.ingestor().ingest_with_transcript(&source(&talk), &progress).await.unwrap_err();
        assert!(matches!(e, chronoseek::ingest::IngestError::NoSpeechModel), "{e}");
        let answer = visual.search(&VideoInput::Stored(old.fingerprint), "a ball", TopK::default(), &progress).await;
        assert_eq!(answer.unwrap().metadata("m", visual.options().segmenter)["audio"], "off");
        drop(visual);

        let engine = engine(dir.path(), Some(listener(dir.path()).await)).await;
        let before = engine.counters();
        let (outcome, added) = engine.ingestor().ingest_with_transcript(&source(&talk), &progress).await.unwrap();
        let work = engine.counters().since(&before);
        assert!(matches!(added, TranscriptOutcome::Added { .. }), "{added:?}");
        assert_eq!((work.videos_decoded, work.image_embeddings, work.frames_decoded), (0, 0, 0), "frames untouched");
        assert_eq!((work.audio_decodes, work.whisper_windows, work.transcripts_stored), (1, 1, 1));
        let new = outcome.record().clone();
        assert_eq!(new.ingest_id, old.ingest_id, "the same frames row");
        assert!(new.transcript_id.is_some() && new.created_at_ms > old.created_at_ms);
        // The store now answers with the new record, once.
        let stored = engine.store().video(&old.fingerprint, engine.model().key()).await.unwrap().unwrap();
        assert_eq!(stored, new);
        let listed: Vec<VideoRecord> = engine.store().list_videos().await.unwrap();
        assert_eq!(listed.iter().filter(|v| v.fingerprint == old.fingerprint).count(), 1);
        assert_eq!(engine.store().load_frames(&new).await.unwrap(), engine.store().load_frames(&old).await.unwrap());

        // Again: nothing to do, no audio work.
        let before = engine.counters();
        let (_, again) = engine.ingestor().ingest_with_transcript(&source(&talk), &progress).await.unwrap();
        assert!(matches!(again, TranscriptOutcome::Present));
        assert_eq!(engine.counters().since(&before).audio_decodes, 0);
    }

    fn unit(v: Vec<f32>) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect()
    }

    #[tokio::test]
    async fn the_baseline_segmenter_reads_the_references_fused_curve() {
        let dir = tempfile::tempdir().unwrap();
        let opts = EngineOptions {
            segmenter: chronoseek::query::SegmenterKind::Baseline,
            result_cache_capacity: 0,
            ..EngineOptions::default()
        };
        let engine = std::sync::Arc::new(common::engine_in(dir.path(), opts).await);
        let dim = engine.model().dim();
        let q = engine.embed_query("the man says the dog is hungry").await.unwrap();
        // A vector at a chosen cosine `c` with the query: c·q + sqrt(1 − c²)·(a unit vector ⟂ q).
        let mut other = vec![0f32; dim];
        other[0] = 1.0;
        let dot: f32 = other.iter().zip(q.iter()).map(|(a, b)| a * b).sum();
        let perp = unit(other.iter().zip(q.iter()).map(|(o, x)| o - dot * x).collect());
        let at = |c: f32| unit(q.iter().zip(&perp).map(|(x, p)| c * x + (1.0 - c * c).sqrt() * p).collect());
        // Six frames a second apart, cosines 0.1 … 0.6; two segments, cosines 0.2 (1–3 s) and
        // 0.7 (3–4.5 s), plus one at 0.45 (2.5–3.5 s) overlapping both.
        let cos_frames = [0.1f32, 0.2, 0.3, 0.6, 0.5, 0.4];
        let mut frames = FrameMatrix::new(dim);
        for (i, c) in cos_frames.iter().enumerate() {
            frames.push(i as i64 * 1000, &at(*c));
        }
        let fp = chronoseek::ingest::Fingerprint::from_bytes([7u8; 32]);
        let seg = |s, e, c: f32| SpokenSegment { start_ms: s, end_ms: e, text: format!("said {c}"), embedding: at(c) };
        let transcript = Transcript {
            fingerprint: fp,
            model_key: engine.model().key().to_string(),
            transcript_id: "t1".into(),
            audio_model: "hand-made".into(),
            heard: Heard::Speech {
                language: Some("en".into()),
                segments: vec![seg(1000, 3000, 0.2), seg(3000, 4500, 0.7), seg(2500, 3500, 0.45)],
            },
            created_at_ms: 1,
        };
        let record = VideoRecord {
            fingerprint: fp,
            model_key: engine.model().key().to_string(),
            ingest_id: "i1".into(),
            duration_s: 6.0,
            source_fps: None,
            width: 8,
            height: 8,
            frame_count: 6,
            sampling: "fixed:1".into(),
            source: "hand-made".into(),
            created_at_ms: 1,
            transcript_id: Some("t1".into()),
            recorded_at_ms: None,
        };
        engine.store().put_video_with_transcript(&record, &frames, &transcript).await.unwrap();
        let cached = engine.frames(&record).await.unwrap();
        let got = engine.timeline(&record, &cached, &q, chronoseek::query::Speech::Fuse).unwrap().normalized.scores;
        // By hand: v = (cos − 0.1) / 0.5; a = (cos − 0.2) / 0.5 over the segments, the best
        // active one per frame (start ≤ t < end); fused v + 0.25·max(0, a − v) in [0, 1].
        let v = [0.0, 0.2, 0.4, 1.0, 0.8, 0.6];
        let a = [None, Some(0.0), Some(0.0), Some(1.0), Some(1.0), None];
        let want: Vec<f64> = v
            .iter()
            .zip(a)
            .map(|(v, a): (&f64, Option<f64>)| match a {
                Some(a) if a > *v => v + 0.25 * (a - v),
                _ => *v,
            })
            .collect();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() < 1e-4, "frame {i}: {got:?} vs {want:?}");
        }
        // Frame 4 (t = 4 s): v 0.8, in the 0.7 segment (a = 1): raised to 0.85.
        assert!((got[4] - 0.85).abs() < 1e-4);
        // A query that is not words (a picture, a stored frame) is matched against frames
        // alone: the visual curve, frame 4 not raised.
        let c0 = engine.counters();
        let visual =
            engine.timeline(&record, &cached, &q, chronoseek::query::Speech::Ignore).unwrap().normalized.scores;
        for (i, (g, w)) in visual.iter().zip(&v).enumerate() {
            assert!((g - w).abs() < 1e-4, "frame {i}: {visual:?} vs {v:?}");
        }
        assert_eq!(engine.counters().since(&c0).audio_fused_searches, 0);
        // The same curve through a search: the top window covers the fused peak.
        let answer = engine
            .search(
                &VideoInput::Stored(fp),
                "the man says the dog is hungry",
                TopK::new(1).unwrap(),
                &chronoseek::progress::silent(),
            )
            .await
            .unwrap();
        assert_eq!(answer.counters.audio_fused_searches, 1);
        let top = &answer.results[0];
        assert!(top.start <= 3.0 && top.end >= 4.0, "{top:?}");
        // What was said during a moment: the overlapping segments in order; nothing outside.
        assert_eq!(cached.said_during(3.2, 4.0).as_deref(), Some("said 0.45 said 0.7"));
        assert_eq!(cached.said_during(0.0, 1.5).as_deref(), Some("said 0.2"));
        assert_eq!(cached.said_during(4.5, 6.0), None);
        // A library search says it on each moment.
        let library = chronoseek::library::Library::new(engine.clone(), &dir.path().join("library"));
        let query = chronoseek::library::LibraryQuery::new(
            chronoseek::library::Probe::Text("the man says the dog is hungry".into()),
            chronoseek::library::LibraryTopK::new(3).unwrap(),
        );
        let hits = library.search(&query).await.unwrap().hits;
        let top = &hits[0];
        assert_eq!(top.said, cached.said_during(top.start, top.end), "{hits:?}");
        assert!(top.said.as_deref().unwrap().contains("said 0.7"), "{hits:?}");
    }

    #[tokio::test]
    async fn a_store_written_before_transcripts_opens_and_its_videos_search_visual_only() {
        use arrow_array::{RecordBatch, StringArray};
        use arrow_schema::{DataType, Field, Schema};
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let uri = dir.path().join("store").display().to_string();
        // Version 1's `videos` and `meta` tables as the first release wrote them (frames come
        // from a real v2 write below, so the old marker must point at a real frames row).
        {
            let engine = engine(dir.path(), None).await;
            let talk = talking_video(dir.path());
            engine.ingest(&source(&talk), &chronoseek::progress::silent()).await.unwrap();
        }
        let conn = lancedb::connect(&uri).execute().await.unwrap();
        let videos = conn.open_table("videos").execute().await.unwrap();
        let old_rows = videos.count_rows(None).await.unwrap();
        assert_eq!(old_rows, 1);
        // Rewrite `videos` without the new column and put the schema version back to 1.
        use futures::TryStreamExt;
        use lancedb::query::ExecutableQuery;
        let rows: Vec<RecordBatch> = videos.query().execute().await.unwrap().try_collect().await.unwrap();
        let b = &rows[0];
        let keep = [
            "fingerprint",
            "model_key",
            "ingest_id",
            "state",
            "duration_s",
            "source_fps",
            "width",
            "height",
            "frame_count",
            "sampling",
            "source",
            "created_at_ms",
        ];
        let fields: Vec<Field> = keep.iter().map(|n| b.schema().field_with_name(n).unwrap().clone()).collect();
        let cols = keep.iter().map(|n| b.column_by_name(n).unwrap().clone()).collect();
        let v1 = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
        conn.drop_table("videos", &[]).await.unwrap();
        conn.drop_table("transcripts", &[]).await.unwrap();
        conn.create_table("videos", v1).execute().await.unwrap();
        // And `frames` as schema 1 had it: no write stamp, no frame-precise cuts.
        let frames = conn.open_table("frames").execute().await.unwrap();
        let rows: Vec<RecordBatch> = frames.query().execute().await.unwrap().try_collect().await.unwrap();
        let b = &rows[0];
        assert!(!b.column_by_name("cuts_us").unwrap().is_null(0), "this build stored the talking video's cuts");
        let keep = ["fingerprint", "model_key", "ingest_id", "dim", "timestamps_ms", "embeddings"];
        let fields: Vec<Field> = keep.iter().map(|n| b.schema().field_with_name(n).unwrap().clone()).collect();
        let cols = keep.iter().map(|n| b.column_by_name(n).unwrap().clone()).collect();
        let v1 = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
        conn.drop_table("frames", &[]).await.unwrap();
        conn.create_table("frames", v1).execute().await.unwrap();
        let meta = conn.open_table("meta").execute().await.unwrap();
        meta.delete("key = 'schema_version'").await.unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Utf8, false),
        ]));
        let one = RecordBatch::try_new(
            schema,
            vec![Arc::new(StringArray::from(vec!["schema_version"])), Arc::new(StringArray::from(vec!["1"]))],
        )
        .unwrap();
        meta.add(one).execute().await.unwrap();
        assert_eq!(chronoseek::index::current_version(&conn).await.unwrap(), 1);

        // Opened by this build: migrated to the latest schema (2: transcripts, 3: recording
        // dates, 4: frame-precise cuts), the old video reads with no transcript, no recording
        // date and no cuts (its shot boundaries lie midway between samples, as before).
        let store = Store::open(&uri).await.unwrap();
        assert_eq!(store.schema_version(), chronoseek::index::latest_version());
        assert_eq!(chronoseek::index::latest_version(), 4);
        let listed = store.list_videos().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!((&listed[0].transcript_id, listed[0].recorded_at_ms), (&None, None));
        let frames = store.load_frames(&listed[0]).await.unwrap();
        assert!(!frames.is_empty() && frames.cuts_us.is_none(), "{:?}", frames.cuts_us);
        assert_eq!(store.transcript(&listed[0]).await.unwrap(), None);
        drop(store);
        let engine = engine(dir.path(), None).await;
        let answer = engine
            .search(&VideoInput::Stored(listed[0].fingerprint), "red", TopK::default(), &chronoseek::progress::silent())
            .await
            .unwrap();
        assert!(!answer.results.is_empty());
        assert_eq!(answer.counters.audio_fused_searches, 0);
        // And a transcript can be added to it.
        let engine2 = {
            drop(engine);
            self::engine(dir.path(), Some(listener(dir.path()).await)).await
        };
        let (_, added) = engine2
            .ingestor()
            .ingest_with_transcript(&source(&dir.path().join("talk.mp4")), &chronoseek::progress::silent())
            .await
            .unwrap();
        assert!(matches!(added, TranscriptOutcome::Added { .. }));
    }
}

#[tokio::test]
async fn a_random_whisper_written_by_the_generator_loads_through_the_users_path() {
    use chronoseek::model::whisper::random::{whisper_tiny_config, write_random_whisper};
    use chronoseek::model::whisper::{Language, Transcriber};
    use chronoseek::model::{Download, ModelSource};
    let dir = tempfile::tempdir().unwrap();
    // whisper-tiny's vocabulary and layout, narrower and shallower so the test is quick.
    let config = chronoseek::model::whisper::Config {
        d_model: 32,
        encoder_layers: 1,
        decoder_layers: 1,
        encoder_attention_heads: 2,
        decoder_attention_heads: 2,
        encoder_ffn_dim: 64,
        decoder_ffn_dim: 64,
        ..whisper_tiny_config()
    };
    write_random_whisper(dir.path(), &config, 3).unwrap();
    std::os::unix::fs::symlink(
        common::shared().join("model/whisper-assets/multilingual.tiktoken"),
        dir.path().join("multilingual.tiktoken"),
    )
    .unwrap();
    let mut t =
        Transcriber::load(&ModelSource::Dir(dir.path().to_path_buf()), DeviceSpec::Cpu, Download::Never).await.unwrap();
    assert_eq!(t.model.config, config);
    assert_eq!(t.language, Language::Detect);
    t.max_tokens = 8;
    t.transcribe(&speech()).unwrap();
    assert_eq!(t.windows, 1);
    // The same seed writes the same bytes; another seed, others.
    let again = tempfile::tempdir().unwrap();
    write_random_whisper(again.path(), &config, 3).unwrap();
    let other = tempfile::tempdir().unwrap();
    write_random_whisper(other.path(), &config, 4).unwrap();
    let bytes = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert_eq!(bytes(dir.path()), bytes(again.path()));
    assert_ne!(bytes(dir.path()), bytes(other.path()));
    // whisper-tiny's published sizes.
    let tiny = whisper_tiny_config();
    assert_eq!((tiny.d_model, tiny.encoder_layers, tiny.decoder_layers, tiny.vocab_size), (384, 4, 4, 51_865));
}

#[test]
fn a_signal_arriving_in_chunks_transcribes_as_the_whole_signal() {
    let mut t = tiny_english_transcriber();
    let long = long_speech(); // 40.5 s: two windows or more
    let whole = t.transcribe(&long).unwrap();
    let windows = t.windows;
    assert!(windows >= 2);
    for size in [7_777usize, 160_000, 1_000_000] {
        let mut chunks = long.chunks(size).map(<[f32]>::to_vec);
        let streamed = t.transcribe_stream(|| chunks.next()).unwrap();
        assert_eq!(streamed, whole, "chunks of {size}");
    }
    assert_eq!(t.windows, windows * 4, "each run reads the same windows");
    // Nothing at all: no window.
    assert!(t.transcribe_stream(|| None).unwrap().is_empty());
    assert_eq!(t.windows, windows * 4);
}

#[test]
fn streamed_audio_is_the_decoded_audio_and_stops_when_asked() {
    use chronoseek::ingest::audio::stream_audio;
    let dir = tempfile::tempdir().unwrap();
    let v = clip(dir.path(), "tone.mp4", 4.0, Some(("stereo", 48_000, 4.0)));
    let whole = decode_audio(&v, local()).unwrap().unwrap();
    let mut got = Vec::new();
    let info = stream_audio(&v, local(), |c| {
        got.extend_from_slice(c);
        true
    })
    .unwrap()
    .unwrap();
    assert_eq!(got, whole.samples);
    assert_eq!(info.samples as usize, whole.samples.len());
    assert_eq!((info.source_rate, info.source_channels), (48_000, 2));
    let mut calls = 0;
    stream_audio(&v, local(), |_| {
        calls += 1;
        calls < 3
    })
    .unwrap();
    assert_eq!(calls, 3, "a sink that says stop is not called again");
    let silent = clip(dir.path(), "silent.mp4", 1.0, None);
    assert_eq!(stream_audio(&silent, local(), |_| panic!("no audio, no call")).unwrap(), None);
    // A track longer than the limit stops once the limit and its second of slack are handed
    // over (the 4-s tone under a 2-s limit: at 3 s and a fraction of a frame).
    let mut handed = 0;
    let short = AudioOptions { max_seconds: 2.0, ..local() };
    let err = stream_audio(&v, short, |c| {
        handed += c.len();
        true
    })
    .unwrap_err();
    assert!(
        matches!(err, chronoseek::ingest::DecodeError::TooLong { duration_s, max_s: 2.0 } if duration_s > 3.0 && duration_s < 3.1),
        "{err:?}"
    );
    assert!(handed <= 3 * AUDIO_RATE as usize, "{handed} samples handed past the limit");
    // A listening pass past its time budget (the miner's --max-ingest-seconds) stops; a
    // sink slower than the budget (the speech model) holds the decoder back.
    use chronoseek::ingest::Deadline;
    use std::time::Duration;
    let spent = AudioOptions { deadline: Some(Deadline::after(Duration::ZERO)), ..local() };
    let err = stream_audio(&v, spent, |_| panic!("nothing is handed over")).unwrap_err();
    assert!(matches!(err, chronoseek::ingest::DecodeError::OutOfTime { .. }), "{err:?}");
    let (mut handed, mut calls) = (0, 0);
    let slow = AudioOptions { deadline: Some(Deadline::after(Duration::from_millis(300))), ..local() };
    let err = stream_audio(&v, slow, |c| {
        handed += c.len();
        calls += 1;
        std::thread::sleep(Duration::from_millis(100));
        true
    })
    .unwrap_err();
    assert!(matches!(err, chronoseek::ingest::DecodeError::OutOfTime { .. }), "{err:?}");
    assert!((1..=3).contains(&calls) && handed < 4 * AUDIO_RATE as usize, "{calls} calls, {handed} samples");
}
