"""Every command has help; the error boundary gives messages, not tracebacks."""
from __future__ import annotations

import click

from forensic.cli.main import cli


def _walk(group: click.Group, prefix=()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from _walk(cmd, prefix + (name,))


def test_every_command_has_help(forensic):
    commands = list(_walk(cli))
    assert len(commands) >= 8
    for path, cmd in commands:
        assert (cmd.help or cmd.short_help), f"forensic {' '.join(path)} has no help text"
        res = forensic(*path, "--help")
        assert "Usage:" in res.out


def test_version_and_usage_errors(forensic):
    assert "forensic" in forensic("--version").out
    res = forensic("triage", "--workers", "0", expect=2)
    assert "Traceback" not in res.err


def test_unknown_hash_algorithm_is_a_usage_error(forensic, tmp_path):
    forensic("case", "init", tmp_path / "c", "--case-id", "C", "--examiner", "E")
    res = forensic("triage", "--case", tmp_path / "c", "--hash", "crc32", expect=2)
    assert "unknown hash algorithm" in res.err


def test_case_init_twice_refused(forensic, tmp_path):
    forensic("case", "init", tmp_path / "c", "--case-id", "C", "--examiner", "E")
    res = forensic("case", "init", tmp_path / "c", "--case-id", "C", "--examiner", "E", expect=1)
    assert "already exists" in res.err


def test_lazy_command_map_matches_the_modules():
    import importlib
    from forensic.cli.main import COMMANDS
    for module in set(COMMANDS.values()):
        for command in importlib.import_module(module).COMMANDS:
            assert COMMANDS.get(command.name) == module, f"{command.name} of {module} missing from COMMANDS"
