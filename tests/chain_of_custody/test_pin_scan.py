"""The pin scan finds every pin entry with its seq, whatever the block size and wherever
the pins are (it counts lines only up to each pin it finds)."""
from __future__ import annotations

import random

from forensic.chain_of_custody import pins


def test_pin_lines_and_their_seqs_match_a_plain_split(tmp_path):
    mark = pins._MARK
    rng = random.Random(3)
    for trial in range(300):
        lines = [mark + b"x" * rng.randint(0, 30) if rng.random() < 0.15
                 else b'{"action":"file.recorded"' + b"y" * rng.randint(0, 40)
                 for _ in range(rng.randint(0, 60))]
        data = b"\n".join(lines) + (b"\n" if lines else b"")
        if rng.random() < 0.3:
            data += mark + b"torn"                  # a torn last line is no entry
        path = tmp_path / f"log{trial}"
        path.write_bytes(data)
        want = [(i, line) for i, line in enumerate(data.split(b"\n")[:-1]) if line.startswith(mark)]
        got = list(pins._marked_lines(path, block=rng.choice([16, 32, 64, 1 << 22])))
        assert got == want, trial
