"""``haven pii``: the private-data detector on the command line.

``detect`` reads one text per line on standard input and writes one compact JSON object per line,
``{"spans":[{"type":"CREDIT_CARD","start":0,"end":16}]}``, offsets counted in characters of the line
without its line break. A line it cannot read (not UTF-8, or longer than :data:`MAX_LINE_CHARS`)
gets ``{"spans":[],"error":"…"}`` and the next line is read as usual, so one bad line never stops a
batch nor shifts the answers out of step with the questions. An over-long line is read in pieces and
never held whole.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, BinaryIO

import phonenumbers
import typer

from haven.triage.pii.detect import find_private_data
from haven.triage.pii.evaluate import evaluate_file, format_report

#: The longest line ``detect`` looks at: a tweet is at most 280 characters, a long post 25,000.
MAX_LINE_CHARS = 100_000
#: UTF-8 takes at most four bytes a character.
_MAX_LINE_BYTES = 4 * MAX_LINE_CHARS
_CHUNK = 65_536

pii_app = typer.Typer(
    help="Find private data (card numbers, IBANs, bank accounts, SSNs, phone numbers, e-mail addresses).",
    no_args_is_help=True,
)


def _check_region(region: str) -> str:
    if region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise typer.BadParameter(f"{region!r} is no region phonenumbers knows; use e.g. GB or US")
    return region.upper()


Region = Annotated[
    str,
    typer.Option(
        callback=_check_region,
        help="Where phone numbers without a country code are assumed to be (ISO 3166 alpha-2).",
    ),
]


def _lines(stream: BinaryIO) -> Iterator[bytes | None]:
    """Each line's bytes without its line break, or ``None`` for a line over the limit."""
    while line := stream.readline(_MAX_LINE_BYTES + 1):
        if len(line) > _MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := stream.readline(_CHUNK)) and not rest.endswith(b"\n"):
                pass
            yield None
        else:
            yield line.removesuffix(b"\n").removesuffix(b"\r")


def _answer(line: bytes | None, region: str) -> dict[str, object]:
    if line is None:
        return {"spans": [], "error": f"line longer than {MAX_LINE_CHARS} characters"}
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return {"spans": [], "error": "line is not valid UTF-8"}
    if len(text) > MAX_LINE_CHARS:
        return {"spans": [], "error": f"line longer than {MAX_LINE_CHARS} characters"}
    spans = find_private_data(text, region=region)
    return {"spans": [{"type": span.type.value, "start": span.start, "end": span.end} for span in spans]}


@pii_app.command()
def detect(region: Region = "GB") -> None:
    """Read one text per line on stdin; write one JSON object of the private data found per line."""
    for line in _lines(sys.stdin.buffer):
        sys.stdout.write(json.dumps(_answer(line, region), separators=(",", ":")) + "\n")
        sys.stdout.flush()


@pii_app.command()
def evaluate(
    data: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="Labelled JSON Lines file.")],
    region: Region = "GB",
    count_invalid: Annotated[
        bool, typer.Option(help="Score labels marked invalid as they stand instead of setting them aside.")
    ] = False,
) -> None:
    """Precision and recall per type on a labelled file; the last line has the overall figures."""
    try:
        report = evaluate_file(data, region=region, count_invalid=count_invalid)
    except (ValueError, UnicodeDecodeError) as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error
    for line in format_report(report):
        typer.echo(line)
