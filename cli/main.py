"""The ``forensic`` command: one Click group and the single error boundary."""
from __future__ import annotations

import importlib
import os
import sys
import traceback

import click

from forensic.cli import exit_codes
from forensic.cli.console import err, esc, set_quiet
from forensic import __version__
from forensic.errors import ForensicError

# Every command, by the module that defines it (each module exposes COMMANDS, a list of
# click commands/groups). Modules are imported only when one of their commands runs, so
# that a command does not pay for the others' imports.
COMMANDS: dict[str, str] = {
    "case": "forensic.cli.commands.case",
    "evidence": "forensic.cli.commands.evidence",
    "triage": "forensic.cli.commands.triage",
    "files": "forensic.cli.commands.files", "warnings": "forensic.cli.commands.files",
    "custody": "forensic.cli.commands.custody", "examiner": "forensic.cli.commands.custody",
    "extractors": "forensic.cli.commands.extractors",
    "photos": "forensic.cli.commands.photos", "geo": "forensic.cli.commands.photos", "timeline": "forensic.cli.commands.photos",
    "messages": "forensic.cli.commands.chats", "conversations": "forensic.cli.commands.chats",
    "tag": "forensic.cli.commands.export", "export": "forensic.cli.commands.export", "verify-bundle": "forensic.cli.commands.export",
    "training": "forensic.cli.commands.training",
    "sample-image": "forensic.cli.commands.sample",
}
COMMAND_MODULES = sorted(set(COMMANDS.values()))


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None and name in COMMANDS:
            for c in importlib.import_module(COMMANDS[name]).COMMANDS:
                if c.name not in self.commands:
                    self.add_command(c)
            command = super().get_command(ctx, name)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="forensic")
@click.option("--quiet", is_flag=True, help="No progress or messages on stderr.")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, debug: bool) -> None:
    """Digital-forensics evidence triage: intake, hashing, extraction, chain of custody, export."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    set_quiet(quiet or not sys.stderr.isatty() and os.environ.get("FORENSIC_PROGRESS") != "1")


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
