"""Password encryption of exports: AES-256-GCM in authenticated chunks, scrypt key derivation.

An export leaves the building (to the police, a court, a data subject), so it is encrypted with a
password and must stay streamable: a multi-GB export never sits in memory, and a recipient must
learn if the file was cut short or altered, not get a silently shorter video.

**Format, version 1** (all integers big-endian)::

    offset  size  field
    0       8     magic  b"PRIVMASK"
    8       1     version  1
    9       1     scrypt log2(N)
    10      1     scrypt r
    11      1     scrypt p
    12      4     chunk size C (plaintext bytes per chunk)
    16      16    salt (random)
    32      7     nonce prefix (random)
    39      32    header MAC: HMAC-SHA256(mac key, bytes 0..38)
    71      ...   chunks: AES-256-GCM(chunk) + 16-byte tag; every chunk holds C bytes but the
                  last, which holds 1..C (0 only when the whole plaintext is empty)

scrypt(password, salt, N, r, p) gives 64 bytes: the AES key and the header's MAC key. A wrong
password fails the header MAC, so it is reported as such before any chunk is tried. Chunk ``i``
uses the nonce ``prefix || i (4 bytes) || last (1 byte, 1 for the final chunk)`` and the 71-byte
header as associated data: this is the STREAM construction (as in Tink and age), so reordered
chunks fail (the counter), a file cut at a chunk boundary fails (no chunk marked last), appended
data fails (the true last chunk is then read as a middle one), and an edited header fails.

Outputs are written to a temporary file beside the destination and renamed into place only when
complete, so a failed decryption never leaves unauthenticated plaintext where the caller looks.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import os
import secrets
import struct
import unicodedata
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, Final

from privmask._extras import install_hint
from privmask._outputs import publish, same_file, temp_beside
from privmask.errors import DecryptionError, WrongPasswordError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_SCRYPT_LOG2_N",
    "SCRYPT_MAX_BYTES",
    "DecryptionError",
    "EncryptingWriter",
    "WrongPasswordError",
    "decrypt",
    "encrypt",
    "is_encrypted",
    "scrypt_cost",
]

MAGIC: Final = b"PRIVMASK"
VERSION: Final = 1
DEFAULT_CHUNK_SIZE: Final = 1 << 20
DEFAULT_SCRYPT_LOG2_N: Final = 17  # N = 2**17, r = 8, p = 1: OWASP's scrypt minimum, ~128 MiB
_SCRYPT_R: Final = 8
_SCRYPT_P: Final = 1
_TAG: Final = 16
_HEADER: Final = struct.Struct(">8sBBBBI16s7s")  # 39 bytes, then the 32-byte MAC
_HEADER_SIZE: Final = _HEADER.size + 32
# Bounds on what a file may ask for, so a crafted header cannot make decryption allocate
# gigabytes or spin for minutes before the header is authenticated. scrypt needs 128 * r * N
# bytes of memory per lane and p lanes of work; 128 * r * N * p is held within the budget, which
# allows the default (N = 2**17, r = 8, p = 1: 128 MiB) and one step more.
SCRYPT_MAX_BYTES: Final = 256 * 1024 * 1024
_LOG2_N_RANGE: Final = range(10, 23)
_R_RANGE: Final = range(1, 33)
_P_RANGE: Final = range(1, 17)


def scrypt_cost(log2_n: int, r: int, p: int) -> int:
    """The memory-time budget of scrypt parameters, in bytes: ``128 * r * N * p``."""
    return 128 * r * (1 << log2_n) * p


_CHUNK_RANGE: Final = range(1 << 10, (1 << 26) + 1)
_MAX_CHUNKS: Final = 1 << 32


def _aesgcm() -> type[AESGCM]:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            f"encrypted exports need the 'cryptography' package: {install_hint('crypto')}"
        ) from e
    return AESGCM


def _password_bytes(password: str | bytes) -> bytes:
    if isinstance(password, str):
        # NFC: the same password typed on macOS and Windows must give the same key.
        data = unicodedata.normalize("NFC", password).encode("utf-8")
    elif isinstance(password, bytes):
        data = password
    else:
        raise TypeError(f"password must be str or bytes, got {type(password).__name__}")
    if not data:
        raise ValueError("the password is empty")
    return data


def _derive(password: bytes, salt: bytes, log2_n: int, r: int, p: int) -> tuple[bytes, bytes]:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    key = Scrypt(salt=salt, length=64, n=1 << log2_n, r=r, p=p).derive(password)
    return key[:32], key[32:]


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


def _temporary_beside(dst: Path) -> tuple[BinaryIO, Path]:
    """A new file in ``dst``'s directory (so the final rename is atomic), readable by the owner
    only (it may hold a lifted export before encryption, or a decrypted one)."""
    tmp = temp_beside(dst, private=True)
    return open(tmp, "wb"), tmp


def _publish(f: BinaryIO, tmp: Path, dst: Path) -> None:
    """Makes ``tmp`` durable and renames it to ``dst`` (the package's one policy)."""
    f.flush()
    f.close()
    publish(tmp, dst)


class EncryptingWriter(io.RawIOBase):
    """A write-only stream that encrypts into ``dst`` as it goes (format above).

    Memory stays at one chunk whatever the total size. Nothing appears at ``dst`` until
    :meth:`close`; leaving a ``with`` block by an exception (or calling :meth:`abort`) removes
    the partial output instead. ``scrypt_log2_n`` trades key-derivation time against password
    guessing cost (17 takes ~0.3 s and 128 MiB; 18, the most :func:`decrypt` accepts, 256 MiB;
    lower it only in tests).
    """

    def __init__(
        self,
        dst: str | os.PathLike[str],
        password: str | bytes,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        scrypt_log2_n: int = DEFAULT_SCRYPT_LOG2_N,
    ) -> None:
        super().__init__()
        if isinstance(chunk_size, bool) or chunk_size not in _CHUNK_RANGE:
            raise ValueError(f"chunk_size must be 1 KiB to 64 MiB, got {chunk_size!r}")
        if (
            isinstance(scrypt_log2_n, bool)
            or scrypt_log2_n not in _LOG2_N_RANGE
            or scrypt_cost(scrypt_log2_n, _SCRYPT_R, _SCRYPT_P) > SCRYPT_MAX_BYTES
        ):
            # Never write a file that decrypt() would refuse to open.
            raise ValueError(f"scrypt_log2_n must be 10 to 18, got {scrypt_log2_n!r}")
        pw = _password_bytes(password)
        aead = _aesgcm()
        self._dst = Path(dst)
        salt, prefix = secrets.token_bytes(16), secrets.token_bytes(7)
        key, mac_key = _derive(pw, salt, scrypt_log2_n, _SCRYPT_R, _SCRYPT_P)
        fields = _HEADER.pack(
            MAGIC, VERSION, scrypt_log2_n, _SCRYPT_R, _SCRYPT_P, chunk_size, salt, prefix
        )
        self._header = fields + hmac.new(mac_key, fields, hashlib.sha256).digest()
        self._aead = aead(key)
        self._prefix = prefix
        self._chunk = chunk_size
        self._counter = 0
        self._buffer = bytearray()
        self._file, self._tmp = _temporary_beside(self._dst)
        self._file.write(self._header)
        self._done = False

    def writable(self) -> bool:
        return True

    def write(self, b: ReadableBuffer, /) -> int:
        if self.closed:
            raise ValueError("write to a closed EncryptingWriter")
        data = memoryview(b).cast("B")
        self._buffer += data
        # Keep at least one byte back: only close() knows which chunk is the last.
        while len(self._buffer) > self._chunk:
            with memoryview(self._buffer) as view:
                self._seal(view[: self._chunk], last=False)
            del self._buffer[: self._chunk]
        return len(data)

    def _seal(self, plain: bytes | memoryview, *, last: bool) -> None:
        if self._counter >= _MAX_CHUNKS:
            raise OverflowError("too many chunks for one file; use a larger chunk_size")
        nonce = _nonce(self._prefix, self._counter, last)
        self._file.write(self._aead.encrypt(nonce, plain, self._header))
        self._counter += 1

    def close(self) -> None:
        """Seals the last chunk and publishes the file at ``dst``."""
        if self.closed:
            return
        try:
            if not self._done:
                self._seal(bytes(self._buffer), last=True)
                self._buffer.clear()
                _publish(self._file, self._tmp, self._dst)
                self._done = True
        except BaseException:
            self.abort()
            raise
        finally:
            super().close()

    def abort(self) -> None:
        """Discards the output: nothing is left at ``dst`` or beside it."""
        self._done = True
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()
        super().close()

    def __del__(self) -> None:
        # io's default __del__ would close(), publishing a cut-short stream as if complete.
        # (No ``_file`` yet: __init__ failed before creating anything.)
        if not self.closed and hasattr(self, "_file"):
            self.abort()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()


def encrypt(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    password: str | bytes,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    scrypt_log2_n: int = DEFAULT_SCRYPT_LOG2_N,
) -> None:
    """Encrypts the file ``src`` into ``dst``, streaming in chunks (see the module docs)."""
    src_path, dst_path = Path(src), Path(dst)
    if same_file(src_path, dst_path):
        raise ValueError(f"src and dst are the same file: {src_path}")
    with (
        open(src_path, "rb") as f,
        EncryptingWriter(
            dst_path, password, chunk_size=chunk_size, scrypt_log2_n=scrypt_log2_n
        ) as out,
    ):
        while block := f.read(chunk_size):
            out.write(block)


def is_encrypted(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts like a privmask-encrypted file."""
    with open(path, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


def _read_exact(f: BinaryIO, n: int) -> bytes:
    parts = []
    while n > 0:
        block = f.read(n)
        if not block:
            break
        parts.append(block)
        n -= len(block)
    return b"".join(parts)


def _read_header(f: BinaryIO, password: bytes, name: str) -> tuple[bytes, bytes, bytes, int]:
    """(header, AES key, nonce prefix, chunk size), or a clear error."""
    header = _read_exact(f, _HEADER_SIZE)
    if len(header) < len(MAGIC) or header[: len(MAGIC)] != MAGIC:
        raise DecryptionError(f"{name} is not a privmask-encrypted file")
    if len(header) < _HEADER_SIZE:
        raise DecryptionError(f"{name} is truncated: it ends inside its header")
    _magic, version, log2_n, r, p, chunk, salt, prefix = _HEADER.unpack(header[: _HEADER.size])
    if version != VERSION:
        raise DecryptionError(
            f"{name} is encrypted with format version {version}; this privmask reads {VERSION}"
        )
    if log2_n not in _LOG2_N_RANGE or r not in _R_RANGE or p not in _P_RANGE:
        raise DecryptionError(f"{name} asks for scrypt parameters out of range: corrupted?")
    cost = scrypt_cost(log2_n, r, p)
    if cost > SCRYPT_MAX_BYTES:
        # Refused before deriving: the header is not authenticated yet, so these numbers may
        # be an attacker's, chosen to make the derivation take gigabytes.
        raise DecryptionError(
            f"{name} asks for scrypt parameters (N = 2**{log2_n}, r = {r}, p = {p}) that need "
            f"{cost // (1 << 20)} MiB, above the {SCRYPT_MAX_BYTES // (1 << 20)} MiB privmask "
            "allows before the header is authenticated: crafted or corrupted"
        )
    if chunk not in _CHUNK_RANGE:
        raise DecryptionError(f"{name} has a chunk size out of range ({chunk}): corrupted?")
    key, mac_key = _derive(password, salt, log2_n, r, p)
    expected = hmac.new(mac_key, header[: _HEADER.size], hashlib.sha256).digest()
    if not hmac.compare_digest(expected, header[_HEADER.size :]):
        raise WrongPasswordError(f"wrong password for {name} (or its header was altered)")
    return header, key, prefix, chunk


def decrypt(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], password: str | bytes
) -> None:
    """Decrypts ``src`` (written by :func:`encrypt` or an encrypted export) into ``dst``.

    Raises :class:`WrongPasswordError` for a wrong password, and :class:`DecryptionError` for a
    file that is not encrypted, is truncated, or was altered (naming the chunk). ``dst`` is
    written only when every chunk authenticated.
    """
    from cryptography.exceptions import InvalidTag

    pw = _password_bytes(password)
    src_path, dst_path = Path(src), Path(dst)
    if same_file(src_path, dst_path):
        raise ValueError(f"src and dst are the same file: {src_path}")
    name = str(src_path)
    with open(src_path, "rb") as f:
        header, key, prefix, chunk = _read_header(f, pw, name)
        aead = _aesgcm()(key)
        stored = chunk + _TAG
        out, tmp = _temporary_beside(dst_path)
        try:
            counter, offset = 0, _HEADER_SIZE
            block = _read_exact(f, stored)
            while True:
                following = _read_exact(f, stored)
                last = not following
                if len(block) < _TAG:
                    if counter == 0 and not block:
                        raise DecryptionError(f"{name} is truncated: it has no chunks")
                    raise DecryptionError(f"{name} is truncated: chunk {counter} is cut short")
                try:
                    plain = aead.decrypt(_nonce(prefix, counter, last), block, header)
                except InvalidTag:
                    if last and len(block) == stored:
                        with contextlib.suppress(InvalidTag):
                            aead.decrypt(_nonce(prefix, counter, False), block, header)
                            raise DecryptionError(
                                f"{name} is truncated: it ends after chunk {counter} without "
                                "the final chunk"
                            ) from None
                    raise DecryptionError(
                        f"chunk {counter} of {name} (bytes {offset} to {offset + len(block)}) "
                        "failed authentication: the file is truncated, corrupted or was "
                        "tampered with"
                    ) from None
                out.write(plain)
                if last:
                    break
                counter += 1
                offset += len(block)
                block = following
            _publish(out, tmp, dst_path)
        except BaseException:
            out.close()
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
