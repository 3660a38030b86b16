#!/usr/bin/python3
"""Writes a sigstore key pair as podman 4.3 (containers/image 5.23) reads it, for the tests.

PREFIX.pub: the public key (PEM, P-256). PREFIX.pkcs8.pem: the private key, unencrypted, for the
tests' own signer (test/integration/sigstore-attach.js). PREFIX.private: the same key encrypted as
cosign writes it (PEM "ENCRYPTED COSIGN PRIVATE KEY" around JSON: scrypt, then NaCl secretbox),
with the passphrase read from PASSPHRASE_FILE. Debian 12's skopeo (1.9) has no
generate-sigstore-key and cosign is not packaged, hence this. Needs python3-nacl and
python3-cryptography. Usage: sigstore-keygen.py PREFIX PASSPHRASE_FILE
"""
import base64
import hashlib
import json
import os
import sys

import nacl.secret
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

N, R, P = 32768, 8, 1


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def pem(kind: str, der: bytes) -> str:
    body = b64(der)
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----", ""])


def main() -> None:
    prefix, passphrase_file = sys.argv[1], sys.argv[2]
    with open(passphrase_file, "rb") as handle:
        passphrase = handle.read().rstrip(b"\n")
    key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    salt = os.urandom(32)
    secret = hashlib.scrypt(passphrase, salt=salt, n=N, r=R, p=P, maxmem=64 * 1024 * 1024, dklen=32)
    nonce = os.urandom(24)
    ciphertext = nacl.secret.SecretBox(secret).encrypt(pkcs8, nonce).ciphertext
    envelope = {
        "kdf": {"name": "scrypt", "params": {"N": N, "r": R, "p": P}, "salt": b64(salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": b64(nonce)},
        "ciphertext": b64(ciphertext),
    }
    with open(prefix + ".private", "w", encoding="ascii") as handle:
        handle.write(pem("ENCRYPTED COSIGN PRIVATE KEY", json.dumps(envelope).encode()))
    os.chmod(prefix + ".private", 0o600)
    clear = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with open(os.open(prefix + ".pkcs8.pem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
        handle.write(clear)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with open(prefix + ".pub", "wb") as handle:
        handle.write(public)


if __name__ == "__main__":
    main()
