"""Typed configs: dataclasses filled from YAML, with dotted overrides such as ``train.epochs=5``.

Unknown keys, values of the wrong type and values out of range are errors that name the key, the
value and what is allowed, never silently ignored. Ranges and choices are declared beside each field
with :func:`checked` and enforced here, in one place, for every config.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Check:
    """What a config field allows: bounds (``gt``/``ge``/``lt``/``le``) and/or a set of choices.
    ``None`` passes (optional fields); lists are checked item by item."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    choices: tuple | None = None

    def describe(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        low = f"> {self.gt:g}" if self.gt is not None else f">= {self.ge:g}" if self.ge is not None else ""
        high = f"< {self.lt:g}" if self.lt is not None else f"<= {self.le:g}" if self.le is not None else ""
        return " and ".join(x for x in (low, high) if x)

    def ok(self, v: Any) -> bool:
        if self.choices is not None:
            return v in self.choices
        return not (
            (self.gt is not None and not v > self.gt)
            or (self.ge is not None and not v >= self.ge)
            or (self.lt is not None and not v < self.lt)
            or (self.le is not None and not v <= self.le)
        )


def checked(
    default: Any = dataclasses.MISSING,
    *,
    default_factory: Any = dataclasses.MISSING,
    gt=None,
    ge=None,
    lt=None,
    le=None,
    choices=None,
) -> Any:
    """A dataclass field whose values the loader checks: ``channels: int = checked(1024, gt=0)``."""
    meta = {"check": Check(gt, ge, lt, le, tuple(choices) if choices is not None else None)}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


POSITIVE = {"gt": 0}
PROBABILITY = {"ge": 0, "lt": 1}  # a rate: 1 would drop or change everything
FRACTION = {"gt": 0, "le": 1}  # a share of something that must not be empty


def _check_field(obj: Any, f: dataclasses.Field, where: str) -> None:
    check = f.metadata.get("check")
    value = getattr(obj, f.name)
    if check is None or value is None:
        return
    for i, v in enumerate(value if isinstance(value, (list, tuple)) else [value]):
        if isinstance(v, float) and v != v:
            raise ConfigError(f"{where}: NaN is not allowed; expected {check.describe()}")
        if not check.ok(v):
            at = f"[{i}]" if isinstance(value, (list, tuple)) else ""
            raise ConfigError(f"{where}{at}: {v!r} is not allowed; expected {check.describe()}")


def parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    key, value = text.split("=", 1)
    try:
        return key.strip().split("."), yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        raise ConfigError(f"override {text!r}: the value is not valid YAML") from None


def apply_overrides(tree: dict, overrides: list[str]) -> dict:
    for text in overrides:
        path, value = parse_override(text)
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {text!r}: {part!r} is not a section")
        node[path[-1]] = value
    return tree


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if value is None:
            return tp()
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a section, got {value!r}")
        return from_dict(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin in (list, tuple):
        (item,) = typing.get_args(tp)[:1] or (Any,)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            value = [value]
        return [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict, where: str = "") -> T:
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(typing.cast(Any, cls))
    names = {f.name for f in fields}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"{where or 'config'}: unknown key(s) {sorted(unknown)}; known: {sorted(names)}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}" if where else k) for k, v in data.items()}
    obj = cls(**kwargs)
    for f in fields:
        _check_field(obj, f, f"{where}.{f.name}" if where else f.name)
    check = getattr(obj, "validate", None)
    if callable(check):
        check()
    return obj


def to_dict(obj: Any) -> Any:
    return dataclasses.asdict(obj)


def load_config(
    cls: type[T],
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    base: dict | None = None,
    ignore: tuple[str, ...] = (),
) -> T:
    """Defaults of ``cls``, then ``base``, then the YAML file, then the dotted overrides. ``ignore``
    names top-level sections of the file that this reader does not need (those a larger config adds)."""
    tree: dict = _deep_merge({}, base or {})
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        try:
            loaded = yaml.safe_load(path.read_bytes().decode("utf-8")) or {}
        except UnicodeDecodeError as e:
            raise ConfigError(f"{path}: not valid YAML (not UTF-8 text at byte {e.start})") from None
        except yaml.YAMLError as e:
            where = getattr(e, "problem_mark", None)
            at = f" (line {where.line + 1}, column {where.column + 1})" if where is not None else ""
            raise ConfigError(f"{path}: not valid YAML{at}: {getattr(e, 'problem', None) or e}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
        loaded = {k: v for k, v in loaded.items() if k not in ignore}
        tree = _deep_merge(tree, drop_retired(cls, loaded))
    apply_overrides(tree, overrides or [])
    try:
        return from_dict(cls, tree)
    except ConfigError as e:
        raise ConfigError(f"{path or 'config'}: {e}") from None


def drop_retired(cls: Any, tree: dict) -> dict:
    """``tree`` (a saved file's contents) without the keys that ``cls`` (and its nested sections) list
    in ``RETIRED``: keys that earlier versions wrote and that never had an effect there, so that old
    runs stay readable. Only files go through this; an override naming a retired key is unknown."""
    if not dataclasses.is_dataclass(cls) or not isinstance(tree, dict):
        return tree
    retired: frozenset[str] = getattr(cls, "RETIRED", frozenset())
    hints = typing.get_type_hints(cls)
    return {k: drop_retired(hints.get(k), v) for k, v in tree.items() if k not in retired}


def dump_yaml(obj: Any) -> str:
    return yaml.safe_dump(to_dict(obj), sort_keys=False)


def _deep_merge(a: dict, b: dict) -> dict:
    """A new tree: ``b``'s values over ``a``'s, nested sections merged; neither input is shared or changed
    (overrides applied to the result must never reach a caller's ``base``)."""
    out = {}
    for k, v in a.items():  # each node copied once: merged sections recurse, the rest are copied whole
        both = k in b and isinstance(v, dict) and isinstance(b[k], dict)
        out[k] = _deep_merge(v, b[k]) if both else copy.deepcopy(b.get(k, v))
    out.update({k: copy.deepcopy(v) for k, v in b.items() if k not in a})
    return out


def config_path(name: str | None) -> Path | None:
    """A config file path, or the name of a shipped config ('humaneva', 'demo', ...)."""
    if name is None:
        return None
    p = Path(name)
    if p.is_file():
        return p
    from importlib import resources

    shipped = resources.files("semipose") / "configs" / f"{name}.yaml"
    if shipped.is_file():
        return Path(str(shipped))
    raise ConfigError(f"{name}: no such config file, and no shipped config of that name")
