"""Reading labelled CSVs (``text,category``) safely, and the fixed held-out part of the training data.

The held-out part is chosen per category by a salted SHA-256 of each text, not by a random
generator: it is the same on every machine and library version, and does not move when rows are
reordered or other categories change.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from haven.triage.intent.errors import IntentDataError
from haven.triage.intents import INTENTS

#: The category of posts that are no banking request.
OUT_OF_SCOPE = "out_of_scope"
KNOWN_CATEGORIES = frozenset((*INTENTS, OUT_OF_SCOPE))

#: ``data/`` at the repository root. Found from this file, so it exists in a source checkout and an
#: editable install; an installed wheel has no data and the caller passes paths instead.
DATA_DIR = Path(__file__).resolve().parents[4] / "data"
DEFAULT_TRAIN_CSV = DATA_DIR / "banking77" / "train.csv"
DEFAULT_OUT_OF_SCOPE_CSV = DATA_DIR / "out_of_scope.csv"

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_TEXT_CHARS = 5000
HELD_OUT_FRACTION = 0.2
HELD_OUT_SALT = "haven-intent-held-out-v1"
_REQUIRED = ("text", "category")


@dataclass(frozen=True)
class Examples:
    """Labelled posts, in file order."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int]) -> Examples:
        return Examples(tuple(self.texts[i] for i in indices), tuple(self.labels[i] for i in indices))

    def __add__(self, other: Examples) -> Examples:
        return Examples(self.texts + other.texts, self.labels + other.labels)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IntentDataError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if size > MAX_FILE_BYTES:
        raise IntentDataError(f"{path}: {size:,} bytes; the limit is {MAX_FILE_BYTES:,}")
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IntentDataError(f"{path}: not UTF-8 (bad byte at offset {exc.start})") from None
    except OSError as exc:
        raise IntentDataError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def load_examples(path: Path) -> Examples:
    """Read a ``text,category`` CSV, refusing anything that is not clean labelled data.

    Refused: a missing file, more than 50 MB, not UTF-8, no ``text``/``category`` columns, no rows,
    an empty text, a text over 5,000 characters, and categories that are neither one of the 77
    intents nor ``out_of_scope`` (listed with their first row, since a typo there would otherwise
    count as a wrong answer).
    """
    reader = csv.DictReader(io.StringIO(_read_text(path), newline=""))
    texts: list[str] = []
    labels: list[str] = []
    unknown: dict[str, int] = {}
    try:
        columns = [name.strip() for name in reader.fieldnames or ()]
        missing = [name for name in _REQUIRED if name not in columns]
        if missing:
            raise IntentDataError(
                f"{path}: needs the columns text,category; missing {', '.join(missing)}"
                f" (found: {', '.join(columns) or 'nothing'})"
            )
        reader.fieldnames = columns
        for row in reader:
            line = reader.line_num
            text, label = row.get("text"), row.get("category")
            if text is None or label is None:
                raise IntentDataError(f"{path}, line {line}: the row has too few fields")
            label = label.strip()
            if not text.strip():
                raise IntentDataError(f"{path}, line {line}: empty text")
            if len(text) > MAX_TEXT_CHARS:
                raise IntentDataError(
                    f"{path}, line {line}: the text has {len(text):,} characters;"
                    f" the limit is {MAX_TEXT_CHARS:,}"
                )
            if label not in KNOWN_CATEGORIES:
                unknown.setdefault(label, line)
            texts.append(text)
            labels.append(label)
    except csv.Error as exc:
        raise IntentDataError(f"{path}, line {reader.line_num}: not valid CSV ({exc})") from None
    if unknown:
        listed = ", ".join(f"{label!r} (line {line})" for label, line in list(unknown.items())[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise IntentDataError(
            f"{path}: {len(unknown)} unknown categor{'y' if len(unknown) == 1 else 'ies'}: {listed}{more};"
            f" use one of the 77 BANKING77 intents or {OUT_OF_SCOPE!r}"
        )
    if not texts:
        raise IntentDataError(f"{path}: no rows")
    return Examples(tuple(texts), tuple(labels))


def held_out_split(texts: Sequence[str], labels: Sequence[str]) -> tuple[list[int], list[int]]:
    """Row indices of the training part and of the held-out part (20 % of each category).

    Within each category the rows with the smallest SHA-256 of salt + text are held out; a category
    keeps at least one training row.
    """
    by_label: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        by_label[label].append(index)
    held: list[int] = []
    for indices in by_label.values():
        ranked = sorted(
            indices,
            key=lambda i: (hashlib.sha256(f"{HELD_OUT_SALT}\n{texts[i]}".encode()).digest(), i),
        )
        held.extend(ranked[: min(round(len(indices) * HELD_OUT_FRACTION), len(indices) - 1)])
    held_set = set(held)
    return [i for i in range(len(labels)) if i not in held_set], sorted(held)


def split_examples(examples: Examples) -> tuple[Examples, Examples]:
    """The training part and the held-out part of ``examples``."""
    train, held = held_out_split(examples.texts, examples.labels)
    return examples.subset(train), examples.subset(held)


def held_out_examples(
    data_csv: Path = DEFAULT_TRAIN_CSV, *, out_of_scope_csv: Path | None = None
) -> tuple[list[str], list[str]]:
    """Texts and categories of the held-out part: what no model trained by default has seen.

    With ``out_of_scope_csv`` the held-out part of that file follows (category ``out_of_scope``).
    """
    examples = split_examples(load_examples(data_csv))[1]
    if out_of_scope_csv is not None:
        examples = examples + split_examples(load_examples(out_of_scope_csv))[1]
    return list(examples.texts), list(examples.labels)
