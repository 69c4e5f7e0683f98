"""Figures of the library's code that issues track (issue 29): its lines, and its records
addressed by strings.

A *string-key lookup* is a subscript by a string literal read (``record["accuracy"]``, not an
assignment ``row["accuracy"] = ...``) or a ``.get("key")`` call: how code reaches into JSON
objects instead of typed fields. Found by Python's own parser (``ast``), so strings and
comments that look like lookups are not counted.

    python scripts/code_metrics.py              # this checkout's catsdogs/
    python scripts/code_metrics.py --top 15     # and the files with the most lookups
    python scripts/code_metrics.py --at <commit>  # the package as of a commit (git archive)
"""

from __future__ import annotations

import argparse
import ast
import collections
import io
import subprocess
import sys
import tarfile
from collections.abc import Iterable


def _is_string(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def string_key_lookups(source: str) -> int:
    """Subscripts by a string literal that are read, plus ``.get("…")`` calls, in ``source``."""
    count = 0
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_string(node.slice):
            count += 1
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and _is_string(node.args[0])
        ):
            count += 1
    return count


def package_sources(commit: str | None) -> Iterable[tuple[str, str]]:
    """``(path, source)`` of every ``catsdogs/**/*.py``, in the working tree or at ``commit``."""
    if commit is None:
        from pathlib import Path

        root = Path(__file__).resolve().parent.parent
        for path in sorted((root / "catsdogs").rglob("*.py")):
            yield path.relative_to(root).as_posix(), path.read_text()
        return
    archive = subprocess.run(["git", "archive", commit, "catsdogs"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if member.isfile() and member.name.endswith(".py"):
                yield member.name, tar.extractfile(member).read().decode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--at", metavar="COMMIT", help="measure the package as of this commit")
    parser.add_argument("--top", type=int, default=0, metavar="N", help="list the N files with the most lookups")
    args = parser.parse_args(argv)
    lines, by_file = 0, collections.Counter()
    for path, source in package_sources(args.at):
        lines += source.count("\n")
        by_file[path] = string_key_lookups(source)
    print(f"library lines: {lines:,} in {len(by_file)} files")
    print(f"string-key lookups: {sum(by_file.values()):,}")
    for path, n in by_file.most_common(args.top):
        print(f"  {n:4d}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
