# Checks that the Python SDK reads a wallet made by `chronoseek wallet new`.
#   WALLET_PASSWORD=pw chronoseek wallet new --name w --hotkey h --wallet-path /tmp/pywcheck
#   python -m venv /tmp/btwvenv && /tmp/btwvenv/bin/pip install bittensor-wallet
#   WALLET_PASSWORD=pw /tmp/btwvenv/bin/python check_chronoseek_wallet.py /tmp/pywcheck w h
import os, sys
from bittensor_wallet import Wallet

path, name, hotkey = sys.argv[1:4]
w = Wallet(name=name, hotkey=hotkey, path=path)
print("hotkey", w.hotkey.ss58_address, "pub", w.hotkeypub.ss58_address)
cold = w.coldkey_file.get_keypair(password=os.environ["WALLET_PASSWORD"])
assert cold.ss58_address == w.coldkeypub.ss58_address
print("coldkey", cold.ss58_address, "decrypted; hotkey signs", len(w.hotkey.sign(b"x")), "bytes")
