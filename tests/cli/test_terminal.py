"""The real command where examiners use it: an interactive terminal (a pty), pipes, Ctrl-C,
typos, flags in any place, and errors nobody foresaw."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from builders import ext4_image, tiny_jpeg
from ptyrun import FORENSIC, run_in_pty

SGR_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def forensic_pipe(*args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    full_env.update(env or {})
    return subprocess.run(FORENSIC + [str(a) for a in args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


@pytest.fixture()
def image(tmp_path) -> Path:
    files = {f"DCIM/IMG_{i:04d}.jpg": tiny_jpeg() for i in range(20)}
    files["notes/readme.txt"] = b"hello\n" * 100
    return ext4_image(tmp_path, files, size_mib=8)


@pytest.fixture()
def case(tmp_path) -> Path:
    result = forensic_pipe("case", "init", "case", "--case-id", "T-1", "--examiner", "E", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path / "case"


def test_evidence_add_and_triage_at_an_interactive_terminal(tmp_path, case, image):
    # The first run of every examiner: the progress bars need a real rich Console.
    added = run_in_pty(["evidence", "add", image, "--id", "disk", "--case", case], cwd=tmp_path)
    assert added.code == 0, added.output
    assert "Traceback" not in added.output and "lost sys.stderr" not in added.output
    assert "added" in added.output and "sha256" in added.output
    assert added.cursor_restored()

    triaged = run_in_pty(["triage", "--case", case], cwd=tmp_path)
    assert triaged.code == 0, triaged.output
    assert "Traceback" not in triaged.output
    assert re.search(r"disk.*\b2\d entries", triaged.output), triaged.output
    assert triaged.cursor_restored()


def test_no_color_at_a_terminal_has_no_colour_codes(tmp_path, case, image):
    coloured = run_in_pty(["evidence", "add", image, "--id", "disk", "--case", case], cwd=tmp_path)
    assert SGR_COLOUR.search(coloured.output), "a terminal shows colour by default"
    plain = run_in_pty(["evidence", "verify", "disk", "--case", case], cwd=tmp_path,
                       env={"NO_COLOR": "1"})
    assert plain.code == 0, plain.output
    colours = [m for m in SGR_COLOUR.findall(plain.output) if re.search(r"\[(3|9)\d", m)]
    assert colours == [], plain.output


def test_ctrl_c_at_a_terminal_ends_cleanly_and_keeps_the_case(tmp_path, case):
    # A sparse 20 GiB image: hashing it takes long enough to be interrupted mid-way.
    big = tmp_path / "big.raw"
    with open(big, "wb") as f:
        f.truncate(20 << 30)
    result = run_in_pty(["evidence", "add", big, "--id", "big", "--case", case], cwd=tmp_path,
                        when=lambda shown: "hashing big.raw" in shown)
    assert result.code == 130, result.output
    assert "interrupted" in result.output
    assert "Traceback" not in result.output
    assert result.cursor_restored(), repr(result.output[-300:])
    # Nothing half-added; the custody log still verifies.
    listed = forensic_pipe("evidence", "list", "--json", "--case", case, cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout.strip() == ""
    verified = forensic_pipe("custody", "verify", "--case", case, cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr


# A Ctrl-C that lands in code Python builds at run time: dataclasses and namedtuple make their
# methods with exec(), so one pressed while a module with a dataclass is being imported (the
# commands import theirs lazily, e.g. the source formats once hashing is on screen) arrives
# there. The SIGINT is real, sent by the process to itself inside that exec(), every time.
INTERRUPTED_IN_EXEC = """
import os, signal, sys
import click
from forensic.cli import main as forensic_main

@click.command("interrupt-me")
def interrupt_me():
    exec("os.kill(os.getpid(), signal.SIGINT)", {"os": os, "signal": signal})

