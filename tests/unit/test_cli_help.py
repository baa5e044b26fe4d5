"""Every flag of every command says what it does in ``inferstack X --help``."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from inferstack.cli import build_parser


def parsers(
    parser: argparse.ArgumentParser, name: str = "inferstack"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from parsers(sub, f"{name} {sub_name}")


def test_every_flag_of_every_command_has_help() -> None:
    walked = dict(parsers(build_parser()))
    assert {"inferstack preview", "inferstack fit", "inferstack models lock"} <= set(walked)
    missing = [
        f"{name} {'/'.join(action.option_strings) or action.dest}"
        for name, parser in walked.items()
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction)
        and action.help in (None, "")
        and action.help is not argparse.SUPPRESS
    ]
    assert missing == []


def test_every_command_has_a_summary() -> None:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            assert all(choice.help for choice in action._choices_actions)
