"""The bad E01 chunk lookup done after every file read: an interval index, not a scan
of every span per run, refreshed only when libewf's error count changes."""
import random

from forensic.pipeline import _damage_warnings
from forensic.sources import tsk
from forensic.sources.ewf import BadChunk
from forensic.sources.tsk import SpanIndex, TskImageSource


def _chunk(first: int, count: int, bps: int = 512) -> BadChunk:
    return BadChunk(first * bps, (first + count) * bps, first, first + count - 1)


def _brute(bad, spans):
    """The lookup as it was: every span against every run."""
    out = []
    for chunk in bad:
        hit = [(max(a, chunk.start), min(b, chunk.end)) for a, b in spans if a < chunk.end and chunk.start < b]
        if hit:
            out.append((chunk, min(a for a, _ in hit), max(b for _, b in hit)))
    return out


def _indexed(index, spans):
    hits = index.hits(spans)
    return [(index.chunks[i], min(a for a, _ in hits[i]), max(b for _, b in hits[i])) for i in sorted(hits)]


def test_the_index_marks_the_same_files_as_a_full_scan():
    rng = random.Random(7)
    # 5,000 disjoint spans as libewf lists them, plus recorded ones overlapping some of them
    firsts = sorted(rng.sample(range(0, 50_000_000, 64), 5000))
    found = [_chunk(f, 64 * rng.randint(1, 3)) for f in firsts]
    found = [c for c, nxt in zip(found, found[1:] + [None], strict=True) if nxt is None or c.end <= nxt.start]
    recorded = [_chunk(f - 32, 128) for f in rng.sample(firsts, 200) if f >= 32]
    bad = recorded + found
    index = SpanIndex(bad)
    for _ in range(2000):
        runs = []
        for _ in range(rng.randint(1, 6)):
            start = rng.randrange(0, 50_000_000 * 512)
            runs.append((start, start + rng.choice([512, 4096, 65536, 1 << 20, 1 << 24])))
        assert _indexed(index, runs) == _brute(bad, runs)
    # edges: touching a span is not overlapping it; one byte in is
    c = found[10]
    assert _indexed(index, [(c.end, c.end + 10)]) == _brute(bad, [(c.end, c.end + 10)])
    assert _indexed(index, [(c.start - 10, c.start)]) == _brute(bad, [(c.start - 10, c.start)])
    assert [h[0] for h in _indexed(index, [(c.end - 1, c.end)])] == [h[0] for h in _brute(bad, [(c.end - 1, c.end)])]


class _Offset(int):
    """A byte offset that counts the comparisons made with it: the entries of the index a
    lookup touches (the index keeps plain ints; each one it looks at is compared with the
    query's offsets, and Python asks the int subclass first)."""
    compared = 0

    def __lt__(self, other):
        _Offset.compared += 1
        return int(self) < other

    def __le__(self, other):
        _Offset.compared += 1
        return int(self) <= other

    def __gt__(self, other):
        _Offset.compared += 1
        return int(self) > other

    def __ge__(self, other):
        _Offset.compared += 1
        return int(self) >= other


def _compares(lookup, runs) -> tuple[object, int]:
    _Offset.compared = 0
    out = lookup([(_Offset(a), _Offset(b)) for a, b in runs])
    return out, _Offset.compared


def test_the_index_touches_log_n_entries_per_lookup_not_every_span():
    n = 20_000
    spans = [_chunk(i * 128, 64) for i in range(n)]
    index = SpanIndex(spans)
    runs = [(i * 1_000_003, i * 1_000_003 + 8192) for i in range(50)]
    hits, work = _compares(index.hits, runs)
    brute, brute_work = _compares(lambda r: _brute(spans, r), runs)
    assert _indexed(index, runs) == brute and len(hits) == len(brute) > 0
    # a binary search (log2 20,000 < 15) and a few steps back for each run, against every
    # span for each run (the scan that took minutes for 200 rounds of this)
    assert work <= len(runs) * (n.bit_length() + 10), work
    assert brute_work >= len(runs) * n


class _Media:
    def __init__(self, spans):
        self.spans, self.lists, self.counts = spans, 0, 0

    def checksum_error_count(self):
        self.counts += 1
        return len(self.spans)

    def checksum_errors(self):
        self.lists += 1
        return list(self.spans)


def _source(media, monkeypatch):
    class Img:
        pass
    img = Img()
    img.media = media
    monkeypatch.setattr(tsk, "EwfImgInfo", Img)
    src = TskImageSource.__new__(TskImageSource)
    src.img = img
    src._recorded = None
    src.note_bad_chunks([_chunk(1000, 64)])
    return src


def test_the_list_is_fetched_again_only_when_libewf_counts_more(monkeypatch):
    media = _Media([_chunk(5000, 64)])
    src = _source(media, monkeypatch)
    far = [(10_000_000, 10_004_096)]
    assert src.damage_at(far) == []
    assert media.lists == 1
    for _ in range(100):
        assert src.damage_at(far) == []
    assert media.lists == 1 and media.counts == 101
    hit = src.damage_at([(5000 * 512 + 10, 5000 * 512 + 20), (1000 * 512, 1000 * 512 + 1)])
    assert [(c.first_sector, lo, hi) for c, lo, hi in hit] == [(1000, 512_000, 512_001), (5000, 2_560_010, 2_560_020)]
    media.spans.append(_chunk(90_000, 64))         # a new bad chunk: the count changes
    assert [c.first_sector for c, _, _ in src.damage_at([(90_000 * 512, 90_000 * 512 + 4096)])] == [90_000]
    # a chunk merged into a listed span leaves the count as it was; content by it refetches
    media.spans[0] = _chunk(5000, 128)
    assert [c.last_sector for c, _, _ in src.damage_at([(5100 * 512, 5100 * 512 + 512)])] == [5127]
    assert src.bad_chunks() == [_chunk(1000, 64), _chunk(5000, 128), _chunk(90_000, 64)]


def test_a_failing_damage_check_is_a_warning_not_a_crash():
    class Reader:
        def damage_warnings(self):
            raise OSError("libewf_handle_get_number_of_checksum_errors failed")
    [w] = _damage_warnings(Reader())
    assert "could not check" in w and "libewf" in w
    assert _damage_warnings(None) == []
