"""One YAML config loader for every stage (detection and classification).

- A file may name ``_base_`` (a path relative to itself, or a list of them); the file's keys are
  deep-merged over its bases, so variants hold only their changes.
- ``--set a.b=v`` overrides are parsed as YAML scalars/lists (``0.01``, ``true``, ``[1, 2]``).
- The merged dict is validated into a (nested) dataclass schema: an unknown or mistyped key is
  a :class:`ConfigError` that names the key and the file it came from.
- A schema may list keys it renamed in a ``RENAMED`` class attribute (``{"old.key": "new.key"}``
  or ``{"old.key": ("new.key", convert)}``): in a YAML file or ``--set`` an old key is an error
  naming the new one; in a saved dict (a checkpoint's config) it is migrated silently.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from pathlib import Path
from collections.abc import Callable
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

T = TypeVar("T")
BASE_KEY = "_base_"
Renamed = dict[str, Union[str, tuple[str, Callable[[Any], Any]]]]  # old dotted key -> new (, convert)


class ConfigError(ValueError):
    """A config problem; the message names the key and the file."""


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data


def _merge(base: dict, over: dict, sources: dict, over_src: str, prefix: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, sources, over_src, dotted + ".")
        else:
            out[key] = copy.deepcopy(value)
            _mark_sources(value, dotted, sources, over_src)
    return out


def _mark_sources(value: Any, dotted: str, sources: dict, src: str) -> None:
    sources[dotted] = src
    if isinstance(value, dict):
        for k, v in value.items():
            _mark_sources(v, f"{dotted}.{k}", sources, src)


def load_yaml_tree(path: str | Path, sources: dict[str, str] | None = None,
                   _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read ``path`` with its ``_base_`` chain merged; ``sources`` maps dotted key -> file."""
    path = Path(path).resolve()
    if path in _seen:
        raise ConfigError(f"{path}: _base_ cycle: {' -> '.join(map(str, _seen + (path,)))}")
    sources = {} if sources is None else sources
    data = _read_yaml(path)
    bases = data.pop(BASE_KEY, [])
    merged: dict[str, Any] = {}
    for base in [bases] if isinstance(bases, str) else bases:
        merged = _merge(merged, load_yaml_tree(path.parent / base, sources, _seen + (path,)),
                        sources, str(path))
    return _merge(merged, data, sources, str(path))


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"solver.lr=0.01"`` -> (["solver", "lr"], 0.01)."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like key.sub=value")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {item!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict, overrides: list[str], sources: dict[str, str]) -> dict:
    data = copy.deepcopy(data)
    for item in overrides:
        keys, value = parse_override(item)
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item}: {k!r} is not a section")
        node[keys[-1]] = value
        _mark_sources(value, ".".join(keys), sources, "--set")
    return data


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str, sources: dict[str, str]) -> Any:
    where = sources.get(key, "defaults")
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key, sources)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{where}: key {key!r}: {value!r} is not {_type_name(tp)}")
    if origin is typing.Literal:
        if value not in get_args(tp):
            raise ConfigError(f"{where}: key {key!r}: {value!r} is not one of {list(get_args(tp))}")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: key {key!r} must be a mapping, got {value!r}")
        return _build(tp, value, sources, key + ".")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: key {key!r} must be a list, got {value!r}")
        args = get_args(tp)
        item_tp = args[0] if args else Any
        items = [_coerce(v, item_tp, f"{key}[{i}]", sources) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: key {key!r} must be a mapping, got {value!r}")
        _, vt = get_args(tp) or (Any, Any)
        return {k: _coerce(v, vt, f"{key}.{k}", sources) for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: key {key!r} must be a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: key {key!r} must be an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: key {key!r} must be true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: key {key!r} must be a string, got {value!r}")
        return value
    return value


def _build(cls: type[T], data: dict, sources: dict[str, str], prefix: str = "") -> T:
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            dotted = f"{prefix}{key}"
            known = ", ".join(sorted(fields))
            raise ConfigError(
                f"{sources.get(dotted, 'config')}: unknown key {dotted!r} (known here: {known})"
            )
    kwargs = {k: _coerce(v, hints[k], f"{prefix}{k}", sources) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"config section {prefix.rstrip('.') or '<root>'}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"config section {prefix.rstrip('.') or '<root>'}: {exc}") from None


def _renamed(cls: type) -> dict[str, tuple[str, Callable[[Any], Any]]]:
    """``cls.RENAMED`` as old dotted key -> (new dotted key, value converter)."""
    return {old: (new, lambda v: v) if isinstance(new, str) else new
            for old, new in getattr(cls, "RENAMED", {}).items()}


def _parent(data: dict, dotted: str, create: bool = False) -> tuple[dict | None, str]:
    """The mapping that holds ``dotted``'s last part (``None`` when a section is missing)."""
    *sections, last = dotted.split(".")
    node: Any = data
    for key in sections:
        node = node.setdefault(key, {}) if create else node.get(key)
        if not isinstance(node, dict):
            return None, last
    return node, last


def _refuse_renamed(cls: type, data: dict, sources: dict[str, str]) -> None:
    for old, (new, _) in _renamed(cls).items():
        node, last = _parent(data, old)
        if node is not None and last in node:
            raise ConfigError(f"{sources.get(old, 'config')}: {old!r} was renamed to {new!r}")


def migrate(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` (an older saved config) with the keys ``cls`` renamed moved to their
    new place and value."""
    data = copy.deepcopy(data)
    for old, (new, convert) in _renamed(cls).items():
        node, last = _parent(data, old)
        if node is not None and last in node:
            target, new_last = _parent(data, new, create=True)
            target[new_last] = convert(node.pop(last))
    return data


def from_dict(cls: type[T], data: dict[str, Any], source: str = "config") -> T:
    """Validate a plain dict (e.g. the config saved in a checkpoint, whose renamed keys are
    migrated) into ``cls``."""
    data = migrate(cls, data)
    sources: dict[str, str] = {}
    _mark_sources(data, "", sources, source)
    sources = {k.lstrip("."): v for k, v in sources.items()}
    return _build(cls, data, sources)


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] | None = None) -> T:
    """Load ``path`` (with ``_base_`` chain) plus ``--set`` ``overrides`` into dataclass ``cls``."""
    sources: dict[str, str] = {}
    data = load_yaml_tree(path, sources) if path is not None else {}
    data = apply_overrides(data, overrides or [], sources)
    _refuse_renamed(cls, data, sources)
    return _build(cls, data, sources)


def to_dict(config: Any) -> dict[str, Any]:
    """Plain dict of a config dataclass (for saving and printing)."""
    return dataclasses.asdict(config)


def dump_yaml(config: Any) -> str:
    return yaml.safe_dump(to_dict(config), sort_keys=False, allow_unicode=True)
