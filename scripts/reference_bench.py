"""Times the Python reference miner's per-request pipeline on this machine.

What the reference does for every request (../shared/reference/BEHAVIOR.md, steps 2-4): OpenCV
reads every frame and keeps one per second (0.5 fps from 60 s, 0.25 fps from 300 s),
CLIPProcessor preprocesses them, transformers' CLIPModel embeds them in batches of 32, the
query goes through the text tower, and unless the coarse curve is decisive, +-3 s around up to
three peaks are sampled again at 4 fps and embedded. Segment proposal afterwards is a few
NumPy passes over ~100 numbers and is left out.

Prints one JSON object: image-tower frames/s on preprocessed tensors at each batch size, one
query's text-tower latency, and the whole pipeline's wall time on --video split by stage.
Run through scripts/reference-bench.sh, which makes the venv.
"""

import argparse
import gzip
import json
import os
import statistics
import tempfile
import time

import cv2
import numpy as np
import torch
from PIL import Image
from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizer


def tokenizer_from_bpe(bpe_gz: str) -> CLIPTokenizer:
    """CLIPTokenizer from OpenAI's bpe_simple_vocab_16e6.txt.gz (how open_clip and the
    transformers conversion build vocab.json and merges.txt)."""
    merges = gzip.open(bpe_gz).read().decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    vocab = [chr(c) for c in cs]
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "vocab.json"), "w") as f:
        json.dump({v: i for i, v in enumerate(vocab)}, f)
    with open(os.path.join(d, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    return CLIPTokenizer(os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt"))


def sample_rate(duration: float) -> float:
    if duration >= 300:
        return 0.25
    if duration >= 60:
        return 0.5
    return 1.0


def read_frames(path: str, fps: float, start: float = 0.0, end: float = float("inf")):
    """The reference's sampler: read every frame, keep the first at or after each tick."""
    cap = cv2.VideoCapture(path)
    if start > 0:
        cap.set(cv2.CAP_PROP_POS_MSEC, start * 1000.0)
    frames, times = [], []
    next_t = start
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if t > end:
            break
        if t + 1e-6 >= next_t:
            frames.append(Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)))
            times.append(t)
            next_t += 1.0 / fps
    cap.release()
    return frames, times


class Tower:
    def __init__(self, model_dir: str, bpe: str):
        self.model = CLIPModel.from_pretrained(model_dir).eval()
        size = self.model.config.vision_config.image_size
        self.processor = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
        self.tokenizer = tokenizer_from_bpe(bpe)
        self.size = size

    @torch.no_grad()
    def images(self, pil_frames, batch: int = 32) -> np.ndarray:
        out = []
        for i in range(0, len(pil_frames), batch):
            px = self.processor(images=pil_frames[i : i + batch], return_tensors="pt")["pixel_values"]
            f = self.model.get_image_features(pixel_values=px)
            out.append(torch.nn.functional.normalize(f, dim=-1).numpy())
        return np.concatenate(out) if out else np.zeros((0, self.model.config.projection_dim), np.float32)

    @torch.no_grad()
    def text(self, query: str) -> np.ndarray:
        ids = self.tokenizer([query], padding=True, return_tensors="pt")
        f = self.model.get_text_features(**ids)
        return torch.nn.functional.normalize(f, dim=-1).numpy()[0]


def minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    return np.full_like(x, 0.5) if hi - lo < 1e-12 else (x - lo) / (hi - lo)


def pipeline(tower: Tower, video: str, query: str, top_k: int = 5) -> dict:
    t0 = time.perf_counter()
    cap = cv2.VideoCapture(video)
    duration = cap.get(cv2.CAP_PROP_FRAME_COUNT) / max(cap.get(cv2.CAP_PROP_FPS), 1e-9)
    cap.release()
    frames, times = read_frames(video, sample_rate(duration))
    t_decode = time.perf_counter()
    q = tower.text(query)
    t_text = time.perf_counter()
    emb = tower.images(frames)
    t_embed = time.perf_counter()
    scores = minmax(emb @ q)
    smooth = np.convolve(scores, [0.2, 0.6, 0.2], mode="same")
    s = np.sort(smooth)[::-1]
    decisive = len(s) > 1 and s[0] >= 0.84 and s[0] - s[1] >= 0.18 and s[0] - np.percentile(smooth, 90) >= 0.15
    refined_frames = 0
    t_refine_decode = t_refine_embed = 0.0
    if not decisive:
        peaks = []
        for i in np.argsort(-smooth):
            if all(abs(times[i] - times[j]) >= 4.0 for j in peaks):
                peaks.append(i)
            if len(peaks) >= min(3, max(2, top_k)):
                break
        for p in peaks:
            a = time.perf_counter()
            win, _ = read_frames(video, 4.0, max(0.0, times[p] - 3.0), times[p] + 3.0)
            b = time.perf_counter()
            tower.images(win)
            t_refine_decode += b - a
            t_refine_embed += time.perf_counter() - b
            refined_frames += len(win)
    total = time.perf_counter() - t0
    return {
        "duration_s": duration,
        "coarse_frames": len(frames),
        "refined_frames": refined_frames,
        "decisive": bool(decisive),
        "decode_s": (t_decode - t0) + t_refine_decode,
        "text_s": t_text - t_decode,
        "embed_s": (t_embed - t_text) + t_refine_embed,
        "total_s": total,
        "frames_per_s_end_to_end": (len(frames) + refined_frames) / total,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="checkpoint directory (config.json, model.safetensors)")
    ap.add_argument("--bpe", required=True, help="bpe_simple_vocab_16e6.txt.gz")
    ap.add_argument("--video", help="video for the whole-pipeline timing")
    ap.add_argument("--query", default="a man jumps into the pool")
    ap.add_argument("--batch", default="1,8,32", help="image-tower batch sizes")
    ap.add_argument("--frames", type=int, default=64, help="frames timed per batch size")
    ap.add_argument("--runs", type=int, default=2, help="pipeline runs (median reported)")
    a = ap.parse_args()

    report = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    t = time.perf_counter()
    tower = Tower(a.model, a.bpe)
    report["load_s"] = time.perf_counter() - t
    size = tower.size
    image_rates = []
    with torch.no_grad():
        for batch in [int(b) for b in a.batch.split(",")]:
            px = torch.randn(batch, 3, size, size)
            t = time.perf_counter()
            tower.model.get_image_features(pixel_values=px)
            first = time.perf_counter() - t
            done, t = 0, time.perf_counter()
            while done < a.frames or time.perf_counter() - t < 3.0:
                tower.model.get_image_features(pixel_values=px)
                done += batch
            image_rates.append({"batch": batch, "frames": done, "frames_per_s": done / (time.perf_counter() - t),
                                "first_batch_ms": first * 1e3})
    report["image"] = image_rates
    tower.text(a.query)
    ms = []
    for _ in range(20):
        t = time.perf_counter()
        tower.text(a.query)
        ms.append((time.perf_counter() - t) * 1e3)
    report["text"] = {"runs": len(ms), "p50_ms": statistics.median(ms), "min_ms": min(ms)}
    if a.video:
        runs = [pipeline(tower, a.video, a.query) for _ in range(max(1, a.runs))]
        runs.sort(key=lambda r: r["total_s"])
        report["pipeline"] = runs[len(runs) // 2]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
