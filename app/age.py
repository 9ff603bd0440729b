"""age v1 passphrase encryption (https://age-encryption.org/v1), streaming both ways.

Only what the portable archive needs: one scrypt recipient stanza, the header
MAC, and the STREAM payload (ChaCha20-Poly1305 over 64 KiB chunks with a
counter nonce and a last-chunk flag). Files written here open with any age
implementation (`age -d`, rage, pyrage) and theirs open here.

Memory stays bounded whatever the size: the writer holds at most one chunk,
the reader one chunk plus one byte of look-ahead.

Errors are types: AgeWrongPassphrase (the passphrase does not open the
file), AgeDamaged (altered, truncated or extended after it was written),
AgeFormatError (not a passphrase-encrypted age v1 file, or a malformed one),
with AgeWorkFactorRefused for a scrypt cost above the ceiling, refused
before any key derivation.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import os
import re
from collections.abc import Iterator
from hashlib import sha256
from types import TracebackType
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

VERSION_LINE = b"age-encryption.org/v1"
SCRYPT_LABEL = b"age-encryption.org/v1/scrypt"
#: log2 of scrypt's N: 18 is the reference implementation's default (256 MiB, ~1 s).
DEFAULT_WORK_FACTOR = 18
#: Files asking for more are refused before deriving: 2**22 needs 4 GiB of memory.
MAX_WORK_FACTOR = 22
FILE_KEY_SIZE = 16
PAYLOAD_NONCE_SIZE = 16
CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
COLUMNS = 64
#: A passphrase header is under 200 bytes; anything near this is not one.
MAX_HEADER_BYTES = 64 * 1024
_LAST_COUNTER = (1 << 88) - 1
_ZERO_NONCE = bytes(12)
_BASE64 = re.compile(rb"[A-Za-z0-9+/]*")
_WORK_FACTOR = re.compile(rb"[1-9][0-9]*")


class AgeError(Exception):
    """Base of the errors below."""


class AgeFormatError(AgeError):
    """Not an age v1 file, not encrypted with a passphrase, or a malformed header."""


class AgeWorkFactorRefused(AgeFormatError):
    """The scrypt work factor is above the ceiling (refused before deriving)."""


class AgeWrongPassphrase(AgeError):
    """The passphrase does not open the file."""


class AgeDamaged(AgeError):
    """The file was altered, truncated or extended after it was written."""


def encode_base64(data: bytes) -> bytes:
    """Canonical base64 without padding, as age writes it."""
    return base64.b64encode(data).rstrip(b"=")


def decode_base64(text: bytes) -> bytes:
    """Strict decoding: no padding, no other characters, canonical trailing bits."""
    if not _BASE64.fullmatch(text) or len(text) % 4 == 1:
        raise AgeFormatError("the age header holds malformed base64")
    try:
        data = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except binascii.Error as exc:
        raise AgeFormatError("the age header holds malformed base64") from exc
    if encode_base64(data) != text:  # unused bits set: another encoding of the same bytes
        raise AgeFormatError("the age header holds non-canonical base64")
    return data


def _hkdf(key: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(key)


def _scrypt(passphrase: bytes, salt: bytes, work_factor: int) -> bytes:
    kdf = Scrypt(salt=SCRYPT_LABEL + salt, length=32, n=1 << work_factor, r=8, p=1)
    return kdf.derive(passphrase)


def _header_mac(file_key: bytes, header: bytes) -> bytes:
    return hmac.new(_hkdf(file_key, b"", b"header"), header, sha256).digest()


def _wrapped(text: bytes) -> bytes:
    """Body lines of COLUMNS characters; the last is shorter (possibly empty)."""
    lines = [text[i : i + COLUMNS] for i in range(0, len(text), COLUMNS)]
    if not lines or len(lines[-1]) == COLUMNS:
        lines.append(b"")
    return b"".join(line + b"\n" for line in lines)


def _chunk_nonce(counter: int, last: bool) -> bytes:
    if counter > _LAST_COUNTER:
        raise AgeError("the payload is too long for age's chunk counter")
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _encode_passphrase(passphrase: str | bytes) -> bytes:
    value = passphrase.encode("utf-8") if isinstance(passphrase, str) else bytes(passphrase)
    if not value:
        raise ValueError("the passphrase must not be empty")
    return value


class AgeWriter(io.RawIOBase):
    """Encrypt to `sink` as an age file with a scrypt passphrase stanza.

    Write plaintext, then `close()` to seal the last chunk; the sink is not
    closed. Leaving a `with` block by an exception (or dropping the writer
    without closing it) does *not* seal the last chunk, so an interrupted
    file never decrypts as if it were complete.
    """

    def __init__(
        self,
        sink: IO[bytes],
        passphrase: str | bytes,
        *,
        work_factor: int = DEFAULT_WORK_FACTOR,
    ) -> None:
        super().__init__()
        self._sink = sink
        self._buffer = bytearray()
        self._counter = 0
        self._aborted = False
        if not 1 <= work_factor <= MAX_WORK_FACTOR:  # never write what we would not read
            self._aborted = True
            super().close()
            raise ValueError(f"the scrypt work factor must be between 1 and {MAX_WORK_FACTOR}")
        file_key = os.urandom(FILE_KEY_SIZE)
        salt = os.urandom(16)
        wrap_key = _scrypt(_encode_passphrase(passphrase), salt, work_factor)
        body = ChaCha20Poly1305(wrap_key).encrypt(_ZERO_NONCE, file_key, None)
        header = (
            VERSION_LINE + b"\n"
            + b"-> scrypt " + encode_base64(salt) + b" " + str(work_factor).encode() + b"\n"
            + _wrapped(encode_base64(body))
            + b"---"
        )  # fmt: skip
        nonce = os.urandom(PAYLOAD_NONCE_SIZE)
        sink.write(header + b" " + encode_base64(_header_mac(file_key, header)) + b"\n" + nonce)
        self._aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
        #: Plaintext bytes written so far.
        self.size = 0

    def writable(self) -> bool:
        return True

    def _seal(self, last: bool) -> None:
        nonce = _chunk_nonce(self._counter, last)
        self._sink.write(self._aead.encrypt(nonce, bytes(self._buffer), None))
        self._buffer.clear()
        self._counter += 1

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("write to a closed AgeWriter")
        view = memoryview(data).cast("B")
        written = len(view)
        # A full chunk is sealed only once more data arrives: the last one must carry the flag.
        while view:
            if len(self._buffer) == CHUNK_SIZE:
                self._seal(last=False)
            room = CHUNK_SIZE - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]
        self.size += written
        return written

    def abort(self) -> None:
        """Stop without sealing the last chunk (the output will not decrypt)."""
        self._aborted = True
        self._buffer.clear()
        super().close()

    def close(self) -> None:
        """Seal the last chunk (unless aborted); the sink stays open."""
        if not self.closed:
            try:
                if not self._aborted:
                    self._seal(last=True)
            finally:
                super().close()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is not None:
            self.abort()
        else:
            self.close()

    def __del__(self) -> None:
        # Never seal on garbage collection: only an explicit close() completes a file.
        if not getattr(self, "closed", True):
            self.abort()


class _Header:
    """A parsed age header: its stanzas, the MAC and the bytes the MAC covers."""

    def __init__(self, stanzas: list[tuple[list[bytes], bytes]], covered: bytes, mac: bytes):
        self.stanzas = stanzas
        self.covered = covered
        self.mac = mac


class AgeReader(io.RawIOBase):
    """Decrypt an age file from `source` with a passphrase, as a readable stream.

    The header is checked when the reader is made (wrong passphrase, work
    factor ceiling, header MAC). Each chunk is authenticated before any of
    its bytes are returned; reaching the end checks that the last chunk
    carried the final flag, so reading to the end (or `read_to_end()`) proves
    the file complete.
    """

    def __init__(
        self,
        source: IO[bytes],
        passphrase: str | bytes,
        *,
        max_work_factor: int = MAX_WORK_FACTOR,
    ) -> None:
        super().__init__()
        self._source = source
        self._raw = bytearray()
        self._eof = False
        self._plain = b""
        self._offset = 0
        self._counter = 0
        self.finished = False
        header = self._read_header()
        file_key = self._unwrap(header, _encode_passphrase(passphrase), max_work_factor)
        if not hmac.compare_digest(_header_mac(file_key, header.covered), header.mac):
            raise AgeDamaged("the age header has been altered (its MAC does not match)")
        self._fill(PAYLOAD_NONCE_SIZE)
        if len(self._raw) < PAYLOAD_NONCE_SIZE:
            raise AgeDamaged("the age file is truncated (no payload)")
        nonce = bytes(self._raw[:PAYLOAD_NONCE_SIZE])
        del self._raw[:PAYLOAD_NONCE_SIZE]
        self._aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))

    def readable(self) -> bool:
        return True

    # ------------------------------------------------------------------ header

    def _fill(self, size: int) -> None:
        while len(self._raw) < size and not self._eof:
            part = self._source.read(max(size - len(self._raw), 8192))
            if not part:
                self._eof = True
            else:
                self._raw += part

    def _line(self, consumed: int) -> bytes:
        """The next header line (without LF), read past `consumed` header bytes."""
        while True:
            end = self._raw.find(b"\n", consumed)
            if end >= 0:
                return bytes(self._raw[consumed:end])
            if self._eof or len(self._raw) > MAX_HEADER_BYTES:
                raise AgeFormatError("the age header is truncated or malformed")
            self._fill(len(self._raw) + 1)

    def _read_header(self) -> _Header:
        self._fill(len(VERSION_LINE) + 1)
        if not self._raw.startswith(b"age-encryption.org/"):
            raise AgeFormatError("this is not an age file")
        consumed = 0
        version = self._line(consumed)
        if version != VERSION_LINE:
            raise AgeFormatError(f"unsupported age version {version[:40]!r}")
        consumed += len(version) + 1
        stanzas: list[tuple[list[bytes], bytes]] = []
        while True:
            line = self._line(consumed)
            if line.startswith(b"---"):
                if not line.startswith(b"--- ") or not stanzas:
                    raise AgeFormatError("the age header is malformed")
                mac = decode_base64(line[4:])
                if len(mac) != 32:
                    raise AgeFormatError("the age header's MAC is malformed")
                covered = bytes(self._raw[: consumed + 3])
                del self._raw[: consumed + len(line) + 1]
                return _Header(stanzas, covered, mac)
            if not line.startswith(b"-> "):
                raise AgeFormatError("the age header is malformed")
            arguments = line[3:].split(b" ")
            if any(not argument or not all(33 <= c <= 126 for c in argument)
                   for argument in arguments):  # fmt: skip
                raise AgeFormatError("an age stanza has a malformed argument")
            consumed += len(line) + 1
            body = bytearray()
            while True:
                body_line = self._line(consumed)
                consumed += len(body_line) + 1
                if len(body_line) > COLUMNS or not _BASE64.fullmatch(body_line):
                    raise AgeFormatError("an age stanza's body is malformed")
                body += body_line
                if len(body_line) < COLUMNS:
                    break
            stanzas.append((arguments, decode_base64(bytes(body))))

    @staticmethod
    def _unwrap(header: _Header, passphrase: bytes, max_work_factor: int) -> bytes:
        scrypt = [stanza for stanza in header.stanzas if stanza[0][0] == b"scrypt"]
        if not scrypt:
            raise AgeFormatError("the age file is not encrypted with a passphrase")
        if len(header.stanzas) != 1:
            # The spec: a passphrase stanza must be alone, so the passphrase authenticates.
            raise AgeFormatError("the age file mixes a passphrase with other recipients")
        arguments, body = scrypt[0]
        if len(arguments) != 3 or not _WORK_FACTOR.fullmatch(arguments[2]):
            raise AgeFormatError("the age passphrase stanza is malformed")
        salt = decode_base64(arguments[1])
        if len(salt) != 16 or len(body) != FILE_KEY_SIZE + TAG_SIZE:
            raise AgeFormatError("the age passphrase stanza is malformed")
        if len(arguments[2]) > 2 or int(arguments[2]) > max_work_factor:
            raise AgeWorkFactorRefused(
                f"the file asks for a scrypt work factor of 2^{arguments[2][:6].decode()}; "
                f"more than 2^{max_work_factor} is refused"
            )
        wrap_key = _scrypt(passphrase, salt, int(arguments[2]))
        try:
            return ChaCha20Poly1305(wrap_key).decrypt(_ZERO_NONCE, body, None)
        except InvalidTag:
            raise AgeWrongPassphrase("the passphrase does not open this file") from None

    # ----------------------------------------------------------------- payload

    def _next_chunk(self) -> bool:
        """Decrypt the next chunk into the plaintext buffer; False at the end."""
        if self.finished:
            return False
        # One byte of look-ahead tells a full final chunk from a full middle one.
        self._fill(ENCRYPTED_CHUNK_SIZE + 1)
        last = len(self._raw) <= ENCRYPTED_CHUNK_SIZE
        size = len(self._raw) if last else ENCRYPTED_CHUNK_SIZE
        if size < TAG_SIZE:
            raise AgeDamaged("the age file is truncated")
        if last and size == TAG_SIZE and self._counter > 0:
            raise AgeDamaged("the age file ends with an empty chunk")
        try:
            plain = self._aead.decrypt(
                _chunk_nonce(self._counter, last), bytes(self._raw[:size]), None
            )
        except InvalidTag:
            raise AgeDamaged(
                "the age file is damaged, truncated or extended (chunk "
                f"{self._counter} fails authentication)"
            ) from None
        del self._raw[:size]
        self._counter += 1
        self._plain, self._offset = plain, 0
        self.finished = last
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while self._offset >= len(self._plain):
            if not self._next_chunk():
                return 0
        count = min(len(view), len(self._plain) - self._offset)
        view[:count] = self._plain[self._offset : self._offset + count]
        self._offset += count
        return count

    def read(self, size: int | None = -1) -> bytes:
        """Up to `size` bytes (all that is left if negative); b"" only at the end."""
        if size is None or size < 0:
            return b"".join(self.iter_chunks())
        parts: list[bytes] = []
        wanted = size
        while wanted > 0:
            if self._offset >= len(self._plain) and not self._next_chunk():
                break
            if self._offset >= len(self._plain):
                continue  # an empty (only) chunk
            part = self._plain[self._offset : self._offset + wanted]
            self._offset += len(part)
            wanted -= len(part)
            parts.append(part)
        return b"".join(parts)

    def readall(self) -> bytes:
        return self.read(-1)

    def iter_chunks(self) -> Iterator[bytes]:
        """The rest of the plaintext, one decrypted chunk at a time."""
        if self._offset < len(self._plain):
            yield self._plain[self._offset :]
            self._offset = len(self._plain)
        while self._next_chunk():
            if self._plain:
                self._offset = len(self._plain)
                yield self._plain

    def read_to_end(self) -> int:
        """Read and discard the rest, checking the final chunk; the bytes skipped."""
        return sum(len(chunk) for chunk in self.iter_chunks())


def encrypt_bytes(
    data: bytes, passphrase: str | bytes, *, work_factor: int = DEFAULT_WORK_FACTOR
) -> bytes:
    """A whole age file for `data` (small payloads and tests)."""
    sink = io.BytesIO()
    writer = AgeWriter(sink, passphrase, work_factor=work_factor)
    writer.write(data)
    writer.close()
    return sink.getvalue()


def decrypt_bytes(
    data: bytes, passphrase: str | bytes, *, max_work_factor: int = MAX_WORK_FACTOR
) -> bytes:
    """The plaintext of a whole age file held in memory."""
    return AgeReader(io.BytesIO(data), passphrase, max_work_factor=max_work_factor).read()
