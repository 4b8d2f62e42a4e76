"""Encrypted exports: the streaming AES-256-GCM file format, on real files."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from privmask.redaction import crypto
from privmask.redaction.crypto import DecryptionError, EncryptingWriter, WrongPasswordError

CHUNK = 1024
FAST = {"chunk_size": CHUNK, "scrypt_log2_n": 10}  # cheap key derivation: tests only
HEADER = 71
STORED = CHUNK + 16


def encrypted(tmp_path: Path, data: bytes, password: str = "correct horse") -> Path:
    src, dst = tmp_path / "plain.bin", tmp_path / "export.enc"
    src.write_bytes(data)
    crypto.encrypt(src, dst, password, **FAST)
    return dst


def leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 7])
def test_round_trip(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    enc = encrypted(tmp_path, data)
    chunks = max(1, -(-size // CHUNK))  # the last holds 1..CHUNK bytes (0 for an empty file)
    assert enc.stat().st_size == HEADER + size + 16 * chunks
    assert crypto.is_encrypted(enc)
    if size >= 16:
        assert data[:16] not in enc.read_bytes()
    out = tmp_path / "out.bin"
    crypto.decrypt(enc, out, "correct horse")
    assert out.read_bytes() == data
    assert leftovers(tmp_path) == []


def test_unicode_passwords_are_normalised(tmp_path: Path) -> None:
    enc = encrypted(tmp_path, b"x" * 100, password="Fu\u00dfg\u00e4nger")  # NFC
    crypto.decrypt(enc, tmp_path / "out", "Fu\u00dfga\u0308nger")  # NFD, as macOS types it
    assert (tmp_path / "out").read_bytes() == b"x" * 100


def test_wrong_password_is_a_clear_error(tmp_path: Path) -> None:
    enc = encrypted(tmp_path, os.urandom(5000))
    with pytest.raises(WrongPasswordError, match="wrong password"):
        crypto.decrypt(enc, tmp_path / "out", "Correct horse")
    assert not (tmp_path / "out").exists()
    assert leftovers(tmp_path) == []
    assert issubclass(WrongPasswordError, ValueError)


def test_truncated_at_a_chunk_boundary(tmp_path: Path) -> None:
    enc = encrypted(tmp_path, os.urandom(5 * CHUNK + 100))
    enc.write_bytes(enc.read_bytes()[: HEADER + 2 * STORED])
    with pytest.raises(DecryptionError, match="truncated: it ends after chunk 1 without the final"):
        crypto.decrypt(enc, tmp_path / "out", "correct horse")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("cut", [1, 16, 17, STORED - 1])
def test_truncated_inside_a_chunk(tmp_path: Path, cut: int) -> None:
    enc = encrypted(tmp_path, os.urandom(3 * CHUNK))
    enc.write_bytes(enc.read_bytes()[:-cut])
    with pytest.raises(DecryptionError, match=r"truncated|failed authentication"):
        crypto.decrypt(enc, tmp_path / "out", "correct horse")
    assert not (tmp_path / "out").exists()
    assert leftovers(tmp_path) == []


def test_truncated_headers(tmp_path: Path) -> None:
    enc = encrypted(tmp_path, b"abc")
    data = enc.read_bytes()
    enc.write_bytes(data[:HEADER])
    with pytest.raises(DecryptionError, match="has no chunks"):
        crypto.decrypt(enc, tmp_path / "out", "correct horse")
    enc.write_bytes(data[:30])
    with pytest.raises(DecryptionError, match="ends inside its header"):
        crypto.decrypt(enc, tmp_path / "out", "correct horse")


@pytest.mark.parametrize(
    ("offset", "error"),
    [
        (12, DecryptionError),  # chunk size field: out of range or a different key
        (20, WrongPasswordError),  # salt: a different key, so the header MAC fails
        (35, WrongPasswordError),  # nonce prefix, covered by the header MAC
        (50, WrongPasswordError),  # the MAC itself
        (HEADER + 10, DecryptionError),  # ciphertext of chunk 0
        (HEADER + STORED - 3, DecryptionError),  # tag of chunk 0
        (HEADER + 2 * STORED + 5, DecryptionError),  # the final chunk
    ],
)
def test_a_flipped_bit_anywhere_is_caught(
    tmp_path: Path, offset: int, error: type[Exception]
) -> None:
    enc = encrypted(tmp_path, os.urandom(2 * CHUNK + 500))
    data = bytearray(enc.read_bytes())
    data[offset] ^= 0x01
    enc.write_bytes(bytes(data))
    with pytest.raises(error):
        crypto.decrypt(enc, tmp_path / "out", "correct horse")
    assert not (tmp_path / "out").exists()


def test_reordered_chunks_are_caught(tmp_path: Path) -> None:
    enc = encrypted(tmp_path, os.urandom(3 * CHUNK + 10))
    data = enc.read_bytes()
    c0, c1 = data[HEADER : HEADER + STORED], data[HEADER + STORED : HEADER + 2 * STORED]
    enc.write_bytes(data[:HEADER] + c1 + c0 + data[HEADER + 2 * STORED :])
    with pytest.raises(DecryptionError, match=r"chunk 0 .*failed authentication"):
        crypto.decrypt(enc, tmp_path / "out", "correct horse")


def test_appended_data_is_caught(tmp_path: Path) -> None:
    enc = encrypted(tmp_path, os.urandom(CHUNK + 10))
    with open(enc, "ab") as f:
        f.write(os.urandom(100))
    with pytest.raises(DecryptionError, match=r"chunk 1 .*failed authentication"):
        crypto.decrypt(enc, tmp_path / "out", "correct horse")


def test_not_an_encrypted_file(tmp_path: Path) -> None:
    other = tmp_path / "clip.mp4"
    other.write_bytes(b"\x00\x00\x00\x20ftypisom" + os.urandom(200))
    assert not crypto.is_encrypted(other)
    with pytest.raises(DecryptionError, match="not a privmask-encrypted file"):
        crypto.decrypt(other, tmp_path / "out", "pw")


def test_streaming_memory_stays_at_one_chunk(tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    size, chunk = 48 << 20, 1 << 20
    with open(src, "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(size >> 20):
            f.write(block)
    enc, out = tmp_path / "big.enc", tmp_path / "big.out"
    tracemalloc.start()
    try:
        crypto.encrypt(src, enc, "pw", chunk_size=chunk, scrypt_log2_n=10)
        crypto.decrypt(enc, out, "pw")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * chunk, f"peak {peak / 2**20:.1f} MiB for a {size >> 20} MiB file"
    assert out.stat().st_size == size
    with open(out, "rb") as f:
        assert f.read(1 << 20) == block


def test_encrypting_writer_publishes_only_on_close(tmp_path: Path) -> None:
    dst = tmp_path / "stream.enc"
    with EncryptingWriter(dst, "pw", **FAST) as w:
        for _ in range(10):
            w.write(b"0123456789" * 300)
        assert not dst.exists()
    assert dst.exists()
    crypto.decrypt(dst, tmp_path / "out", "pw")
    assert (tmp_path / "out").read_bytes() == b"0123456789" * 3000

    failed = tmp_path / "failed.enc"
    with pytest.raises(RuntimeError), EncryptingWriter(failed, "pw", **FAST) as w:
        w.write(b"x" * 5000)
        raise RuntimeError("the encoder crashed")
    assert not failed.exists()
    dropped = EncryptingWriter(tmp_path / "dropped.enc", "pw", **FAST)
    dropped.write(b"y" * 5000)
    del dropped  # never closed: a cut-short stream must not be published as complete
    assert not (tmp_path / "dropped.enc").exists()
    assert leftovers(tmp_path) == []


def test_bad_arguments(tmp_path: Path) -> None:
    src = tmp_path / "a"
    src.write_bytes(b"a")
    with pytest.raises(ValueError, match="empty"):
        crypto.encrypt(src, tmp_path / "b", "")
    with pytest.raises(ValueError, match="same file"):
        crypto.encrypt(src, src, "pw", **FAST)
    with pytest.raises(ValueError, match="chunk_size"):
        crypto.encrypt(src, tmp_path / "b", "pw", chunk_size=10)
    with pytest.raises(TypeError, match="str or bytes"):
        crypto.encrypt(src, tmp_path / "b", 1234)  # type: ignore[arg-type]
