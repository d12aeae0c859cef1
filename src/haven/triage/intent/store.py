"""Saved models: ``<directory>/<kind>-<version>/`` with ``model.joblib`` and ``manifest.json``.

Unpickling runs code, so a model file is loaded only when its SHA-256 matches the manifest's. That
catches a swapped or corrupted file; it is no signature (whoever can rewrite both files can still
plant code), so the model directory must be writable by the service account only.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import joblib

from haven.triage.intent.data import file_sha256
from haven.triage.intent.errors import ModelNotFound, ModelStoreError
from haven.triage.intent.model import IntentModel, ModelKind

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
_VERSION = r"\d{8}T\d{6}-[0-9a-f]{6}"


def save_model(model: IntentModel, directory: Path) -> Path:
    """Write ``model`` under ``directory`` and return its folder; an existing version is never replaced.

    The folder is written under a temporary name and renamed, so a reader never sees half a model.
    """
    target = directory / model.name
    if target.exists():
        raise ModelStoreError(f"{target} already exists")
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{model.name}-", dir=directory))
    try:
        joblib.dump(model, staging / MODEL_FILE)
        manifest = {
            **dataclasses.asdict(model.info),
            "model_file": MODEL_FILE,
            "model_sha256": file_sha256(staging / MODEL_FILE),
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def latest_version(directory: Path, kind: ModelKind) -> str | None:
    """The newest saved version of ``kind`` (versions start with their UTC time), or None."""
    pattern = re.compile(rf"{re.escape(kind)}-({_VERSION})")
    if not directory.is_dir():
        return None
    versions = [
        match.group(1)
        for folder in directory.iterdir()
        if (match := pattern.fullmatch(folder.name)) and (folder / MANIFEST_FILE).is_file()
    ]
    return max(versions, default=None)


def read_manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelStoreError(f"{folder / MANIFEST_FILE}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("model_sha256"), str):
        raise ModelStoreError(f"{folder / MANIFEST_FILE}: not a model manifest")
    return manifest


def load_model(directory: Path, kind: ModelKind, version: str | None = None) -> IntentModel:
    """Load a saved model (the newest of ``kind`` unless ``version`` is given), checking its file first.

    Raises :class:`~.errors.ModelNotFound` when there is none, and :class:`~.errors.ModelStoreError`
    when the manifest is unreadable or the model file does not match it.
    """
    version = version or latest_version(directory, kind)
    if version is None:
        raise ModelNotFound(
            f"no saved {kind} intent model in {directory}; train one with: haven triage train --model {kind}"
        )
    folder = directory / f"{kind}-{version}"
    manifest = read_manifest(folder)
    if manifest.get("kind") != kind or manifest.get("version") != version:
        raise ModelStoreError(f"{folder}: the manifest describes another model")
    path = folder / MODEL_FILE
    try:
        digest = file_sha256(path)
    except OSError as exc:
        raise ModelStoreError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if not hmac.compare_digest(digest, manifest["model_sha256"]):
        raise ModelStoreError(
            f"{path}: its SHA-256 does not match the manifest; refusing to load it"
            " (a changed model file could run arbitrary code)"
        )
    model = joblib.load(path)
    if not isinstance(model, IntentModel) or model.name != folder.name:
        raise ModelStoreError(f"{path}: not the intent model its manifest describes")
    return model
