#!/usr/bin/env python3
"""Portable archive benchmark: export and import throughput against tar + age (rage).

    .venv/bin/python tests/benchmarks/bench_archive.py                  # 2,000 assets, 128 MiB
    .venv/bin/python tests/benchmarks/bench_archive.py --assets 10000 --attachments-mib 1024

It builds a space of --assets assets (~2 KB of prose-like fields each, every tenth
with a second version) and --attachments-mib MiB of attachments in files of
--file-mib MiB, then times, in this process:

* export: `export_portable` of the whole space (age scrypt work factor --work-factor,
  18 by default as in production: one derivation, about a second);
* import: `import_portable` of that archive into a new space (cheap Argon2id for the
  new space, so the time is the import itself, plus one scrypt to open the archive).

Baseline, in the same run on the same disk: the archive's own content unpacked into a
folder (the same JSON documents, templates and attachments), then
`tar -c` of that folder encrypted with rage's passphrase encryption (pyrage), and
rage decryption piped into `tar -x`. rage calibrates its scrypt to about a second on
this machine, so its scrypt time is measured apart and reported too. pyrage's
passphrase API works on bytes in memory, so the baseline holds the whole tar in
memory: it is the faster path, not a streaming one.

Peak memory growth (VmHWM, reset before each phase) is printed for export and import.
Figures only: nothing is asserted (see docs/performance.md for a reference run).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pyrage  # noqa: E402

from app.age import AgeReader, _scrypt  # noqa: E402
from app.portable import NewSpace, export_portable, import_portable  # noqa: E402
from app.space import Space  # noqa: E402
from app.transfer import ExportJob  # noqa: E402
from store.spacefile import NewAsset  # noqa: E402
from tests.support import TEST_KDF_POLICY  # noqa: E402

MIB = 1024 * 1024
PASSPHRASE = "benchmark space passphrase"
ARCHIVE_PASSPHRASE = "benchmark archive passphrase"
WORDS = [
    "learning", "feedback", "practice", "session", "coaching", "goal", "review", "team",
    "customer", "skill", "reflection", "evidence", "plan", "action", "outcome", "week",
    "project", "support", "mentor", "course",
]  # fmt: skip


def _status_kib(key: str) -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _reset_peak() -> int:
    """Reset the peak resident size to now (Linux); returns the current size in KiB."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS")


def _timed(label: str, action: Callable[[], Any]) -> tuple[float, int]:
    base = _reset_peak()
    start = time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    growth = max(0, _status_kib("VmHWM") - base) // 1024
    print(f"  {label:<44} {seconds:8.2f} s   peak memory +{growth} MiB", flush=True)
    return seconds, growth


