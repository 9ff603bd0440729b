"""Wrong passphrases and bad key-derivation parameters, on real space files."""

from __future__ import annotations

import time
import unicodedata
from pathlib import Path

import pytest

from app.space import Space
from store.errors import DamagedSpace, KdfParametersRefused, WrongPassphrase, WrongRecoveryKey
from store.kdf import PRODUCTION_POLICY, KdfParams, KdfPolicy
from store.recovery import format_recovery_key, parse_recovery_key
from store.spacefile import SpaceFile
from tests.conftest import PASSPHRASE
from tests.support import file_digest, raw_db, rewrite_slot_params


@pytest.fixture
def closed_space(space: Space, space_path: Path) -> Path:
    space.add_asset("journal", "Kept safe", {"body": "text"})
    space.lock()
    return space_path


@pytest.mark.parametrize(
    "wrong",
    ["", "correct horse battery stapl", "x" * 1_000_000, PASSPHRASE + " ", PASSPHRASE.upper()],
    ids=["empty", "one-short", "one-megabyte", "trailing-space", "upper-case"],
)
def test_wrong_passphrase_is_refused_and_file_unchanged(
    closed_space: Path, kdf_policy: KdfPolicy, wrong: str
) -> None:
    before = file_digest(closed_space)
    with pytest.raises(WrongPassphrase):
        Space.open(closed_space, wrong, kdf_policy=kdf_policy)
    assert file_digest(closed_space) == before
    assert not Path(str(closed_space) + "-wal").exists()


def test_nfc_and_nfd_forms_of_a_passphrase_both_open(tmp_path: Path, kdf_policy: KdfPolicy) -> None:
    nfd = unicodedata.normalize("NFD", "Crème brûlée à Zürich")
    nfc = unicodedata.normalize("NFC", nfd)
    assert nfc != nfd
    space, _ = Space.create(tmp_path / "s.cairn", nfd, kdf_policy=kdf_policy)
    space.lock()
    for form in (nfc, nfd):
        Space.open(tmp_path / "s.cairn", form, kdf_policy=kdf_policy).lock()


