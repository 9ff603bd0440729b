"""Where the command line gets a passphrase: a file, the environment, or a prompt."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

ENVIRONMENT_VARIABLE = "CAIRN_PASSPHRASE"
MAX_FILE_BYTES = 4 * 1024 * 1024


class PassphraseUnavailable(Exception):
    """No passphrase could be obtained (no file, no variable, no terminal)."""


def read_secret_file(path: Path) -> str:
    """A passphrase or key from a file: its first line, without the line ending."""
    try:
        with Path(path).open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise PassphraseUnavailable(f"cannot read {path}: {exc.strerror}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise PassphraseUnavailable(f"{path} is too large to hold a passphrase")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PassphraseUnavailable(f"{path} is not UTF-8 text") from exc
    # Only the line ending goes: spaces may be part of a passphrase.
    return text.split("\n", 1)[0].removesuffix("\r")


def get_passphrase(
    passphrase_file: Path | None, *, prompt: str = "Passphrase: ", confirm: bool = False
) -> str:
    """From --passphrase-file, else CAIRN_PASSPHRASE, else an interactive prompt."""
    if passphrase_file is not None:
        return read_secret_file(passphrase_file)
    if ENVIRONMENT_VARIABLE in os.environ:
        # Taken out so that programs this process starts do not inherit it.
        return os.environ.pop(ENVIRONMENT_VARIABLE)
    if not sys.stdin.isatty():
        raise PassphraseUnavailable(
            f"no passphrase: use --passphrase-file FILE or set {ENVIRONMENT_VARIABLE}"
        )
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("Repeat the passphrase: ") != first:
        raise PassphraseUnavailable("the two passphrases do not match")
    return first


def strength(passphrase: str) -> tuple[int, str]:
    """A rough strength score 0 (empty) to 4 (strong), with a hint for the person.

    It estimates guessing entropy from length and character variety, and counts
    words for passphrases made of several words (the kind we recommend).
    """
    import math

    if not passphrase:
        return 0, "Choose a passphrase: several words you will remember are best."
    pool = 0
    if any(c.islower() for c in passphrase):
        pool += 26
    if any(c.isupper() for c in passphrase):
        pool += 26
    if any(c.isdigit() for c in passphrase):
        pool += 10
    if any(not c.isalnum() for c in passphrase):
        pool += 33
    bits = len(passphrase) * math.log2(max(pool, 2))
    words = passphrase.split()
    if all(word.isalpha() for word in words):
        # Ordinary words are guessed from a dictionary, not letter by letter:
        # count about 11 bits a word (a 2,000-word vocabulary), conservatively.
        bits = min(bits, len(words) * 11.0 + (4.0 if pool > 26 else 0.0))
    distinct = len(set(passphrase.casefold()))
    if distinct <= 3:
        bits = min(bits, 10.0)
    if bits < 40:
        return 1, "Weak: add more words. A short sentence only you would think of is good."
    if bits < 60:
        return 2, "Fair: one or two more words would make it much harder to guess."
    if bits < 80:
        return 3, "Good."
    return 4, "Strong."
