"""What the CLI's command groups share: ``inferstack GROUP ACTION``, one parser per action.

The groups (``models``, ``packs``, ``redteam``) live beside the code they drive and register
themselves with the CLI; each has one action today, and its action is required.
"""

from __future__ import annotations

import argparse
from typing import Any


def group_action(
    commands: Any, group: str, group_help: str, action: str, *, summary: str, description: str
) -> argparse.ArgumentParser:
    """The parser of ``inferstack GROUP ACTION``, its group added to ``commands`` (the CLI's
    ``argparse._SubParsersAction``) with the action required."""
    parser = commands.add_parser(group, help=group_help)
    actions = parser.add_subparsers(dest=f"{group}_command", required=True, metavar="ACTION")
    result: argparse.ArgumentParser = actions.add_parser(
        action, help=summary, description=description
    )
    return result
