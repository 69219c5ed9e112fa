"""The reference's cost for the speech path: Hugging Face transformers' Whisper on CPU over the
same audio, window by window, decoding the same number of tokens per window as our run did.

    python transformers_bench.py MODEL_DIR AUDIO.wav TOKENS_PER_WINDOW [THREADS]

MODEL_DIR is a Hugging Face Whisper folder (e.g. one `chronoseek model init-random-whisper`
wrote: whisper-tiny's architecture, seeded random weights); AUDIO.wav is 16 kHz mono s16le.
Every window: WhisperFeatureExtractor, the encoder, then greedy decoding of exactly
TOKENS_PER_WINDOW tokens after <|startoftranscript|><|en|><|transcribe|> with the KV cache
(`generate`, min = max new tokens, so end-of-text cannot stop a random model early). Prints one
JSON line. Needs torch and transformers (a throwaway venv; Debian's python3-torch works)."""
import json, sys, time, wave

import numpy as np
import torch
from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration

model_dir, audio, per_window = sys.argv[1], sys.argv[2], int(sys.argv[3])
threads = int(sys.argv[4]) if len(sys.argv) > 4 else torch.get_num_threads()
torch.set_num_threads(threads)
w = wave.open(audio)
assert w.getframerate() == 16000 and w.getnchannels() == 1, "16 kHz mono wav expected"
pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0
model = WhisperForConditionalGeneration.from_pretrained(model_dir).eval()
fe = WhisperFeatureExtractor()
prompt = torch.tensor([[50258, 50259, 50359]])
window = 30 * 16000
started = time.perf_counter()
windows = tokens = 0
feature_s = 0.0
with torch.no_grad():
    for seek in range(0, len(pcm), window):
        t = time.perf_counter()
        feats = fe(pcm[seek:seek + window], sampling_rate=16000, return_tensors="pt").input_features
        feature_s += time.perf_counter() - t
        out = model.generate(feats, decoder_input_ids=prompt, min_new_tokens=per_window,
                             max_new_tokens=per_window, do_sample=False, num_beams=1)
        windows += 1
        tokens += out.shape[1] - prompt.shape[1]
wall = time.perf_counter() - started
seconds = len(pcm) / 16000
print(json.dumps({"torch": torch.__version__, "threads": threads, "audio_s": seconds, "wall_s": wall,
                  "audio_s_per_s": seconds / wall, "windows": windows, "tokens": tokens,
                  "feature_s": feature_s}))
