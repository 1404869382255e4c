"""The error raised for bad input data: always names the file, the place in it and what was expected."""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class DataError(ValueError):
    """Input data is missing, malformed or inconsistent."""


def guard_reader(what: str) -> Callable[[F], F]:
    """Decorate a reader whose first argument is the file: whatever a malformed file makes it trip
    over (a list where a dict belongs, a string where a number does, text that is not UTF-8) becomes
    a DataError naming the file, never another exception. Specific checks inside the reader give
    the better messages; this is the net under them."""
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def reader(path: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(path, *args, **kwargs)
            except DataError:
                raise
            except UnicodeDecodeError as e:
                raise DataError(f"{path}: not a {what} (not UTF-8 text at byte {e.start})") from None
            except (TypeError, KeyError, AttributeError, IndexError, ValueError, OverflowError, RecursionError,
                    ZeroDivisionError) as e:
                raise DataError(f"{path}: a malformed {what} ({type(e).__name__}: {str(e)[:120]})") from None
        return reader  # type: ignore[return-value]
    return wrap


def open_image(path: str | Path, mode: str = "RGB") -> Any:
    """A PIL image, loaded, or a DataError naming the file when it is missing or not a readable image."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: image file not found")
    try:
        with Image.open(path) as im:
            return im.convert(mode)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise DataError(f"{path}: not a readable image ({type(e).__name__}: {str(e)[:120]})") from None


def read_json(path: str | Path, what: str = "file") -> Any:
    """Parse a JSON file, or raise a DataError naming it: '<path>: <what> not found' or 'not valid JSON'."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {what} not found")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not valid JSON (not UTF-8 text at byte {e.start})") from None
    except (json.JSONDecodeError, RecursionError) as e:
        raise DataError(f"{path}: not valid JSON ({str(e)[:120]})") from None