def test_empty_passphrase_cannot_create_a_space(tmp_path: Path, kdf_policy: KdfPolicy) -> None:
    from store.errors import WeakPassphrase

    with pytest.raises(WeakPassphrase):
        Space.create(tmp_path / "s.cairn", "", kdf_policy=kdf_policy)
    assert not (tmp_path / "s.cairn").exists()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"m": 1024}, "below"),
        ({"t": 1}, "below"),
        ({"m": 2**31}, "large"),  # two TiB: deriving this would exhaust the machine
        ({"t": 10**9}, "large"),
        ({"p": 255}, "large"),
        ({"alg": "pbkdf2-sha1"}, "unknown"),
        ({"alg": "scrypt"}, "unknown"),
        ({"salt": "00"}, "salt"),
    ],
)
def test_kdf_parameters_outside_the_range_are_refused_before_deriving(
    tmp_path: Path, changes: dict[str, object], reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A space with production parameters, opened with the production policy.
    path = tmp_path / "s.cairn"
    fast = KdfPolicy(fixed=(PRODUCTION_POLICY.min_memory_kib, PRODUCTION_POLICY.min_iterations, 1))
    SpaceFile.create(path, PASSPHRASE, fast)[0].lock()
    rewrite_slot_params(path, **changes)

    derivations: list[object] = []
    import store.kdf

    real = store.kdf.Argon2id
    monkeypatch.setattr(store.kdf, "Argon2id", lambda **kw: derivations.append(kw) or real(**kw))
    started = time.perf_counter()
    with pytest.raises(KdfParametersRefused) as refused:
        Space.open(path, PASSPHRASE)
    assert time.perf_counter() - started < 5
    assert derivations == []
    assert reason in str(refused.value) or reason == "salt" and "salt" in str(refused.value)


def test_production_policy_refuses_a_test_space(space_path: Path, space: Space) -> None:
    space.lock()
    with pytest.raises(KdfParametersRefused, match="below the safe minimum"):
        Space.open(space_path, PASSPHRASE)


def test_calibration_meets_the_floor_and_target() -> None:
    params = PRODUCTION_POLICY.calibrate()
    PRODUCTION_POLICY.check(params)
    assert params.memory_kib >= 64 * 1024
    assert params.iterations >= 3
    KdfParams.from_json(params.to_json())


def test_damaged_key_slot_is_not_reported_as_wrong_passphrase(
    closed_space: Path, kdf_policy: KdfPolicy
) -> None:
    db = raw_db(closed_space)
    wrapped = bytearray(
        db.execute("SELECT wrapped FROM keyslot WHERE kind='passphrase'").fetchone()[0]
    )
    wrapped[20] ^= 0x01
    db.execute("UPDATE keyslot SET wrapped=? WHERE kind='passphrase'", (bytes(wrapped),))
    db.close()
    with pytest.raises(DamagedSpace) as damaged:
        Space.open(closed_space, PASSPHRASE, kdf_policy=kdf_policy)
    assert not isinstance(damaged.value, WrongPassphrase)
    with pytest.raises(DamagedSpace):  # the wrong passphrase meets the same damaged slot
        Space.open(closed_space, "wrong", kdf_policy=kdf_policy)


def test_recovery_key_opens_and_sets_a_new_passphrase(
    tmp_path: Path, kdf_policy: KdfPolicy
) -> None:
    path = tmp_path / "s.cairn"
    space, recovery_key = Space.create(path, PASSPHRASE, kdf_policy=kdf_policy)
    asset = space.add_asset("journal", "Before I forgot", {})
    space.lock()
    typed = recovery_key.lower().replace("-", " ")
    with Space.open_with_recovery_key(path, typed, kdf_policy=kdf_policy) as recovered:
        recovered.change_passphrase("a new one")
    with Space.open(path, "a new one", kdf_policy=kdf_policy) as space:
        assert space.get_asset(asset.id).title == "Before I forgot"
    with pytest.raises(WrongPassphrase):
        Space.open(path, PASSPHRASE, kdf_policy=kdf_policy)


def test_recovery_key_typos_and_wrong_keys_are_told_apart(
    closed_space: Path, kdf_policy: KdfPolicy
) -> None:
    other = format_recovery_key(bytes(32))
    with pytest.raises(WrongRecoveryKey, match="not correct"):
        Space.open_with_recovery_key(closed_space, other, kdf_policy=kdf_policy)
    typo = ("B" if other[0] == "A" else "A") + other[1:]
    with pytest.raises(WrongRecoveryKey, match="typo"):
        parse_recovery_key(typo)
    with pytest.raises(WrongRecoveryKey, match="length"):
        parse_recovery_key(other[:-5])


def test_a_new_recovery_key_replaces_the_old_one(tmp_path: Path, kdf_policy: KdfPolicy) -> None:
    path = tmp_path / "s.cairn"
    space, old_key = Space.create(path, PASSPHRASE, kdf_policy=kdf_policy)
    new_key = space.replace_recovery_key()
    assert new_key != old_key
    assert space.verify().ok
    space.lock()
    with pytest.raises(WrongRecoveryKey):
        Space.open_with_recovery_key(path, old_key, kdf_policy=kdf_policy)
    Space.open_with_recovery_key(path, new_key, kdf_policy=kdf_policy).lock()
    Space.open(path, PASSPHRASE, kdf_policy=kdf_policy).lock()  # the passphrase is untouched


def test_recalibration_checks_the_passphrase_then_rewraps_at_the_new_cost(
    tmp_path: Path, kdf_policy: KdfPolicy
) -> None:
    path = tmp_path / "s.cairn"
    space, _ = Space.create(path, PASSPHRASE, kdf_policy=kdf_policy)
    asset = space.add_asset("journal", "Kept", {"entry": "still here"})
    with pytest.raises(WrongPassphrase):
        space.recalibrate(PASSPHRASE + "!")
    old, new = space.recalibrate(PASSPHRASE)
    assert new.salt != old.salt  # a fresh slot, at the policy's cost
    assert (new.memory_kib, new.iterations, new.lanes) == kdf_policy.fixed
    assert space.verify().ok
    space.lock()
    with pytest.raises(WrongPassphrase):
        Space.open(path, PASSPHRASE + "!", kdf_policy=kdf_policy)
    reopened = Space.open(path, PASSPHRASE, kdf_policy=kdf_policy)
    assert reopened.get_asset(asset.id).fields == {"entry": "still here"}
    assert reopened.read_header(path).kdf["salt"] == new.salt.hex()  # type: ignore[index]
    reopened.lock()
