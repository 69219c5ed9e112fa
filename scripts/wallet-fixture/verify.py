# Loads every fixture file back with bittensor-wallet, writes expected.json, checks derivations.
# Run: /tmp/btwvenv/bin/python verify.py   (needs: bittensor-wallet 4.1.1, mnemonic, py-sr25519-bindings)
import hashlib, json, os, time, unicodedata
import bittensor_wallet as bw
from bittensor_wallet import Wallet, Keypair, Keyfile, keyfile as kf
import mnemonic, sr25519

BASE = os.path.dirname(os.path.abspath(__file__))
WP = os.path.join(BASE, "wallets")
PW = "chronoseek-test-password"
DEV = "bottom drive obey lake curtain smoke basket hold race lonely fit walk"
HOT = "legal winner thank year wave sausage worth useful legal winner thank yellow"

def mini_secret(phrase, password=""):
    wl = mnemonic.Mnemonic("english").wordlist
    bits = "".join(format(wl.index(w), "011b") for w in phrase.split())
    n = len(bits) * 32 // 33
    ent = int(bits[:n], 2).to_bytes(n // 8, "big")
    assert format(hashlib.sha256(ent).digest()[0], "08b")[: len(bits) - n] == bits[n:]
    salt = ("mnemonic" + unicodedata.normalize("NFKD", password)).encode()
    return hashlib.pbkdf2_hmac("sha512", ent, salt, 2048, 64)[:32]

def expand_ed25519(mini):  # schnorrkel MiniSecretKey::expand(ExpansionMode::Ed25519)
    h = hashlib.sha512(mini).digest()
    k = bytearray(h[:32]); k[0] &= 248; k[31] &= 63; k[31] |= 64
    key_div8 = (int.from_bytes(k, "little") >> 3).to_bytes(32, "little")
    return bytes(k) + h[32:], key_div8 + h[32:]   # (to_ed25519_bytes, to_bytes)

h = lambda b: "0x" + b.hex()
out = {"password": PW, "wallet_path": "wallets", "wallet_name": "fixture", "keys": {}}

# timing of one $NACL decrypt (argon2i13 SENSITIVE)
cold_raw = open(f"{WP}/fixture/coldkey", "rb").read()
t = time.perf_counter(); cold_plain = kf.decrypt_keyfile_data(cold_raw, PW); dt = time.perf_counter() - t
out["nacl_decrypt_seconds"] = round(dt, 3)
t = time.perf_counter(); nacl_plain = kf.decrypt_keyfile_data(open(f"{BASE}/hotkey_miner.nacl", "rb").read(), PW)
out["nacl_decrypt_seconds_2"] = round(time.perf_counter() - t, 3)

files = {
  "coldkey": ("wallets/fixture/coldkey", cold_plain, DEV),
  "coldkeypub": ("wallets/fixture/coldkeypub.txt", None, None),
  "hotkey_miner": ("wallets/fixture/hotkeys/miner", None, HOT),
  "hotkeypub_miner": ("wallets/fixture/hotkeys/minerpub.txt", None, None),
  "hotkey_validator": ("wallets/fixture/hotkeys/validator", None, None),
  "hotkeypub_validator": ("wallets/fixture/hotkeys/validatorpub.txt", None, None),
  "hotkey_miner_nacl": ("hotkey_miner.nacl", nacl_plain, HOT),
}
for name, (rel, plain, phrase) in files.items():
    raw = open(os.path.join(BASE, rel), "rb").read()
    if plain is None: plain = raw
    d = json.loads(plain)
    kp = kf.deserialize_keypair_from_keyfile_data(plain)
    e = {"file": rel, "encrypted": kf.keyfile_data_is_encrypted(raw),
         "mode": oct(os.stat(os.path.join(BASE, rel)).st_mode & 0o777),
         "json_key_order": list(d.keys()), "plaintext_json": plain.decode(),
         "ss58Address": kp.ss58_address, "publicKey": h(kp.public_key)}
    for k in ("secretSeed", "privateKey", "secretPhrase", "cryptoType"):
        if k in d: e[k] = d[k]
    assert d.get("publicKey") == e["publicKey"] == d.get("accountId")
    if phrase:
        ms = mini_secret(phrase)
        e["check_secretSeed_eq_pbkdf2_mini_secret"] = h(ms) == d["secretSeed"]
    if "privateKey" in d:
        pk = bytes.fromhex(d["privateKey"][2:])
        e["check_public_from_privateKey(py-sr25519)"] = h(sr25519.public_from_secret_key(pk)) == e["publicKey"]
        if "secretSeed" in d:
            ed_bytes, raw_bytes = expand_ed25519(bytes.fromhex(d["secretSeed"][2:]))
            e["check_privateKey_eq_schnorrkel_to_bytes"] = pk == raw_bytes
            e["check_privateKey_eq_to_ed25519_bytes"] = pk == ed_bytes
            p, s = sr25519.pair_from_seed(bytes.fromhex(d["secretSeed"][2:]))
            e["py_sr25519_pair_from_seed_secret_eq_privateKey"] = s == pk
            e["privateKey_as_ed25519_bytes"] = h(ed_bytes)
        # signature made by package verifies with py-sr25519 and vice-versa
        sig = kp.sign(b"chronoseek")
        e["check_sig_cross_verify"] = sr25519.verify(sig, b"chronoseek", kp.public_key) and \
            kp.verify(b"chronoseek", sr25519.sign((kp.public_key, pk), b"chronoseek"))
    out["keys"][name] = e

# load through the Wallet API
w = Wallet(name="fixture", hotkey="miner", path=WP)
assert w.get_coldkey(PW).ss58_address == out["keys"]["coldkey"]["ss58Address"]
assert w.coldkeypub.ss58_address == out["keys"]["coldkey"]["ss58Address"]
assert w.hotkey.ss58_address == out["keys"]["hotkey_miner"]["ss58Address"]
assert w.hotkeypub.ss58_address == out["keys"]["hotkey_miner"]["ss58Address"]
wv = Wallet(name="fixture", hotkey="validator", path=WP)
assert wv.hotkey.ss58_address == "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"  # //Alice
kn = Keyfile(path=os.path.join(BASE, "hotkey_miner.nacl"))
assert kn.is_encrypted() and kn.get_keypair(PW).ss58_address == out["keys"]["hotkey_miner"]["ss58Address"]
out["coldkey_env_var_name"] = w.coldkey_file.env_var_name()
import nacl.pwhash
out["nacl_argon2i_key_hex"] = h(nacl.pwhash.argon2i.kdf(32, PW.encode(), b"\x13q\x83\xdf\xf1Z\t\xbc\x9c\x90\xb5Q\x879\xe9\xb1",
    opslimit=nacl.pwhash.argon2i.OPSLIMIT_SENSITIVE, memlimit=nacl.pwhash.argon2i.MEMLIMIT_SENSITIVE))
out["nacl_layout"] = {"coldkey_total_len": len(cold_raw), "plaintext_len": len(cold_plain),
                      "overhead": len(cold_raw) - len(cold_plain), "prefix": "$NACL", "nonce_hex": h(cold_raw[5:29])}
json.dump(out, open(os.path.join(BASE, "expected.json"), "w"), indent=2)
print(json.dumps({k: v for k, v in out.items() if k != "keys"}, indent=1))
for n, e in out["keys"].items():
    print(n, {k: v for k, v in e.items() if k.startswith("check") or k.startswith("py_") or k in ("mode", "encrypted")})
