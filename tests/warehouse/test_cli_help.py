"""Every option of every `warehouse` command explains itself in `--help`."""

from __future__ import annotations

import click

from warehouse.cli import main


def commands(group: click.Group, prefix: str = "warehouse") -> dict[str, click.Command]:
    """Every command under `group`, by its full name, nested groups included."""
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        found[f"{prefix} {name}"] = command
        if isinstance(command, click.Group):
            found |= commands(command, f"{prefix} {name}")
    return found


def test_every_option_of_every_command_has_help_text() -> None:
    every = commands(main)
    without_help = [
        f"{name} {option.opts[0]}"
        for name, command in every.items()
        for option in command.params
        if isinstance(option, click.Option) and not (option.help or "").strip()
    ]
    assert without_help == []
    # The options that had none, so that the walk above is known to reach them.
    generate_options = {option.opts[0] for option in every["warehouse generate"].params}
    assert {"--seed", "--assets", "--signals", "--force"} <= generate_options
