//! The CLIP code path against Hugging Face transformers: the tokenizer against golden ids, and
//! ../shared/model/tiny-random-clip loaded through the normal loader, whose preprocessing,
//! image features, text features and cosines must match what transformers computed.

mod common;

use chronoseek::model::preprocess::{RgbImage, clip_preprocess};
use chronoseek::model::{CONTEXT_LENGTH, ClipEmbedder, ClipTokenizer, DeviceSpec, ModelFiles, ModelSource};
use serde_json::Value;

fn expected() -> Value {
    let p = common::shared().join("model/tiny-random-clip/expected_outputs.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("expected outputs")).expect("json")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
}

fn load_png(name: &str) -> RgbImage {
    let p = common::shared().join("model/tiny-random-clip").join(name);
    let img = image::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).to_rgb8();
    RgbImage::new(img.width() as usize, img.height() as usize, img.into_raw()).expect("rgb")
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-3)
}

#[test]
fn tokenizer_matches_golden_ids() {
    let p = common::shared().join("model/clip_tokenizer_golden.json");
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(p).expect("golden")).expect("json");
    let tok = ClipTokenizer::new(CONTEXT_LENGTH);
    let vectors = golden["vectors"].as_array().expect("vectors");
    assert!(vectors.len() >= 10);
    let mut failures = Vec::new();
    for v in vectors {
        let text = v["text"].as_str().expect("text");
        let want: Vec<u32> = v["ids"].as_array().expect("ids").iter().map(|x| x.as_u64().expect("id") as u32).collect();
        let got = tok.encode(text);
        if got != want {
            failures.push(format!("{text:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn preprocessing_matches_clip_image_processor() {
    let exp = expected();
    let pre = &exp["preprocess"];
    let names: Vec<String> =
        exp["images"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    for (i, name) in names.iter().enumerate() {
        let px = clip_preprocess(&load_png(name), 224);
        assert_eq!(px.len(), 3 * 224 * 224);
        let sum: f64 = px.iter().map(|&v| v as f64).sum();
        let want_sum = pre["pixel_values_sum"][i].as_f64().unwrap();
        assert!((sum - want_sum).abs() < 0.05, "{name}: pixel sum {sum} vs {want_sum}");
        let row0 = floats(&pre["pixel_values_first8_channel0_row0"][i]);
        for (j, w) in row0.iter().enumerate() {
            assert!((px[j] as f64 - w).abs() < 1e-5, "{name}: row0[{j}] {} vs {w}", px[j]);
        }
        let center = px[2 * 224 * 224 + 112 * 224 + 112] as f64;
        let want_center = pre["pixel_values_center_channel2"][i].as_f64().unwrap();
        assert!((center - want_center).abs() < 1e-5, "{name}: centre {center} vs {want_center}");
    }
}

#[tokio::test]
async fn tiny_random_clip_reproduces_transformers_outputs() {
    let exp = expected();
    let dir = common::shared().join("model/tiny-random-clip");
    // Through the same loader as real checkpoints: a model directory source.
    let model = ClipEmbedder::load(&ModelSource::Dir(dir), DeviceSpec::Cpu).await.expect("load");
    assert_eq!(model.image_size(), 224);
    assert_eq!(model.dim(), 16);

    let names: Vec<String> =
        exp["images"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    let pixels: Vec<f32> = names.iter().flat_map(|n| clip_preprocess(&load_png(n), 224)).collect();
    let img = model.image_features_raw(&pixels, names.len()).expect("image features");
    for (i, want) in exp["image_features"].as_array().unwrap().iter().enumerate() {
        for (j, w) in floats(want).iter().enumerate() {
            assert!(close(img[i][j] as f64, *w, 1e-4), "image {i} feature {j}: {} vs {w}", img[i][j]);
        }
    }

    let texts: Vec<String> = exp["texts"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    // Our ids (unpadded) must be the golden ids up to the first end token.
    for (t, ids) in texts.iter().zip(exp["input_ids_padded_with_49407"].as_array().unwrap()) {
        let want: Vec<u32> = ids.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
        let got = model.tokenizer().encode(t);
        assert_eq!(got[..], want[..got.len()], "{t}");
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let txt = model.text_features_raw(&refs).expect("text features");
    for (i, want) in exp["text_features"].as_array().unwrap().iter().enumerate() {
        for (j, w) in floats(want).iter().enumerate() {
            assert!(close(txt[i][j] as f64, *w, 1e-4), "text {i} feature {j}: {} vs {w}", txt[i][j]);
        }
    }

    // Cosines through the normalised embedding calls (the ones search uses).
    let ie = model.embed_images(&pixels, names.len()).expect("embed images");
    let te = model.embed_texts(&refs).expect("embed texts");
    for (i, row) in exp["cosine_image_text"].as_array().unwrap().iter().enumerate() {
        for (j, w) in floats(row).iter().enumerate() {
            let c: f64 = ie[i].iter().zip(&te[j]).map(|(a, b)| (*a as f64) * (*b as f64)).sum();
            assert!((c - w).abs() < 1e-4, "cosine image {i} text {j}: {c} vs {w}");
        }
    }
}

#[test]
fn batched_and_single_embeddings_agree() {
    let model = common::tiny_model();
    let one = model.embed_texts(&["a red circle"]).unwrap();
    let many = model.embed_texts(&["a much longer sentence about a red circle moving left", "a red circle"]).unwrap();
    for (a, b) in one[0].iter().zip(&many[1]) {
        assert!((a - b).abs() < 1e-5, "padding changed an embedding: {a} vs {b}");
    }
    let norm: f32 = one[0].iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);
}

#[test]
fn generated_tiny_model_is_deterministic_per_seed() {
    use chronoseek::model::tiny::{TinySpec, write_random_clip};
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    write_random_clip(a.path(), TinySpec::default(), 3).unwrap();
    write_random_clip(b.path(), TinySpec::default(), 3).unwrap();
    write_random_clip(c.path(), TinySpec::default(), 4).unwrap();
    let load =
        |d: &std::path::Path| ClipEmbedder::from_files(&ModelFiles::in_dir(d).unwrap(), "t", DeviceSpec::Cpu).unwrap();
    let (ma, mb, mc) = (load(a.path()), load(b.path()), load(c.path()));
    // The key hashes the weights: same seed, same key; other seed, other key.
    assert_eq!(ma.key().split(':').nth(1), mb.key().split(':').nth(1));
    assert_ne!(ma.key().split(':').nth(1), mc.key().split(':').nth(1));
    assert_eq!(ma.embed_texts(&["x"]).unwrap(), mb.embed_texts(&["x"]).unwrap());
}

#[test]
fn asking_for_cuda_without_the_feature_is_a_clear_error() {
    if cfg!(feature = "cuda") {
        return;
    }
    let files = ModelFiles::in_dir(common::tiny_model_dir()).unwrap();
    let err = ClipEmbedder::from_files(&files, "t", DeviceSpec::Cuda(0)).unwrap_err();
    assert!(err.to_string().contains("CUDA"), "{err}");
}

/// The inference towers (fused projections, CPU kernels) compute what candle-transformers'
/// `ClipModel` computes, on a checkpoint shaped like ViT-B/32 in miniature: towers of different
/// widths, 4x MLPs, several heads, weights scaled like a trained model's, batches of several.
#[test]
fn inference_towers_match_candle_transformers_clip() {
    use candle_core::{DType, Device, Tensor};
    use candle_nn::VarBuilder;
    use candle_transformers::models::clip::ClipModel;
    use chronoseek::model::tiny::{InitScheme, TinySpec, write_random_clip_with};

    let dir = tempfile::tempdir().unwrap();
    let spec = TinySpec {
        width: 48,
        layers: 3,
        heads: 6,
        image_size: 64,
        patch_size: 16,
        projection_dim: 24,
        text_width: 32,
        text_heads: 4,
        mlp_ratio: 4,
    };
    write_random_clip_with(dir.path(), spec, 11, InitScheme::Training).unwrap();
    let files = ModelFiles::in_dir(dir.path()).unwrap();
    let ours = ClipEmbedder::from_files(&files, "t", DeviceSpec::Cpu).unwrap();
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&files.weights], DType::F32, &Device::Cpu) }.unwrap();
    let theirs = ClipModel::new(vb, &spec.clip_config()).unwrap();

    let n = 5;
    let pixels: Vec<f32> = (0..n * 3 * 64 * 64).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect();
    let got = ours.image_features_raw(&pixels, n).unwrap();
    let t = Tensor::from_slice(&pixels, (n, 3, 64, 64), &Device::Cpu).unwrap();
    let want = theirs.get_image_features(&t).unwrap().to_vec2::<f32>().unwrap();
    let cos = |a: &[f32], b: &[f32]| {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        dot / (a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt())
    };
    for (g, w) in got.iter().zip(&want) {
        for (a, b) in g.iter().zip(w) {
            assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "image feature {a} vs {b}");
        }
        assert!(cos(g, w) > 0.999_99);
    }

    let texts = ["a dog catches a frisbee", "x", "a much longer sentence about a man who jumps into the pool"];
    let got = ours.text_features_raw(&texts).unwrap();
    for (i, text) in texts.iter().enumerate() {
        let ids = ours.tokenizer().encode(text);
        let t = Tensor::new(ids.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
        let want = theirs.get_text_features(&t).unwrap().to_vec2::<f32>().unwrap();
        for (a, b) in got[i].iter().zip(&want[0]) {
            assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "text {i} feature {a} vs {b}");
        }
    }
}

/// `--precision q8|f16|bf16` keep image and text embeddings within a cosine of 0.999 (bf16:
/// 0.99, its mantissa has 8 bits) of the f32 path on the parity model and the bundled model,
/// and store them under their own key.
#[test]
fn reduced_precision_embeddings_stay_within_cosine_0_999_of_f32() {
    use chronoseek::model::{ModelOptions, Precision, throughput::synthetic_pixels};
    let dirs = [
        common::shared().join("model/tiny-random-clip"),
        common::root().join("data/fixtures/models/chronoseek-tiny-clip"),
    ];
    for dir in dirs {
        let files = ModelFiles::in_dir(&dir).unwrap();
        let f32m = ClipEmbedder::from_files(&files, "m", DeviceSpec::Cpu).unwrap();
        let size = f32m.image_size();
        let mut pixels = synthetic_pixels(&f32m, 6, 1);
        for png in ["image_checker_97x211.png", "image_gradient_320x180.png"] {
            pixels.extend(clip_preprocess(&load_png(png), size));
        }
        let texts = ["a red circle on a blue background", "a man jumps into the pool", "x"];
        let (full_images, full_texts) = (f32m.embed_images(&pixels, 8).unwrap(), f32m.embed_texts(&texts).unwrap());
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();

        for (precision, bound) in [(Precision::Q8, 0.999), (Precision::F16, 0.999), (Precision::BF16, 0.99)] {
            let m = ClipEmbedder::from_files(&files, "m", ModelOptions { device: DeviceSpec::Cpu, precision }).unwrap();
            assert!(m.key().ends_with(&format!(":{precision}")) && m.key() != f32m.key(), "{}", m.key());
            let images = m.embed_images(&pixels, 8).unwrap();
            for (i, (x, y)) in full_images.iter().zip(&images).enumerate() {
                let c = dot(x, y);
                assert!(c >= bound, "{} {precision}: image {i}: cosine {c}", dir.display());
            }
            for (t, (x, y)) in texts.iter().zip(full_texts.iter().zip(&m.embed_texts(&texts).unwrap())) {
                let c = dot(x, y);
                assert!(c >= bound, "{} {precision}: text {t:?}: cosine {c}", dir.display());
            }
        }
    }
}
