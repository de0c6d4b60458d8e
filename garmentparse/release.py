"""Release models: trained weights that install as Python packages and are used by name.

A weights package (the repo's ``models/garmentparse-models``, or anyone's) declares an entry
point in the group ``garmentparse.models`` that names one of its modules; next to that module
sits ``manifest.json``::

    {"format": 1, "models": [{"name": "...", "task": "detector", "file": "x.pt", "sha256": "...",
                              "default": true, "backbone": "...", "classes": {...}, ...}, ...]}

Every ``--detector`` / ``--classifier`` / ``--model`` / ``--base`` option and ``model.init`` go
through :func:`resolve_model`, which takes a path or a name. A named file is found through the
installed package's resources (never a path into a source tree) and its sha256 is checked
against the manifest before anything reads it.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from garmentparse.hashing import file_sha256

ENTRY_POINT_GROUP = "garmentparse.models"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
MODELS_DIR_ENV = "GARMENTPARSE_MODELS_DIR"
TASKS = ("detector", "classifier", "embedder")
WEIGHTS_PACKAGE = "garmentparse-models"  # the distribution in the repo's models/ folder
log = logging.getLogger(__name__)


class UnknownModelError(ValueError):
    """A model name that no installed weights package has; the message lists the names."""


class WeightsHashError(ValueError):
    """A weights file whose bytes differ from its manifest's sha256."""


@dataclass(frozen=True)
class ReleaseModel:
    """One entry of a weights package's manifest, and where its file is."""

    name: str
    task: str  # detector | classifier | embedder
    path: Path  # the installed file
    sha256: str
    package: str  # the distribution that ships it
    default: bool = False  # the model `tag` / `embed` use when none is named
    card: dict[str, Any] = field(default_factory=dict)  # backbone, classes, data, licence, metrics, recipe...

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size if self.path.is_file() else 0

    def summary(self) -> dict[str, Any]:
        """What ``models list --json`` prints for this model."""
        return {"name": self.name, "task": self.task, "default": self.default, "package": self.package,
                "file": str(self.path), "size_bytes": self.size_bytes, "sha256": self.sha256, **self.card}


def read_manifest(folder: Path, package: str = "?") -> list[ReleaseModel]:
    """The models a weights folder's ``manifest.json`` lists (files relative to the folder).
    ValueError naming the manifest for a manifest that cannot be used."""
    manifest = folder / MANIFEST
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{manifest}: cannot read the weights manifest ({exc})") from None
    version = data.get("format", 1) if isinstance(data, dict) else None
    if not isinstance(version, int) or version > MANIFEST_FORMAT:
        raise ValueError(f"{manifest}: manifest format {version} is newer than this garmentparse reads "
                         f"({MANIFEST_FORMAT}); upgrade garmentparse")
    models = []
    for entry in data.get("models", []):
        try:
            name, task, file, sha = entry["name"], entry["task"], entry["file"], entry["sha256"]
        except (KeyError, TypeError):
            raise ValueError(f"{manifest}: every model needs name, task, file and sha256: {entry!r}") from None
        if task not in TASKS:
            raise ValueError(f"{manifest}: model {name!r} has task {task!r}; tasks: {', '.join(TASKS)}")
        card = {k: v for k, v in entry.items() if k not in ("name", "task", "file", "sha256", "default")}
        models.append(ReleaseModel(name, task, folder / file, sha, package, bool(entry.get("default")), card))
    return models


def _installed_folders() -> list[tuple[str, Path]]:
    """(distribution, folder of its manifest) for every installed weights package."""
    folders = []
    extra = os.environ.get(MODELS_DIR_ENV)  # your own manifest folder (e.g. on a cluster share), searched first
    if extra:
        folders.append((extra, Path(extra)))
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            folder = Path(str(resources.files(ep.value)))
        except (ImportError, TypeError):
            continue  # a broken weights package must not break the others
        dist = ep.dist.name if ep.dist is not None else ep.value
        folders.append((dist, folder))
    return folders


@cache
def _catalogue(env: str | None) -> dict[str, ReleaseModel]:
    """Name -> model over the weights folders (``env``: the value of $GARMENTPARSE_MODELS_DIR)."""
    models: dict[str, ReleaseModel] = {}
    for package, folder in _installed_folders():
        try:
            found = read_manifest(folder, package)
        except ValueError as exc:  # one broken weights package must not hide the others
            log.warning("ignoring weights package %s: %s", package, exc)
            continue
        for model in found:
            models.setdefault(model.name, model)  # the first package that names a model wins
    return models


