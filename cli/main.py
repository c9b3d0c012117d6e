"""The ``forensic`` command: one Click group and the single error boundary."""
from __future__ import annotations

import difflib
import importlib
import os
import select
import sys
import traceback
from pathlib import Path

import click

from forensic.cli import exit_codes
from forensic.cli.console import NORMAL, QUIET, VERBOSE, err, error, esc, info, safe, set_verbosity
import forensic.store.db
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
    "photos": "forensic.cli.commands.photos", "geo": "forensic.cli.commands.photos",
    "timeline": "forensic.cli.commands.photos",
    "similar": "forensic.cli.commands.similar",
    "messages": "forensic.cli.commands.chats", "conversations": "forensic.cli.commands.chats",
    "contacts": "forensic.cli.commands.people", "calls": "forensic.cli.commands.people",
    "person": "forensic.cli.commands.person",
    "tag": "forensic.cli.commands.export", "export": "forensic.cli.commands.export",
    "verify-bundle": "forensic.cli.commands.export",
    "training": "forensic.cli.commands.training",
    "sample-image": "forensic.cli.commands.sample",
    "hashset": "forensic.cli.commands.hashset",
    "search": "forensic.cli.commands.search",
    "serve": "forensic.cli.commands.serve",
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

    def resolve_command(self, ctx: click.Context, args: list[str]):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            name = args[0] if args else ""
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
            if close and not name.startswith("-"):
                exc.message += "\n\nDid you mean " + " or ".join(repr(c) for c in close) + "?"
            raise


# Options that belong to the whole command line, accepted anywhere on it (before the
# subcommand, after it, between its arguments), up to a "--".
GLOBAL_FLAGS = {"--quiet": "quiet", "-q": "quiet", "--verbose": "verbose", "-v": "verbose",
                "--debug": "debug"}


def split_global_flags(argv: list[str]) -> tuple[list[str], set[str]]:
    """``argv`` without the global flags, and the set of flags given."""
    rest: list[str] = []
    flags: set[str] = set()
    for i, arg in enumerate(argv):
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg in GLOBAL_FLAGS:
            flags.add(GLOBAL_FLAGS[arg])
        else:
            rest.append(arg)
    return rest, flags


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="forensic")
@click.option("--quiet", "-q", is_flag=True, help="No progress or messages on stderr (verdicts and data still show).")
@click.option("--verbose", "-v", is_flag=True, help="More detail on stderr.")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors on stderr.")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: bool, debug: bool) -> None:
    """Digital-forensics evidence triage: intake, hashing, extraction, chain of custody, export.

    --quiet, --verbose and --debug may be given anywhere on the command line."""
    ctx.ensure_object(dict)


def main(argv: list[str] | None = None) -> int:
    args, flags = split_global_flags(list(sys.argv[1:] if argv is None else argv))
    set_verbosity(QUIET if "quiet" in flags else VERBOSE if "verbose" in flags else NORMAL)
    forensic.store.db.notice = lambda message: info(esc(message))      # "waiting for …": --quiet hides it
    debug = "debug" in flags
    try:
        rv = cli.main(args=args, prog_name="forensic", standalone_mode=False)
        return rv if isinstance(rv, int) else exit_codes.OK
    except (click.exceptions.Abort, KeyboardInterrupt):
        # click turns Ctrl-C (and EOF at one of its prompts) into Abort.
        err.print("[red]interrupted[/red]: the case keeps only completed steps; run the command again to finish")
        return exit_codes.INTERRUPTED
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        show_click_error(exc, args)
        return exc.exit_code
    except ForensicError as exc:
        if debug:
            err.print(esc(traceback.format_exc()))
        error(esc(exc.message))
        if exc.hint:
            err.print(f"[dim]hint:[/dim] {esc(exc.hint)}")
        return exc.exit_code
    except BrokenPipeError:
        # The reader of stdout closed it (`forensic files | head -1`): it had enough.
        _silence_stdout()
        return exit_codes.OK
    except SystemExit:
        # click ends a command whose reader closed the pipe this way (exit 1).
        if _stdout_closed():
            _silence_stdout()
            return exit_codes.OK
        raise
    except UnicodeEncodeError as exc:
        if "surrogates" not in str(exc):
            return _unexpected(args, exc, debug)
        # A path may be any bytes (they are kept exactly); other arguments are text.
        error("an argument is not valid UTF-8 text: "
              f"{esc(exc.object[max(exc.start - 20, 0):exc.end + 20])}")
        return exit_codes.USAGE
    except Exception as exc:      # the last boundary: one line, the traceback kept in a file
        return _unexpected(args, exc, debug)


