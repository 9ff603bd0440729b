"""Our age v1 implementation: round trips, interoperability with rage (pyrage), tampering."""

from __future__ import annotations

import io
import os

import pyrage
import pytest

from app import age
from app.age import (
    CHUNK_SIZE,
    ENCRYPTED_CHUNK_SIZE,
    AgeDamaged,
    AgeFormatError,
    AgeReader,
    AgeWorkFactorRefused,
    AgeWriter,
    AgeWrongPassphrase,
    decrypt_bytes,
    encrypt_bytes,
)

PASSPHRASE = "burst swarm slender curve"
#: Cheap scrypt for tests (the default is 18); pyrage accepts any work factor.
CHEAP = 10


def _header_length(data: bytes) -> int:
    return data.index(b"\n", data.index(b"\n--- ") + 1) + 1


def _encrypt(data: bytes) -> bytes:
    return encrypt_bytes(data, PASSPHRASE, work_factor=CHEAP)


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 3 * 1024 * 1024 + 7]
)
def test_round_trip(size: int) -> None:
    data = os.urandom(size)
    encrypted = _encrypt(data)
    assert decrypt_bytes(encrypted, PASSPHRASE) == data
    # One chunk per 64 KiB started, at least one; a multiple of 64 KiB ends on a full
    # final chunk, never on an empty one.
    chunks = max(1, -(-size // CHUNK_SIZE))
    assert len(encrypted) - _header_length(encrypted) == 16 + size + 16 * chunks


def test_header_is_the_documented_text() -> None:
    encrypted = _encrypt(b"hello")
    lines = encrypted[: _header_length(encrypted)].decode("ascii").splitlines()
    assert lines[0] == "age-encryption.org/v1"
    arrow, kind, salt, work_factor = lines[1].split(" ")
    assert (arrow, kind, work_factor) == ("->", "scrypt", str(CHEAP))
    assert len(salt) == 22
    assert "=" not in salt
    assert len(lines[2]) == 43  # the wrapped file key: 32 bytes, one short line
    assert lines[3].startswith("--- ")
    assert len(lines[3]) == 4 + 43


def test_streaming_in_odd_pieces_gives_the_same_plaintext() -> None:
    data = os.urandom(5 * CHUNK_SIZE + 123)
    sink = io.BytesIO()
    writer = AgeWriter(sink, PASSPHRASE, work_factor=CHEAP)
    position = 0
    for step in (1, 7, CHUNK_SIZE, 3, 2 * CHUNK_SIZE + 5, 10**9):
        writer.write(data[position : position + step])
        position += step
        assert len(writer._buffer) <= CHUNK_SIZE  # never more than one chunk held
    writer.close()
    reader = AgeReader(io.BytesIO(sink.getvalue()), PASSPHRASE)
    pieces = []
    for step in (5, CHUNK_SIZE + 1, 1, 10**9):
        pieces.append(reader.read(step))
    assert b"".join(pieces) == data
    assert reader.read(10) == b""
    assert reader.finished


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * 1024 * 1024 + 3])
def test_pyrage_decrypts_ours(size: int) -> None:
    data = os.urandom(size)
    assert pyrage.passphrase.decrypt(_encrypt(data), PASSPHRASE) == data


def test_we_decrypt_pyrages() -> None:
    # rage calibrates scrypt to about a second, so one file covers several chunks at once.
    data = os.urandom(3 * CHUNK_SIZE + 17)
    encrypted = pyrage.passphrase.encrypt(data, PASSPHRASE)
    reader = AgeReader(io.BytesIO(encrypted), PASSPHRASE)
    assert reader.read() == data
    assert reader.finished


def test_wrong_passphrase_is_its_own_error() -> None:
    with pytest.raises(AgeWrongPassphrase):
        decrypt_bytes(_encrypt(b"secret"), "not the passphrase")


def test_a_work_factor_above_the_ceiling_is_refused_before_deriving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encrypted = _encrypt(b"x").replace(f" {CHEAP}\n".encode(), b" 23\n", 1)

    def no_derivation(*args: object) -> bytes:
        raise AssertionError("scrypt ran")

    monkeypatch.setattr(age, "_scrypt", no_derivation)
    with pytest.raises(AgeWorkFactorRefused):
        decrypt_bytes(encrypted, PASSPHRASE)
    with pytest.raises(AgeWorkFactorRefused):
        decrypt_bytes(_header_only(CHEAP), PASSPHRASE, max_work_factor=CHEAP - 1)


def _header_only(work_factor: int) -> bytes:
    return b"age-encryption.org/v1\n-> scrypt AAAAAAAAAAAAAAAAAAAAAA %d\n%s\n--- %s\n" % (
        work_factor,
        b"A" * 43,
        b"A" * 43,
    )


def test_a_passphrase_stanza_beside_another_recipient_is_refused() -> None:
    encrypted = _encrypt(b"x")
    first_body_end = encrypted.index(b"\n--- ") + 1
    mixed = (
        encrypted[:first_body_end]
        + b"-> X25519 O6DLx/wDIawpUC978NSPjYvrfDtJVnZApXKp4FMPHCY\n"
        + b"3aKjozt9agh7jGmvOKvR4iax41Wl4zj95MKK4X9JuWc\n"
        + encrypted[first_body_end:]
    )
    with pytest.raises(AgeFormatError, match="mixes"):
        decrypt_bytes(mixed, PASSPHRASE)