def _prose(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


class _Noise(io.RawIOBase):
    """`size` bytes that do not compress, made as they are read."""

    def __init__(self, size: int, seed: int) -> None:
        self.left = size
        self.block = random.Random(seed).randbytes(MIB)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return (self.block * (size // MIB + 1))[:size]


def build_space(path: Path, assets: int, attachments_mib: int, file_mib: int) -> None:
    rng = random.Random(6)
    space, _ = Space.create(path, PASSPHRASE, kdf_policy=TEST_KDF_POLICY)
    with space:
        ids: list[str] = []
        for start in range(0, assets, 1000):
            batch = [
                NewAsset(
                    template_id="builtin/reflection",
                    title=_prose(rng, 5),
                    fields={
                        "what": _prose(rng, 120),
                        "so_what": _prose(rng, 120),
                        "now_what": _prose(rng, 60),
                    },
                    tags=[rng.choice(WORDS), rng.choice(WORDS)],
                    links=[],
                )  # fmt: skip
                for _ in range(start, min(assets, start + 1000))
            ]
            ids += [record.id for record in space.add_assets(batch)]
        for asset_id in ids[::10]:
            space.edit_asset(asset_id, set_fields={"now_what": _prose(rng, 80)})
        remaining, index = attachments_mib * MIB, 0
        while remaining > 0:
            size = min(file_mib * MIB, remaining)
            space.attach(ids[index % len(ids)], _Noise(size, index), f"evidence-{index}.bin",
                         "application/octet-stream")  # fmt: skip
            remaining -= size
            index += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=2000)
    parser.add_argument("--attachments-mib", type=int, default=128)
    parser.add_argument("--file-mib", type=int, default=8, help="size of each attachment")
    parser.add_argument("--work-factor", type=int, default=18, help="the archive's scrypt")
    parser.add_argument("--folder", type=Path, help="work here (default: a temporary folder)")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="cairn-bench-archive-", dir=args.folder))
    try:
        return run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(args: argparse.Namespace, folder: Path) -> int:
    space_path = folder / "space.cairn"
    print(f"Building a space: {args.assets} assets, {args.attachments_mib} MiB of attachments "
          f"in {args.file_mib} MiB files ...", flush=True)  # fmt: skip
    start = time.perf_counter()
    build_space(space_path, args.assets, args.attachments_mib, args.file_mib)
    print(f"  built in {time.perf_counter() - start:.1f} s "
          f"({space_path.stat().st_size / MIB:.0f} MiB)\n", flush=True)  # fmt: skip

    archive = folder / "space.cairn-archive"
    print(f"Cairn (age scrypt 2^{args.work_factor}):")
    space = Space.open(space_path, PASSPHRASE, kdf_policy=TEST_KDF_POLICY, index="lazy")
    with space:
        job = ExportJob(space, archive, archive_passphrase=ARCHIVE_PASSPHRASE,
                        archive_work_factor=args.work_factor)  # fmt: skip
        export_s, export_mem = _timed("export_portable", lambda: export_portable(job))
    size_mib = archive.stat().st_size / MIB
    restored = folder / "restored.cairn"
    new = NewSpace(restored, PASSPHRASE, TEST_KDF_POLICY)
    import_s, import_mem = _timed(
        "import_portable into a new space",
        lambda: import_portable(archive, new, ARCHIVE_PASSPHRASE, template_folder=folder / "t"),
    )

    # The same content as plain files: the archive's tar, unpacked.
    content = folder / "content"
    content.mkdir()
    with (
        archive.open("rb") as handle,
        tarfile.open(fileobj=AgeReader(handle, ARCHIVE_PASSPHRASE), mode="r|") as tar,
    ):
        tar.extractall(content, filter="data")
    baseline_archive = folder / "baseline.tar.age"
    unpacked = folder / "unpacked"
    unpacked.mkdir()

    def tar_then_rage() -> None:
        tarred = subprocess.run(["tar", "-cf", "-", "-C", str(content), "."],
                                check=True, capture_output=True).stdout  # fmt: skip
        baseline_archive.write_bytes(pyrage.passphrase.encrypt(tarred, ARCHIVE_PASSPHRASE))

    def rage_then_untar() -> None:
        plain = pyrage.passphrase.decrypt(baseline_archive.read_bytes(), ARCHIVE_PASSPHRASE)
        subprocess.run(["tar", "-xf", "-", "-C", str(unpacked)], input=plain, check=True)

    ours_scrypt_s, _ = _timed(f"our scrypt alone (2^{args.work_factor})",
                              lambda: _scrypt(b"x", os.urandom(16), args.work_factor))  # fmt: skip
    print("Baseline (tar + rage via pyrage, whole archive in memory):")
    tiny: list[bytes] = []

    def rage_encrypt_tiny() -> None:
        tiny.append(pyrage.passphrase.encrypt(b"x", ARCHIVE_PASSPHRASE))

    rage_enc_s, _ = _timed("rage scrypt alone (encrypt 1 byte)", rage_encrypt_tiny)

    def rage_decrypt_tiny() -> None:
        pyrage.passphrase.decrypt(tiny[0], ARCHIVE_PASSPHRASE)

    rage_dec_s, _ = _timed("rage scrypt alone (decrypt 1 byte)", rage_decrypt_tiny)
    tar_s, _ = _timed("tar -c | rage encrypt", tar_then_rage)
    untar_s, _ = _timed("rage decrypt | tar -x", rage_then_untar)

    print("\nThroughput (archive size / time):")
    timings = [("Cairn export", export_s), ("Cairn import", import_s),
               ("tar + rage encrypt", tar_s), ("rage decrypt + tar -x", untar_s)]  # fmt: skip
    for label, seconds in timings:
        print(f"  {label:<24} {size_mib / seconds:8.1f} MiB/s   "
              f"{args.assets / seconds:9.0f} assets/s")  # fmt: skip
    baseline_mib = baseline_archive.stat().st_size / MIB
    print(f"\nArchive: {size_mib:.1f} MiB (baseline {baseline_mib:.1f} MiB)")
    print("Ratios (Cairn / baseline; below 1 is faster):")
    print(f"  export / (tar + rage encrypt)      {export_s / tar_s:5.2f}x")
    print(f"  import / (rage decrypt + tar -x)   {import_s / untar_s:5.2f}x")
    print("  the same without the one scrypt derivation on either side: export "
          f"{(export_s - ours_scrypt_s) / max(tar_s - rage_enc_s, 1e-9):.2f}x, import "
          f"{(import_s - ours_scrypt_s) / max(untar_s - rage_dec_s, 1e-9):.2f}x")  # fmt: skip
    print(f"Peak memory growth: export +{export_mem} MiB, import +{import_mem} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