forensic_main.cli.add_command(interrupt_me)
sys.argv = ["forensic", "interrupt-me"]
forensic_main.entry()
"""


def test_ctrl_c_inside_code_built_by_exec_still_exits_130(tmp_path):
    # Run as `python -m`, as the tests and `python -m forensic.cli.main` run it: there CPython
    # killed itself with SIGINT after the clean exit (status -2) when the Ctrl-C had left an exec().
    (tmp_path / "interrupt_driver.py").write_text(INTERRUPTED_IN_EXEC)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([FORENSIC[0], "-m", "interrupt_driver"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert result.returncode == 130, (result.returncode, result.stderr)
    assert "interrupted" in result.stderr and "Traceback" not in result.stderr


def test_a_mistyped_command_gets_a_suggestion(tmp_path):
    result = forensic_pipe("fils", cwd=tmp_path)
    assert result.returncode == 2
    assert "No such command 'fils'" in result.stderr and "Did you mean 'files'" in result.stderr
    result = forensic_pipe("evidence", "ad", cwd=tmp_path)
    assert result.returncode == 2 and "Did you mean 'add'" in result.stderr


@pytest.mark.parametrize("where", ["before", "after", "at the end"])
def test_quiet_works_anywhere_on_the_line(tmp_path, case, image, where):
    args = ["evidence", "add", str(image), "--id", "disk", "--case", str(case)]
    position = {"before": 0, "after": 2, "at the end": len(args)}[where]
    args.insert(position, "--quiet")
    result = forensic_pipe(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    # Data still goes to stdout.
    assert re.search(r"^sha256 [0-9a-f]{64}$", result.stdout, re.M)


def test_messages_show_in_pipes_without_quiet(tmp_path, case, image):
    result = forensic_pipe("evidence", "add", image, "--id", "disk", "--case", case, cwd=tmp_path)
    assert result.returncode == 0
    assert "added disk" in result.stderr


def test_double_dash_keeps_a_global_flag_as_an_argument(tmp_path):
    from forensic.cli.main import split_global_flags
    assert split_global_flags(["files", "-q", "--", "--quiet"]) == (["files", "--", "--quiet"], {"quiet"})
    assert split_global_flags(["--verbose", "triage", "--debug"]) == (["triage"], {"verbose", "debug"})


def test_an_unexpected_error_is_one_line_and_a_log_file(tmp_path, case, monkeypatch, capsys):
    # A bug nobody foresaw (here: the case store raising a plain RuntimeError) must not end
    # in a traceback on the examiner's screen; the traceback is kept in CASE/logs/.
    from forensic.case import Case
    from forensic.cli.main import main

    def broken(self):
        raise RuntimeError("something nobody foresaw \x1b[31m")
    monkeypatch.setattr(Case, "items", broken)
    code = main(["evidence", "list", "--case", str(case)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in err and "\x1b[31m" not in err
    assert "unexpected RuntimeError: something nobody foresaw" in err
    logs = list((case / "logs").glob("error-*.log"))
    assert len(logs) == 1 and str(logs[0]) in err.replace("\n", "")
    text = logs[0].read_text()
    assert "Traceback" in text and "RuntimeError" in text and "evidence list" in text


def test_an_unexpected_error_outside_a_case_logs_to_the_cache(tmp_path, monkeypatch, capsys):
    from forensic.cli.main import main
    from forensic.extractors import registry
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)

    def broken():
        raise ValueError("boom")
    monkeypatch.setattr(registry, "all_extractors", broken)
    code = main(["extractors", "--json"])
    _, err = capsys.readouterr()
    assert code == 1, err
    logs = list((tmp_path / "cache" / "forensic" / "logs").glob("error-*.log"))
    assert len(logs) == 1 and "ValueError: boom" in logs[0].read_text()


def test_version_and_help_in_a_pipe(tmp_path):
    result = forensic_pipe("--version", cwd=tmp_path)
    assert result.returncode == 0 and "forensic, version" in result.stdout
    result = forensic_pipe("--help", cwd=tmp_path)
    assert result.returncode == 0 and "--quiet" in result.stdout and "anywhere" in result.stdout


def test_escape_removes_terminal_controls():
    from forensic.cli.console import esc, safe
    assert safe("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert safe("photo\u202egpj.exe") == "photo\\u202egpj.exe"
    assert safe("two\nlines\r") == "two\\x0alines\\x0d"
    assert esc("[red]x[/red]\x07") == "\\[red]x\\[/red]\\x07"
    assert safe("naïve café 東京") == "naïve café 東京"


def test_verbose_shows_detail_and_the_warnings_met(tmp_path, case):
    from builders import fat_image
    card = fat_image(tmp_path, {"DCIM/a.jpg": tiny_jpeg()[:40]}, name="card.img")   # a truncated photo
    assert forensic_pipe("evidence", "add", card, "--id", "card", "--case", case, cwd=tmp_path).returncode == 0
    quiet = forensic_pipe("triage", "--case", case, cwd=tmp_path)
    assert quiet.returncode == 3 and "/DCIM/a.jpg" not in quiet.stderr
    loud = forensic_pipe("triage", "--case", case, "--force", "--verbose", cwd=tmp_path)
    assert loud.returncode == 3
    assert f"case T-1 in {case}" in loud.stderr
    assert "extract:photo_exif" in loud.stderr and "/DCIM/a.jpg" in loud.stderr
