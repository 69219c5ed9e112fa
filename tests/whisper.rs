//! Whisper's front half on real parts: audio decoded by FFmpeg from every shape of stream, and
//! the tiny random Whisper in `../shared/model/tiny-random-whisper` loaded through the same code
//! as real weights, reproducing what Hugging Face transformers computed for its speech file
//! (features, encoder output, decoder logits, greedy tokens) within the file's tolerances.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use chronoseek::ingest::MediaTrust;
use chronoseek::ingest::audio::{AUDIO_RATE, decode_audio};
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

fn speech() -> Vec<f32> {
    decode_audio(&whisper_dir().join("speech16k.wav"), MediaTrust::Local).unwrap().expect("the file has audio").samples
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
    assert!(decode_audio(&common::fixture("scenes.webm"), MediaTrust::Network).unwrap().is_none(), "no audio stream");
    let mp4 = decode_audio(&common::fixture("scenes.mp4"), MediaTrust::Network).unwrap().unwrap();
    assert!((mp4.seconds() - 30.0).abs() < 0.1, "{}", mp4.seconds());
    for (name, layout, rate, channels) in
        [("mono8k.mp4", "mono", 8_000, 1), ("stereo48k.mp4", "stereo", 48_000, 2), ("surround.mp4", "5.1", 44_100, 6)]
    {
        let a = decode_audio(&clip(dir.path(), name, 3.0, Some((layout, rate, 3.0))), MediaTrust::Network)
            .unwrap()
            .unwrap();
        assert_eq!((a.source_rate, a.source_channels), (rate, channels), "{name}");
        assert!((a.seconds() - 3.0).abs() < 0.1, "{name}: {} s", a.seconds());
        let f = frequency(&a.samples[AUDIO_RATE as usize / 2..AUDIO_RATE as usize * 5 / 2]);
        assert!((f - 440.0).abs() < 5.0, "{name}: {f} Hz");
        let peak = a.samples.iter().fold(0f32, |m, x| m.max(x.abs()));
        assert!(peak > 0.05 && peak <= 1.0, "{name}: peak {peak}");
    }
    // The audio is what the stream holds, whatever the picture's length.
    let short = decode_audio(&clip(dir.path(), "short.mp4", 5.0, Some(("mono", 16_000, 2.0))), MediaTrust::Local);
    assert!((short.unwrap().unwrap().seconds() - 2.0).abs() < 0.1);
    let long = decode_audio(&clip(dir.path(), "long.mp4", 2.0, Some(("stereo", 22_050, 4.0))), MediaTrust::Local);
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

#[test]
fn the_tiny_model_transcribes_a_long_signal_window_by_window_into_well_formed_segments() {
    use chronoseek::model::whisper::{Language, Transcriber};
    let files = ModelFiles::in_dir(&whisper_dir()).unwrap();
    let mut t = Transcriber {
        model: WhisperModel::from_files(&files, DeviceSpec::Cpu).unwrap(),
        features: FeatureExtractor::new(mel_filters()),
        tokenizer: tokenizer(),
        language: Language::Fixed("en".into()),
        max_tokens: 24,
        windows: 0,
    };
    let one = speech();
    let long: Vec<f32> = (0..8).flat_map(|_| one.iter().copied()).collect(); // 40.5 s: two windows
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
