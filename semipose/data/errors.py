"""The error raised for bad input data: always names the file, the place in it and what was expected."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class DataError(ValueError):
    """Input data is missing, malformed or inconsistent."""


def read_json(path: str | Path, what: str = "file") -> Any:
    """Parse a JSON file, or raise a DataError naming it: '<path>: <what> not found' or 'not valid JSON'."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {what} not found")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON ({e})") from None
