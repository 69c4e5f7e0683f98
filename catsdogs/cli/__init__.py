"""Stage 7, the command line: ``python -m catsdogs`` (:mod:`.main`: the parser and a quiet
start) and what each subcommand does (:mod:`.commands`)."""

from catsdogs.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
