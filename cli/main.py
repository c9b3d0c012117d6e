"""The ``forensic`` command: one Click group and the single error boundary."""
from __future__ import annotations

import importlib
import os
import sys
import traceback

import click

from cli import exit_codes
from cli.console import err, esc, set_quiet
from forensic import __version__
from forensic.errors import ForensicError

# Every command module; each exposes COMMANDS, a list of click commands/groups.
COMMAND_MODULES = [
    "cli.commands.case",
    "cli.commands.evidence",
    "cli.commands.triage",
    "cli.commands.files",
    "cli.commands.custody",
    "cli.commands.extractors",
    "cli.commands.photos",
    "cli.commands.chats",
    "cli.commands.export",
    "cli.commands.training",
    "cli.commands.sample",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="forensic")
@click.option("--quiet", is_flag=True, help="No progress or messages on stderr.")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, debug: bool) -> None:
    """Digital-forensics evidence triage: intake, hashing, extraction, chain of custody, export."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    set_quiet(quiet or not err.is_terminal and os.environ.get("FORENSIC_PROGRESS") != "1")


def _register() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:      # command module not written yet
                continue
            raise
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> int:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        rv = cli.main(args=argv, prog_name="forensic", standalone_mode=False)
        return rv if isinstance(rv, int) else exit_codes.OK
    except click.exceptions.Abort:
        err.print("[red]aborted[/red]")
        return exit_codes.ERROR
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:
        # click ends a command whose reader closed the pipe (`forensic files | head`) this way;
        # the reader having had enough is not an error of ours.
        if isinstance(sys.stdout, click.utils.PacifyFlushWrapper):
            return exit_codes.OK
        raise
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except ForensicError as exc:
        if debug:
            err.print(esc(traceback.format_exc()))
        err.print(f"[red]error:[/red] {esc(exc.message)}")
        if exc.hint:
            err.print(f"[dim]hint:[/dim] {esc(exc.hint)}")
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("[red]interrupted[/red]: the case store keeps only completed batches; rerun to finish")
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return exit_codes.OK


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
