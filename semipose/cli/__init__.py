"""The ``semipose`` command line.

``demo``; ``lift train|evaluate|predict|import-vp3d``; ``ensemble train|evaluate|predict``; ``pose2d
train|ssl|evaluate|predict``; ``render`` (MP4/GIF/HTML of a lifted sequence); ``export`` (ONNX,
TorchScript); ``study <name>`` (the names of ``studies.STUDIES``); ``data synth3d|synthpose|clip``. ``semipose --debug ...`` (or ``SEMIPOSE_DEBUG=1``) shows tracebacks; bad input
exits 2 with one line naming the file and field, other errors 1, Ctrl-C 130.

Configs are YAML files (or the name of one shipped in ``semipose/configs``) and dotted overrides:
``semipose lift train -c humaneva train.epochs=5 data.root=/data/humaneva``.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..config import ConfigError
from ..data.errors import DataError
from ..pool import RunsFailed
from . import lift, pose2d, tools


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="semipose", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--debug", action="store_true", help="show the traceback of an error (also SEMIPOSE_DEBUG=1)")
    sub = p.add_subparsers(dest="command", required=True)

    for part in (lift, pose2d, tools):
        part.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Overrides may come before or after options (argparse leaves the later ones over).
    args, extra = parser.parse_known_args(argv)
    bad = [x for x in extra if "=" not in x or x.startswith("-")]
    if bad or (extra and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(bad or extra)}")
    if extra:
        args.overrides = list(args.overrides) + extra
    debug = args.debug or os.environ.get("SEMIPOSE_DEBUG", "") not in ("", "0")
    try:
        return args.func(args)
    except (ConfigError, DataError, FileNotFoundError, NotADirectoryError, IsADirectoryError, ValueError) as e:
        if debug:
            raise
        print(f"semipose: error: {e}", file=sys.stderr)  # bad input: one line naming file, field, expectation
        return 2
    except RunsFailed as e:
        if debug:
            raise
        print(f"semipose: error: {e}", file=sys.stderr)
        return 1
    except PermissionError as e:
        if debug:
            raise
        print(f"semipose: error: {e.filename or ''}: permission denied ({e.strerror})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("semipose: interrupted; --resume continues a training run from its last checkpoint", file=sys.stderr)
        return 130
    except Exception as e:
        if debug:
            raise
        print(
            f"semipose: internal error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
            f"(run again with --debug for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 1