def catalogue() -> dict[str, ReleaseModel]:
    """Every installed release model by name (found once per $GARMENTPARSE_MODELS_DIR value)."""
    return _catalogue(os.environ.get(MODELS_DIR_ENV))


def release_models(task: str | None = None) -> list[ReleaseModel]:
    """Installed release models (of one ``task``), in manifest order."""
    return [m for m in catalogue().values() if task is None or m.task == task]


def model_names(task: str | None = None) -> list[str]:
    return [m.name for m in release_models(task)]


def _no_such_model(name: str, task: str | None) -> UnknownModelError:
    names = model_names(task) or model_names()
    there = ", ".join(names) if names else f"none installed (pip install {WEIGHTS_PACKAGE}: `make setup` does it)"
    return UnknownModelError(f"unknown model {name!r}; release models: {there} (`garmentparse models list`)")


def get_model(name: str, task: str | None = None) -> ReleaseModel:
    """The release model called ``name``; :class:`UnknownModelError` lists the names there are,
    ValueError when it is a model of another task."""
    model = catalogue().get(name)
    if model is None:
        raise _no_such_model(name, task)
    if task is not None and model.task != task:
        raise ValueError(f"{name} is a {model.task} model, not a {task}; {task} models: "
                         f"{', '.join(model_names(task)) or 'none installed'}")
    return model


def default_model(task: str) -> ReleaseModel:
    """The release model a command uses for ``task`` when none is named."""
    candidates = release_models(task)
    for model in candidates:
        if model.default:
            return model
    if candidates:
        return candidates[0]
    raise UnknownModelError(f"no release {task} model is installed (pip install {WEIGHTS_PACKAGE}: "
                            f"`make setup` does it); pass a checkpoint path instead")


@cache
def _verified(path: Path, size: int, mtime_ns: int, expected: str) -> bool:
    return file_sha256(path) == expected


def verify(model: ReleaseModel) -> Path:
    """The model's file after checking its sha256 (once per process per unchanged file)."""
    path = model.path
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the weights file of release model {model.name} is missing "
                                f"(reinstall {model.package})")
    stat = path.stat()
    if not _verified(path, stat.st_size, stat.st_mtime_ns, model.sha256):
        raise WeightsHashError(f"{path}: sha256 {file_sha256(path)} differs from the manifest's {model.sha256} "
                               f"for release model {model.name}; the file is damaged or was replaced "
                               f"(reinstall {model.package})")
    return path


def looks_like_name(ref: str) -> bool:
    """A bare word (no folder, no file suffix: ``ccp-lite0-detector``) is taken for a model name."""
    return bool(ref) and "/" not in ref and os.sep not in ref and "." not in ref


def resolve_model(ref: str | Path, task: str | None = None, what: str = "checkpoint") -> Path:
    """The checkpoint file ``ref`` means: an existing file as it is, else a release model's
    verified file. A bare word that is no release name raises :class:`UnknownModelError`
    listing the names; anything else that does not exist, FileNotFoundError ``"{what} not found"``."""
    path = Path(ref).expanduser()
    if path.is_file():
        return path
    text = str(ref)
    if text in catalogue() or looks_like_name(text):
        return verify(get_model(text, task))
    raise FileNotFoundError(f"{what} not found: {path}")


def identify(ref: str | Path, task: str | None = None) -> tuple[Path, str]:
    """``ref``'s file and sha256: a release model's from its verified manifest (no second
    hashing), any other file's from its bytes."""
    path = resolve_model(ref, task)
    named = model_label(ref)
    return path, catalogue()[named].sha256 if named else file_sha256(path)


def model_or_default(ref: str | Path | None, task: str) -> str | Path:
    """``ref``, or the default release model's name for ``task`` when ``ref`` is None."""
    return default_model(task).name if ref is None else ref


def model_label(ref: str | Path) -> str | None:
    """The release name of ``ref`` when it is one (for run records), else None."""
    text = str(ref)
    return text if text in catalogue() and not Path(text).is_file() else None


def reset_catalogue() -> None:
    """Forget what was found (tests that install or change weights packages)."""
    _catalogue.cache_clear()
    _verified.cache_clear()


__all__ = ["ENTRY_POINT_GROUP", "MANIFEST", "TASKS", "WEIGHTS_PACKAGE", "ReleaseModel", "UnknownModelError",
           "WeightsHashError", "catalogue", "default_model", "get_model", "identify", "looks_like_name", "model_label", "model_names",
           "model_or_default", "read_manifest", "release_models", "reset_catalogue", "resolve_model", "verify"]
