"""forensic sample-image"""
from __future__ import annotations

from pathlib import Path

import click

from forensic.cli.common import json_option
from forensic.cli.console import emit_json, esc, info
from forensic.outputs import check_output, current_cases


class _SampleImageCommand(click.Command):
    """``sample-image``, whose --scenario option (choices and default from forensic.training)
    is added when the command's own options are first needed: parsing it or showing its
    help, never ``forensic --help``, which lists every command without loading the trainer."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        if not any(p.name == "scenario" for p in self.params):
            from forensic.training import DEFAULT_SCENARIO, SCENARIOS
            after_seed = next(i for i, p in enumerate(self.params) if p.name == "seed") + 1
            self.params.insert(after_seed, click.Option(
                ["--scenario"], type=click.Choice(sorted(SCENARIOS)), default=DEFAULT_SCENARIO,
                show_default=True, help="Which fictional case to build."))
        return super().get_params(ctx)


@click.command("sample-image", cls=_SampleImageCommand)
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", type=int, default=1, show_default=True,
              help="The same seed gives the same story and byte-identical images.")
@click.option("--e01", is_flag=True, help="Also write phone.E01, acquired from phone.raw with ewfacquire, "
                                           "card-copy.E01, an acquisition of card.raw with one damaged chunk, "
                                           "card.qcow2, the card as a QCOW2 disk (qemu-img), iphone-backup/, an "
                                           "iTunes backup of a second phone, and phone.ab, an Android backup.")
@click.option("--force", is_flag=True, help="Replace a sample already in OUT_DIR.")
@click.option("--case", "case_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The case open now: the sample is never written over its evidence or store "
                   "(default: $FORENSIC_CASE and the current folder, when they are cases).")
@json_option
def sample_image(out_dir: Path, seed: int, scenario: str, e01: bool, force: bool, case_dir: Path | None,
                 as_json: bool) -> int:
    """Build a small, fictional trafficking case in OUT_DIR, with its answer key.

    Writes phone.raw (GPT disk, Android-like ext4 user data), card.raw (FAT32 camera card with
    deleted and truncated photos), extraction.zip (logical extraction of the phone),
    hashsets/ (the exercise's hash sets: an RDS v3-layout SQLite, known-good, and a VICS
    JSON, known-bad; generated, never real hashes), answer-key.json and answer-key.md; with
    --e01 also phone.E01, card-copy.E01 (one chunk
    damaged, for practice with a failed acquisition check), card.qcow2 (the card as a
    virtual disk, read in place), iphone-backup/ (an iTunes backup folder) and phone.ab (an
    Android backup). Needs mke2fs/debugfs (e2fsprogs), sfdisk (fdisk), mkfs.vfat
    (dosfstools), mtools and, for --e01, ewfacquire (ewf-tools) and qemu-img (qemu-utils);
    no root, nothing is mounted.
    """
    from forensic.training.build import build_sample
    # A trainer may have registered a sample as evidence: --force never rewrites it.
    with current_cases(case_dir) as cases:
        check_output(out_dir, cases=tuple(cases), option="sample-image", folder=True)
    summary = build_sample(out_dir, seed=seed, scenario=scenario, e01=e01, force=force,
                           progress=lambda m: info(f"[dim]{esc(m)}[/dim]"))
    if as_json:
        emit_json(summary)
    else:
        for name, f in summary["files"].items():
            click.echo(f"{f['sha256']}  {f['size']:>10}  {out_dir / name}")
        info(f"sample case [bold]{esc(scenario)}[/bold] (seed {seed}) in {esc(out_dir)}: "
             f"{summary['facts']} facts in answer-key.json / answer-key.md")
    return 0


COMMANDS = [sample_image]