def test_an_altered_header_mac_is_damage() -> None:
    encrypted = bytearray(_encrypt(b"x"))
    position = encrypted.index(b"\n--- ") + 6
    encrypted[position] = ord("A") if encrypted[position] != ord("A") else ord("B")
    with pytest.raises(AgeDamaged, match="MAC"):
        decrypt_bytes(bytes(encrypted), PASSPHRASE)


@pytest.mark.parametrize(
    "header_edit",
    [
        (b"age-encryption.org/v1\n", b"age-encryption.org/v2\n"),  # another version
        (b"\n--- ", b"\n---"),  # no space before the MAC
        (b"-> scrypt ", b"-> scrypt  "),  # an empty argument
    ],
)
def test_malformed_headers_are_refused(header_edit: tuple[bytes, bytes]) -> None:
    encrypted = _encrypt(b"x").replace(*header_edit, 1)
    with pytest.raises(AgeFormatError):
        decrypt_bytes(encrypted, PASSPHRASE)


def test_non_canonical_base64_is_refused() -> None:
    encrypted = _encrypt(b"x")
    salt_line = encrypted.split(b"\n")[1]
    salt = salt_line.split(b" ")[2]
    # The last character of 16 bytes in base64 carries 4 unused bits: set one of them.
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    index = alphabet.index(salt[-1:])
    twisted = salt[:-1] + alphabet[index | 1 : (index | 1) + 1]
    padded = salt + b"=="
    for bad in (twisted, padded):
        with pytest.raises(AgeFormatError):
            decrypt_bytes(encrypted.replace(salt, bad, 1), PASSPHRASE)


def test_not_an_age_file() -> None:
    with pytest.raises(AgeFormatError, match="not an age file"):
        decrypt_bytes(b"PK\x03\x04 a zip file", PASSPHRASE)


def _tampered(edit: str) -> bytes:
    data = os.urandom(3 * CHUNK_SIZE + 100)
    encrypted = bytearray(_encrypt(data))
    payload = _header_length(bytes(encrypted)) + 16
    if edit == "flip":
        encrypted[payload + CHUNK_SIZE + 50] ^= 0x01
    elif edit == "truncate at a chunk boundary":
        del encrypted[payload + 3 * ENCRYPTED_CHUNK_SIZE :]
    elif edit == "truncate inside a chunk":
        del encrypted[-40:]
    elif edit == "extend":
        encrypted += b"\x00" * 16
    elif edit == "drop a middle chunk":
        del encrypted[payload + ENCRYPTED_CHUNK_SIZE : payload + 2 * ENCRYPTED_CHUNK_SIZE]
    elif edit == "nonce":
        encrypted[payload - 1] ^= 0x80
    return bytes(encrypted)


@pytest.mark.parametrize(
    "edit",
    ["flip", "truncate at a chunk boundary", "truncate inside a chunk", "extend",
     "drop a middle chunk", "nonce"],
)  # fmt: skip
def test_tampered_payloads_are_refused(edit: str) -> None:
    with pytest.raises(AgeDamaged):
        decrypt_bytes(_tampered(edit), PASSPHRASE)


def test_a_truncated_header_is_refused() -> None:
    encrypted = _encrypt(b"x")
    with pytest.raises(AgeFormatError):
        decrypt_bytes(encrypted[: encrypted.index(b"\n--- ") + 3], PASSPHRASE)
    with pytest.raises(AgeDamaged, match="truncated"):
        decrypt_bytes(encrypted[: _header_length(encrypted) + 5], PASSPHRASE)


def test_an_empty_final_chunk_after_data_is_refused() -> None:
    sink = io.BytesIO()
    writer = AgeWriter(sink, PASSPHRASE, work_factor=CHEAP)
    writer.write(b"a" * CHUNK_SIZE)
    writer._seal(last=False)  # a full chunk, then an empty final one: the spec forbids it
    writer.close()
    with pytest.raises(AgeDamaged, match="empty chunk"):
        decrypt_bytes(sink.getvalue(), PASSPHRASE)


def test_an_interrupted_writer_leaves_a_file_that_does_not_decrypt() -> None:
    sink = io.BytesIO()

    def interrupted() -> None:
        with AgeWriter(sink, PASSPHRASE, work_factor=CHEAP) as writer:
            writer.write(b"half of it")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        interrupted()
    with pytest.raises(AgeDamaged):
        decrypt_bytes(sink.getvalue(), PASSPHRASE)


def test_the_writer_refuses_a_cost_the_reader_would_refuse() -> None:
    import io
    import warnings

    from app.age import MAX_WORK_FACTOR, AgeWriter

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "exception ignored" from a half-made writer
        with pytest.raises(ValueError, match="work factor"):
            AgeWriter(io.BytesIO(), "words", work_factor=MAX_WORK_FACTOR + 1)