def show_click_error(exc: click.ClickException, args: list[str]) -> None:
    """Click's own error (a usage error: an unknown option, an extra argument...) on stderr as
    click shows it (the usage line, "Try 'forensic ... --help' for help.", "Error: ..."), with
    the arguments it quotes escaped: a shell glob may pass evidence file names, and click
    would print their ESC sequences and U+202E raw."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        exc.show()                          # the help of a group run with no command
        return
    lines: list[str] = []
    ctx = exc.ctx if isinstance(exc, click.UsageError) else None
    if ctx is not None:
        lines.extend(ctx.get_usage().split("\n"))
        if ctx.command.get_help_option(ctx) is not None:
            option = max(ctx.command.get_help_option_names(ctx), key=len)
            lines.append(f"Try '{ctx.command_path} {option}' for help.")
        lines.append("")
    message = exc.format_message()
    # An argument with a line break in it stays on one line; the message's own lines stay.
    quoted = {piece for a in args for piece in (a, a.partition("=")[2],
                                                a.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))}
    for piece in sorted((q for q in quoted if "\n" in q or "\r" in q), key=len, reverse=True):
        message = message.replace(piece, safe(piece))
    lines.extend(f"Error: {message}".split("\n"))
    click.echo("\n".join(safe(line) for line in lines), err=True)


def _unexpected(args: list[str], exc: Exception, debug: bool) -> int:
    """An error nobody foresaw: one line on stderr, the traceback in a log file."""
    if _stdout_closed():
        _silence_stdout()
        return exit_codes.OK
    where = write_crash_log(args, exc)
    if debug:
        err.print(esc(traceback.format_exc()))
    error(f"unexpected {esc(type(exc).__name__)}: {esc(exc)}")
    err.print(f"[dim]the details are in {esc(where) if where else 'no file (none could be written)'}; "
              f"please include that file when reporting this[/dim]")
    return exit_codes.ERROR


def _stdout_closed() -> bool:
    """Whether the reader of stdout has gone (a pipe closed early): the write end of a pipe
    whose reader closed it polls as an error."""
    try:
        poller = select.poll()
        poller.register(sys.__stdout__.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def _silence_stdout() -> None:
    # Python flushes stdout at exit; with the reader gone that would raise again.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _case_dir(args: list[str]) -> Path:
    for i, arg in enumerate(args):
        if arg == "--case" and i + 1 < len(args):
            return Path(args[i + 1])
        if arg.startswith("--case="):
            return Path(arg.split("=", 1)[1])
    return Path(os.environ.get("FORENSIC_CASE", "."))


def write_crash_log(args: list[str], exc: BaseException) -> Path | None:
    """Write the traceback of an unexpected error to ``CASE/logs/`` (when the command ran on
    a case) or the user's cache folder; return the file's path, or None if none could be
    written."""
    import datetime
    import platform
    import tempfile
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    text = (f"forensic {__version__} on Python {platform.python_version()} ({platform.platform()})\n"
            f"at {stamp}\ncommand: forensic {' '.join(os.fsdecode(a) for a in args)!r}\n\n"
            + "".join(traceback.format_exception(exc)))
    case = _case_dir(args)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "forensic" / "logs"
    is_case = (case / "case.db").is_file() or (case / "store.json").is_file()     # on SQLite / PostgreSQL
    folders = ([case / "logs"] if is_case else []) + [cache, Path(tempfile.gettempdir())]
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"error-{stamp}-{os.getpid()}.log"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
                f.write(text)
            return path
        except OSError:
            continue
    return None


def entry() -> None:
    code = main()
    _forget_caught_interrupts()
    sys.exit(code)


def _forget_caught_interrupts() -> None:
    """Let the exit code stand after :func:`main` caught a Ctrl-C.

    CPython (seen in 3.11.7) marks a Ctrl-C as never caught whenever its KeyboardInterrupt
    leaves code run by ``exec`` or ``eval`` of a string -- as ``dataclasses`` and
    ``namedtuple`` build their methods, so a Ctrl-C while a module with a dataclass is being
    imported does -- even when :func:`main` catches it and returns 130. Run as ``python -m
    forensic.cli.main``, the interpreter then ends by killing itself with SIGINT after all
    cleanup (exit status -2, not 130). Running any string clears that mark."""
    exec("")


if __name__ == "__main__":
    entry()
