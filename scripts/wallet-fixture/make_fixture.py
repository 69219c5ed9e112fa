# Generates the fixture with bittensor-wallet (pip). Run: /tmp/btwvenv/bin/python make_fixture.py
import json, os, time
import bittensor_wallet as bw
from bittensor_wallet import Wallet, Keypair, keyfile as kf

BASE = os.path.dirname(os.path.abspath(__file__))
WP = os.path.join(BASE, "wallets")
PW = "chronoseek-test-password"
DEV = "bottom drive obey lake curtain smoke basket hold race lonely fit walk"
HOT = "legal winner thank year wave sausage worth useful legal winner thank yellow"

w = Wallet(name="fixture", hotkey="miner", path=WP)
w.regenerate_coldkey(mnemonic=DEV, use_password=True, overwrite=True, suppress=True, coldkey_password=PW)
w.regenerate_hotkey(mnemonic=HOT, use_password=False, overwrite=True, suppress=True)
wv = Wallet(name="fixture", hotkey="validator", path=WP)
wv.create_hotkey_from_uri(DEV + "//Alice", use_password=False, overwrite=True, suppress=True)

# standalone NaCl-encrypted copy of the miner hotkey JSON
hot_plain = open(os.path.join(WP, "fixture/hotkeys/miner"), "rb").read()
enc = kf.encrypt_keyfile_data(hot_plain, PW)
open(os.path.join(BASE, "hotkey_miner.nacl"), "wb").write(enc)
os.chmod(os.path.join(BASE, "hotkey_miner.nacl"), 0o600)
