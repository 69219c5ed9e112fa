"""Golden token ids for the Whisper tokenizer, computed with tiktoken exactly as openai-whisper
builds its tokenizer (whisper/tokenizer.py: get_encoding), from the vocabularies in
../shared/model/whisper-assets. Run: python golden.py ../../../shared/model/whisper-assets > ../../data/fixtures/whisper-tokenizer-golden.json
(needs `pip install tiktoken`)."""
import base64, json, sys, tiktoken

LANGUAGES = ["en","zh","de","es","ru","ko","fr","ja","pt","tr","pl","ca","nl","ar","sv","it","id","hi","fi","vi","he","uk","el","ms","cs","ro","da","hu","ta","no","th","ur","hr","bg","lt","la","mi","ml","cy","sk","te","fa","lv","bn","sr","az","sl","kn","et","mk","br","eu","is","hy","ne","mn","bs","kk","sq","sw","gl","mr","pa","si","km","sn","yo","so","af","oc","ka","be","tg","sd","gu","am","yi","lo","uz","fo","ht","ps","tk","nn","mt","sa","lb","my","bo","tl","mg","as","tt","haw","ln","ha","ba","jw","su","yue"]

def encoding(assets, name, num_languages):
    ranks = {base64.b64decode(t): int(r) for t, r in (l.split() for l in open(f"{assets}/{name}.tiktoken") if l)}
    n = len(ranks)
    specials = ["<|endoftext|>", "<|startoftranscript|>", *[f"<|{l}|>" for l in LANGUAGES[:num_languages]],
                "<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>",
                "<|notimestamps|>", *[f"<|{i * 0.02:.2f}|>" for i in range(1501)]]
    special = {t: n + i for i, t in enumerate(specials)}
    return tiktoken.Encoding(name=name, explicit_n_vocab=n + len(specials),
        pat_str=r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
        mergeable_ranks=ranks, special_tokens=special), special

texts = [
    "A man throws a red ball to the dog.",
    " Then the dog runs across the park.",
    "the man says the dog is hungry",
    "Hello, world!  It's 3:45 pm —   naïve café, 日本語, emoji 🐕‍🦺.\n\tnew line",
    "don't won't I'll we've they're she'd 12345 3.14159",
    "",
]
assets = sys.argv[1]
enc, special = encoding(assets, "multilingual", 99)
cases = [{"text": t, "ids": enc.encode(t)} for t in texts]
specials = {k: special[k] for k in ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|su|>", "<|translate|>",
    "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>", "<|0.00|>", "<|0.02|>", "<|30.00|>"]}
decode = [{"ids": ids, "text": enc.decode(ids)} for ids in [
    [50258, 50259, 50359, 50364] + enc.encode(" A man throws a red ball.") + [50464, 50257],
    enc.encode("naïve café")[:-1],  # cut inside a multi-byte character
]]
print(json.dumps({"about": "tiktoken " + tiktoken.__version__ + ", vocabulary multilingual.tiktoken, 99 languages (whisper-tiny's 51865 tokens), as openai-whisper builds it",
                  "n_vocab": enc.n_vocab, "specials": specials, "encode": cases, "decode": decode}, ensure_ascii=False, indent=1))
