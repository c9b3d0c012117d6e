"""The report's map: the points on an offline base map, as one self-contained inline SVG.

The base map is Natural Earth's (public domain) land, lakes and country borders, 1:50m for a
regional view and 1:110m for a continental one, shipped with the package (``data/basemap.json.gz``, made by
``scripts/make_basemap.py``; see ``data/NOTICE.md``). Nothing is fetched: the SVG has no ``href``.

Projection: equirectangular with its standard parallel at the centre of the view (a degree of
longitude is drawn cos(latitude) as wide as a degree of latitude), so shapes and distances are true
near the centre; it stays finite at the poles. The view is the points' extent with a margin and a
minimum span, and it crosses the antimeridian when the points lie on both sides of it. Land,
coastlines and borders are clipped to the view before they are written, so a city-sized map stays
small.

Points closer than ``cluster_px`` pixels to each other are drawn as one circle with their count;
a single point is drawn in its kind's symbol with its label.
"""
from __future__ import annotations

import gzip
import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from itertools import accumulate
from typing import Any, Iterable
from xml.sax.saxutils import escape, quoteattr

# kind -> (legend text, symbol, fill colour)
KINDS: dict[str, tuple[str, str, str]] = {
    "photo": ("Photo geotag", "circle", "#d62828"),
    "video": ("Video place", "square", "#7b2cbf"),
    "chat_location": ("Location shared in a chat", "diamond", "#1d6fb8"),
    "device_location": ("Location the device recorded", "triangle", "#2a9d4b"),
    "other": ("Other point", "circle", "#6c757d"),
}
# the geo export's kinds (exporters.geo) that have another name here
_ALIASES = {"chat_message": "chat_location"}
_PLURAL = {"photo": "photo geotags", "video": "video places", "chat_location": "chat location shares",
           "device_location": "device locations", "other": "other points"}

LAND, SEA, COAST, BORDER, GRID = "#f2efe6", "#dcebf5", "#6b8fa8", "#9a8f86", "#b9c4cc"
KM_PER_DEG = 111.32
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_LABEL_MAX = 32
_TITLE_LABELS_MAX = 20


def xml_text(value: object) -> str:
    """Text for SVG content: characters XML cannot hold replaced by U+FFFD, then escaped."""
    return escape(_INVALID_XML.sub("\ufffd", str(value)))


def xml_attr(value: object) -> str:
    """A quoted SVG attribute value (see :func:`xml_text`)."""
    return quoteattr(_INVALID_XML.sub("\ufffd", str(value)))


# -- base map data ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Line:
    """A polyline (or closed ring) in degrees with its bounding box."""
    lons: tuple[float, ...]
    lats: tuple[float, ...]
    bbox: tuple[float, float, float, float]     # lon0, lat0, lon1, lat1


@dataclass(frozen=True, slots=True)
class Layer:
    source: str
    land: tuple[Line, ...]
    borders: tuple[Line, ...]
    lakes: tuple[Line, ...]


def _decode(flat: list[int], transform: dict) -> Line:
    sx, sy = transform["scale"]
    tx, ty = transform["translate"]
    # [x0, y0, dx1, dy1, ...]: the even entries summed up are the x, the odd the y
    lons = tuple(x * sx + tx for x in accumulate(flat[0::2]))
    lats = tuple(y * sy + ty for y in accumulate(flat[1::2]))
    return Line(lons, lats, (min(lons), min(lats), max(lons), max(lats)))


@lru_cache(maxsize=1)
def _packaged() -> dict | None:
    """The packaged base map file, parsed, or None when it is missing from the installation."""
    try:
        raw = (resources.files(__package__) / "data" / "basemap.json.gz").read_bytes()
    except (FileNotFoundError, OSError):
        return None
    return json.loads(gzip.decompress(raw))


@lru_cache(maxsize=4)
def base_layer(scale: str) -> Layer | None:
    """The Natural Earth layer of one scale (``50m`` or ``110m``), decoded once on first use, or
    None when the data file is missing (the map is then drawn without a base map, and says so)."""
    doc = _packaged()
    if doc is None:
        return None
    s = doc["scales"][scale]
    return Layer(s["source"], *(tuple(_decode(r, s["transform"]) for r in s[key])
                                for key in ("land", "borders", "lakes")))


def base_layers() -> dict[str, Layer] | None:
    """Every packaged layer by scale, or None when the data file is missing."""
    doc = _packaged()
    return None if doc is None else {name: layer for name in doc["scales"] if (layer := base_layer(name))}


# -- geometry -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class View:
    """The map's window: lon0..lon1 (may pass 180), lat0..lat1, and the affine projection."""
    lon0: float
    lat0: float
    lon1: float
    lat1: float
    lonc: float
    latc: float
    k: float          # cos(standard parallel)
    s: float          # pixels per degree of latitude
    cx: float         # pixel centre of the plot area
    cy: float
    box: tuple[float, float, float, float]    # plot area in pixels: x0, y0, x1, y1

    def x(self, lon: float) -> float:
        return self.cx + (lon - self.lonc) * self.k * self.s

    def y(self, lat: float) -> float:
        return self.cy - (lat - self.latc) * self.s


def _clip_ring(pts: list[tuple[float, float]], x0: float, y0: float, x1: float, y1: float
               ) -> list[tuple[float, float]]:
    """Sutherland–Hodgman: a closed ring clipped to the rectangle (a ring around the rectangle
    becomes the rectangle)."""
    for axis, bound, keep_above in ((0, x0, True), (0, x1, False), (1, y0, True), (1, y1, False)):
        if not pts:
            break
        out: list[tuple[float, float]] = []
        prev = pts[-1]
        prev_in = (prev[axis] >= bound) if keep_above else (prev[axis] <= bound)
        for cur in pts:
            cur_in = (cur[axis] >= bound) if keep_above else (cur[axis] <= bound)
            if cur_in != prev_in:
                t = (bound - prev[axis]) / (cur[axis] - prev[axis])
                if axis == 0:
                    out.append((bound, prev[1] + t * (cur[1] - prev[1])))
                else:
                    out.append((prev[0] + t * (cur[0] - prev[0]), bound))
            if cur_in:
                out.append(cur)
            prev, prev_in = cur, cur_in
        pts = out
    return pts


def _clip_segment(ax: float, ay: float, bx: float, by: float, x0: float, y0: float, x1: float, y1: float
                  ) -> tuple[float, float, float, float] | None:
    """Liang–Barsky: the part of segment a-b inside the rectangle, or None."""
    dx, dy = bx - ax, by - ay
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, ax - x0), (dx, x1 - ax), (-dy, ay - y0), (dy, y1 - ay)):
        if p == 0:
            if q < 0:
                return None
            continue
        r = q / p
        if p < 0:
            if r > t1:
                return None
            t0 = max(t0, r)
        else:
            if r < t0:
                return None
            t1 = min(t1, r)
    return ax + t0 * dx, ay + t0 * dy, ax + t1 * dx, ay + t1 * dy


def _is_cut(lon_a: float, lat_a: float, lon_b: float, lat_b: float) -> bool:
    """An edge along the antimeridian or the south pole: where Natural Earth cuts a polygon, no coast."""
    return ((abs(lon_a) > 179.99 and abs(lon_b) > 179.99 and lon_a == lon_b)
            or (lat_a < -89.99 and lat_b < -89.99))


def _path_data(runs: Iterable[list[tuple[float, float]]], close: bool, min_px: float = 0.9) -> str:
    """SVG path data for runs of pixel points, dropping points closer than ``min_px`` to the last kept."""
    parts = []
    for run in runs:
        if len(run) < 2:
            continue
        px, py = run[0]
        d = [f"M{px:.1f} {py:.1f}"]
        kept = 1
        for i, (qx, qy) in enumerate(run[1:], 1):
            if abs(qx - px) >= min_px or abs(qy - py) >= min_px or i == len(run) - 1:
                d.append(f"L{qx:.1f} {qy:.1f}")
                px, py = qx, qy
                kept += 1
        if kept < (3 if close else 2):
            continue
        parts.append("".join(d) + ("Z" if close else ""))
    return "".join(parts)


def _offsets(line: Line, view: View) -> list[float]:
    """The multiples of 360° by which ``line`` must be shifted to meet the view."""
    lon0, lat0, lon1, lat1 = line.bbox
    if lat1 < view.lat0 or lat0 > view.lat1:
        return []
    return [off for off in (-360.0, 0.0, 360.0) if lon1 + off >= view.lon0 and lon0 + off <= view.lon1]


def _ring_paths(rings: Iterable[Line], view: View) -> tuple[str, str]:
    """The fill and the outline (coast or shore) of closed rings, clipped to the view (pixels)."""
    bx0, by0, bx1, by1 = view.box
    pad = 2.0
    fills: list[list[tuple[float, float]]] = []
    coast: list[list[tuple[float, float]]] = []
    for ring in rings:
        for off in _offsets(ring, view):
            xs = [view.x(lon + off) for lon in ring.lons]
            ys = [view.y(lat) for lat in ring.lats]
            pts = list(zip(xs, ys, strict=True))
            clipped = _clip_ring(pts, bx0 - pad, by0 - pad, bx1 + pad, by1 + pad)
            if len(clipped) >= 3:
                fills.append(clipped)
            coast.extend(_clipped_runs(ring, xs, ys, view, cuts=True))
    return _path_data(fills, close=True), _path_data(coast, close=False)


def _clipped_runs(line: Line, xs: list[float], ys: list[float], view: View, cuts: bool
                  ) -> list[list[tuple[float, float]]]:
    """The pieces of a polyline (pixel coordinates ``xs``, ``ys``) inside the view."""
    x0, y0, x1, y1 = view.box
    runs: list[list[tuple[float, float]]] = []
    run: list[tuple[float, float]] = []
    for i in range(1, len(xs)):
        ax, ay, bx, by = xs[i - 1], ys[i - 1], xs[i], ys[i]
        if ((ax < x0 and bx < x0) or (ax > x1 and bx > x1) or (ay < y0 and by < y0) or (ay > y1 and by > y1)
                or (cuts and _is_cut(line.lons[i - 1], line.lats[i - 1], line.lons[i], line.lats[i]))):
            if run:
                runs.append(run)
                run = []
            continue
        inside = x0 <= ax <= x1 and y0 <= ay <= y1 and x0 <= bx <= x1 and y0 <= by <= y1
        seg = (ax, ay, bx, by) if inside else _clip_segment(ax, ay, bx, by, x0, y0, x1, y1)
        if seg is None:
            if run:
                runs.append(run)
                run = []
            continue
        sx, sy, ex, ey = seg
        if not run or (sx, sy) != run[-1]:
            if run:
                runs.append(run)
            run = [(sx, sy)]
        run.append((ex, ey))
        if (ex, ey) != (bx, by):    # left the view
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    return runs


def _line_path(lines: Iterable[Line], view: View) -> str:
    runs = []
    for line in lines:
        for off in _offsets(line, view):
            xs = [view.x(lon + off) for lon in line.lons]
            ys = [view.y(lat) for lat in line.lats]
            runs.extend(_clipped_runs(line, xs, ys, view, cuts=False))
    return _path_data(runs, close=False)


# -- extent -------------------------------------------------------------------------------------
def _valid(lat: Any, lon: Any) -> tuple[float, float] | None:
    try:
        la, lo = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(la) and math.isfinite(lo) and -90 <= la <= 90 and -180 <= lo <= 180):
        return None
    return la, lo


def _unwrap_cut(lons: list[float]) -> float | None:
    """Where to cut the circle of longitudes: None for the usual -180..180, else a longitude below
    which 360 is added (the points lie across the antimeridian, the largest gap is elsewhere)."""
    ordered = sorted(set(lons))
    if len(ordered) < 2:
        return None
    wrap_gap = ordered[0] + 360 - ordered[-1]
    gap, at = max((b - a, b) for a, b in zip(ordered, ordered[1:], strict=False))
    return at if gap > wrap_gap else None


def make_view(coords: list[tuple[float, float]], width: int, height: int, box: tuple[float, float, float, float],
              min_span_deg: float, margin: float = 0.12) -> View:
    """The view around ``coords`` ((lat, lon), longitudes already unwrapped)."""
    if coords:
        lat0, lat1 = min(c[0] for c in coords), max(c[0] for c in coords)
        lon0, lon1 = min(c[1] for c in coords), max(c[1] for c in coords)
    else:
        lat0, lat1, lon0, lon1 = -60.0, 80.0, -180.0, 180.0
    latc, lonc = (lat0 + lat1) / 2, (lon0 + lon1) / 2
    k = math.cos(math.radians(min(abs(latc), 80.0)))
    w_deg = max((lon1 - lon0) * k * (1 + 2 * margin), min_span_deg)     # in degrees of latitude
    h_deg = max((lat1 - lat0) * (1 + 2 * margin), min_span_deg)
    bw, bh = box[2] - box[0], box[3] - box[1]
    s = min(bw / w_deg, bh / h_deg)
    s = max(s, bw / (360 * k))        # never more than the world's width
    half_lat = bh / (2 * s)
    if half_lat < 90:                 # keep the view within the poles
        latc = min(max(latc, -90 + half_lat), 90 - half_lat)
    else:
        latc = 0.0
    half_lon = bw / (2 * s * k)
    return View(lonc - half_lon, latc - half_lat, lonc + half_lon, latc + half_lat, lonc, latc, k, s,
                (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box)


# -- points and clusters ------------------------------------------------------------------------
@dataclass(slots=True)
class Cluster:
    x: float
    y: float
    members: list[dict] = field(default_factory=list)
    sx: float = 0.0
    sy: float = 0.0
    n: int = 0                  # the points it stands for (a member may stand for several: its count)

    def add(self, point: dict, px: float, py: float) -> None:
        weight = point.get("_n", 1)
        self.members.append(point)
        self.n += weight
        self.sx += px * weight
        self.sy += py * weight


def cluster(placed: list[tuple[dict, float, float]], radius: float) -> list[Cluster]:
    """Greedy clustering in input order: a point joins the nearest cluster whose first point lies
    within ``radius`` pixels, else starts one (a grid of ``radius`` cells finds the neighbours)."""
    grid: dict[tuple[int, int], list[Cluster]] = {}
    out: list[Cluster] = []
    r2 = radius * radius
    for point, px, py in placed:
        gx, gy = int(px // radius), int(py // radius)
        best, best_d = None, r2
        for i in (gx - 1, gx, gx + 1):
            for j in (gy - 1, gy, gy + 1):
                for c in grid.get((i, j), ()):
                    d = (c.x - px) ** 2 + (c.y - py) ** 2
                    if d <= best_d:
                        best, best_d = c, d
        if best is None:
            best = Cluster(px, py)
            grid.setdefault((gx, gy), []).append(best)
            out.append(best)
        best.add(point, px, py)
    return out


def _symbol(kind: str, x: float, y: float, r: float = 5.5) -> str:
    _, shape, colour = KINDS[kind]
    style = f'fill="{colour}" stroke="#fff" stroke-width="1.2"'
    if shape == "square":
        return f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" {style}/>'
    if shape == "diamond":
        q = r * 1.3
        return f'<path d="M{x:.1f} {y - q:.1f}L{x + q:.1f} {y:.1f}L{x:.1f} {y + q:.1f}L{x - q:.1f} {y:.1f}Z" {style}/>'
    if shape == "triangle":
        q = r * 1.25
        return (f'<path d="M{x:.1f} {y - q:.1f}L{x + q:.1f} {y + q * 0.8:.1f}L{x - q:.1f} {y + q * 0.8:.1f}Z" '
                f'{style}/>')
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" {style}/>'


def _kind(point: dict) -> str:
    kind = str(point.get("kind") or "other")
    kind = _ALIASES.get(kind, kind)
    return kind if kind in KINDS else "other"


def _count(point: dict) -> int:
    """How many points ``point`` stands for: its ``count`` (a place of several, e.g. a grid
    cell's points counted by the caller), else one."""
    n = point.get("count", 1)
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 1 else 1


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_MAX else label[:_LABEL_MAX - 1] + "\u2026"


def _cluster_svg(c: Cluster) -> str:
    n = c.n
    x, y = c.sx / n, c.sy / n
    counts: dict[str, int] = {}
    for p in c.members:
        counts[p["_kind"]] = counts.get(p["_kind"], 0) + p["_n"]
    what = ", ".join(f"{v} {_PLURAL[k]}" for k, v in counts.items())
    labels = [str(p.get("label") or "") for p in c.members if p.get("label") not in (None, "")]
    more = f"; and {len(labels) - _TITLE_LABELS_MAX} more" if len(labels) > _TITLE_LABELS_MAX else ""
    title = f"{n} points here ({what})" + (": " + "; ".join(labels[:_TITLE_LABELS_MAX]) + more if labels else "")
    colour = KINDS[next(iter(counts))][2] if len(counts) == 1 else "#495057"
    r = 9 + 2.2 * math.log2(n)
    return (f'<g class="cluster" data-count="{n}"><title>{xml_text(title)}</title>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{colour}" fill-opacity="0.85" '
            f'stroke="#fff" stroke-width="1.5"/>'
            f'<text x="{x:.1f}" y="{y + 3.5:.1f}" text-anchor="middle" font-size="10" font-weight="bold" '
            f'fill="#fff">{n}</text></g>')


def _point_svg(c: Cluster) -> str:
    p = c.members[0]
    kind = p["_kind"]
    label = str(p.get("label") or "")
    title = f"{KINDS[kind][0]}" + (f": {label}" if label else "") + f" ({p['_lat']:.6f}, {p['_lon']:.6f})"
    text = ""
    if label:       # on a pale box (a stroked halo needs paint-order, which WeasyPrint does not draw)
        shown = _short(label)
        width = 6.2 * len(shown) + 4
        text = (f'<rect x="{c.x + 6:.1f}" y="{c.y - 16:.1f}" width="{width:.1f}" height="13" rx="2" fill="#fff" '
                f'fill-opacity="0.75"/><text x="{c.x + 8:.1f}" y="{c.y - 6:.1f}" font-size="11" '
                f'fill="#1d3557">{xml_text(shown)}</text>')
    return (f'<g class="point {kind}" data-kind="{kind}"><title>{xml_text(title)}</title>'
            + _symbol(kind, c.x, c.y) + text + "</g>")


# -- graticule and furniture --------------------------------------------------------------------
def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    exp = math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if mult * 10 ** exp >= raw:
            return min(mult * 10 ** exp, 30.0)
    return 30.0


def _ticks(lo: float, hi: float, step: float) -> list[float]:
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(i * step, 10) for i in range(first, last + 1)]


def _deg(value: float, step: float, pos: str, neg: str) -> str:
    dec = max(0, -math.floor(math.log10(step) + 1e-9)) if step < 1 else 0
    if step in (0.25, 2.5, 0.025):
        dec += 1
    hemi = "" if abs(value) < 1e-9 else (pos if value > 0 else neg)
    return f"{abs(value):.{dec}f}\u00b0{hemi}"


def _norm_lon(lon: float) -> float:
    """A longitude of the unwrapped view back in -180..180."""
    return (lon + 180) % 360 - 180


def _graticule(view: View) -> str:
    x0, y0, x1, y1 = view.box
    span = min(min(view.lat1, 90) - max(view.lat0, -90), (view.lon1 - view.lon0) * view.k)
    lat_step = _nice_step(span / 5)
    lon_step = _nice_step(lat_step / max(view.k, 0.2))     # about as wide as high on the map
    out = ['<g class="graticule">']
    d = []
    labels = []
    for lat in _ticks(max(view.lat0, -90), min(view.lat1, 90), lat_step):
        y = view.y(lat)
        d.append(f"M{x0:.1f} {y:.1f}H{x1:.1f}")
        labels.append(f'<text x="{x0 - 3:.1f}" y="{y + 3:.1f}" text-anchor="end">'
                      f'{_deg(lat, lat_step, "N", "S")}</text>')
    for lon in _ticks(view.lon0, view.lon1, lon_step):
        x = view.x(lon)
        d.append(f"M{x:.1f} {y0:.1f}V{y1:.1f}")
        shown = _norm_lon(lon)
        if abs(shown) == 180:
            text = "180\u00b0"
        else:
            text = _deg(shown, lon_step, "E", "W")
        labels.append(f'<text x="{x:.1f}" y="{y1 + 12:.1f}" text-anchor="middle">{text}</text>')
    out.append(f'<path d="{"".join(d)}" fill="none" stroke="{GRID}" stroke-width="0.6" stroke-dasharray="2 2"/>')
    out.append('<g font-size="9" fill="#555">' + "".join(labels) + "</g></g>")
    return "".join(out)


def _scale_bar(view: View) -> str:
    """A bar of a round number of kilometres (true at the centre latitude), bottom left."""
    x0, _, x1, y1 = view.box
    px_per_km = view.s / KM_PER_DEG
    target = (x1 - x0) / 5 / px_per_km
    exp = 10 ** math.floor(math.log10(target))
    km = max(m * exp for m in (1, 2, 5) if m * exp <= target)
    length = km * px_per_km
    text = f"{km * 1000:g} m" if km < 1 else f"{km:g} km"
    bx, by = x0 + 10, y1 - 12
    return (f'<g class="scale"><rect x="{bx - 4:.1f}" y="{by - 14:.1f}" width="{length + 8:.1f}" height="20" '
            f'fill="#fff" fill-opacity="0.75"/>'
            f'<path d="M{bx:.1f} {by - 4:.1f}V{by:.1f}H{bx + length:.1f}V{by - 4:.1f}" fill="none" stroke="#333" '
            f'stroke-width="1.2"/><text x="{bx + length / 2:.1f}" y="{by - 5:.1f}" font-size="9" '
            f'text-anchor="middle" fill="#333">{text}</text></g>')


def _legend_items(kinds: list[str], clusters: bool, tracks: bool, radius: float) -> list[tuple[str, str]]:
    """(symbol, text) for each kind present, the cluster circle and the track line."""
    items: list[tuple[str, str]] = [(_symbol(k, 0, 0, 5), KINDS[k][0]) for k in kinds]
    if clusters:
        items.append(('<circle cx="0" cy="0" r="7" fill="#495057" fill-opacity="0.85"/>'
                      '<text x="0" y="3" text-anchor="middle" font-size="8" fill="#fff">n</text>',
                      f"n points within {radius:g} px"))
    if tracks:
        items.append(('<path d="M-8 3L-2 -3L3 2L8 -3" fill="none" stroke="#457b9d" stroke-width="2"/>',
                      "Video GPS track"))
    return items


def _legend_layout(items: list[tuple[str, str]], left: float, right: float) -> list[tuple[float, int]]:
    """Where each legend item goes: (x, row), a new row when the next would pass ``right``."""
    at: list[tuple[float, int]] = []
    cx, row = left, 0
    for _, text in items:
        w = 28 + 5.6 * len(text)
        if cx > left and cx + w > right:
            cx, row = left, row + 1
        at.append((cx, row))
        cx += w
    return at


_LEGEND_ROW = 14


def _legend(items: list[tuple[str, str]], left: float, right: float, y: float, source: str | None) -> str:
    out = ['<g class="legend" font-size="10" fill="#222">']
    at = _legend_layout(items, left, right)
    for (symbol, text), (cx, row) in zip(items, at, strict=True):
        ry = y + row * _LEGEND_ROW
        out.append(f'<g transform="translate({cx + 8:.1f} {ry:.1f})">{symbol}</g>'
                   f'<text x="{cx + 20:.1f}" y="{ry + 3.5:.1f}">{xml_text(text)}</text>')
    out.append("</g>")
    rows = (at[-1][1] + 1) if at else 1
    credit = ("Base map: Natural Earth (public domain)" if source
              else "Base map data not installed: points and graticule only")
    out.append(f'<text class="credit" x="{left:.1f}" y="{y + (rows - 1) * _LEGEND_ROW + 17:.1f}" font-size="8" '
               f'fill="#666">{xml_text(credit)}; equirectangular, standard parallel at the centre</text>')
    return "".join(out)


# -- the map ------------------------------------------------------------------------------------
def map_svg(points: list[dict], *, width: int = 800, height: int = 500,
            tracks: list[list[tuple[float, float]]] | None = None, cluster_px: float = 14.0,
            min_span_deg: float = 0.3) -> str:
    """The points on the base map, as an inline SVG string.

    ``points``: dicts with ``lat``, ``lon``, ``kind`` (``photo``, ``video``, ``chat_location``
    (or the geo export's ``chat_message``), ``device_location``; anything else is drawn as other) and
    ``label`` (plain text, escaped here), and may carry ``count``: the points it stands for
    (drawn as a cluster of that many). A point with a latitude or longitude that is missing, not
    a number, NaN or out of range is skipped. ``tracks``: lines of (lat, lon), e.g. a video's GPS
    track. The view is the extent of points and tracks with a margin, at least ``min_span_deg``
    degrees of latitude across (one point still shows its surroundings); points closer than
    ``cluster_px`` pixels are one cluster with their count.
    """
    kept: list[dict] = []
    for p in points:
        pos = _valid(p.get("lat"), p.get("lon"))
        if pos is not None:
            kept.append(dict(p, _lat=pos[0], _lon=pos[1], _kind=_kind(p), _n=_count(p)))
    lines = []
    for t in tracks or []:
        line = [pos for pos in (_valid(q[0], q[1]) for q in t) if pos is not None]
        if len(line) >= 2:
            lines.append(line)
    all_lons = [p["_lon"] for p in kept] + [q[1] for line in lines for q in line]
    cut = _unwrap_cut(all_lons)

    def unwrap(lon: float) -> float:
        return lon + 360 if cut is not None and lon < cut else lon

    coords = [(p["_lat"], unwrap(p["_lon"])) for p in kept] + [(q[0], unwrap(q[1])) for line in lines for q in line]
    kinds = [k for k in KINDS if any(p["_kind"] == k for p in kept)]
    # room for the legend as it would be with clusters (known only once the points are placed)
    several = sum(p["_n"] for p in kept) > 1
    rows = 1 + max((r for _, r in _legend_layout(_legend_items(kinds, several, bool(lines), cluster_px),
                                                   46.0, width - 8.0)), default=0)
    legend_h = 20 + _LEGEND_ROW * rows
    box = (46.0, 8.0, width - 8.0, height - legend_h - 16.0)
    view = make_view(coords, width, height, box, min_span_deg)
    layer = base_layer("110m" if (view.lon1 - view.lon0) * view.k > 90 else "50m")
    x0, y0, x1, y1 = box
    shown = sum(p["_n"] for p in kept)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" class="basemap" '
           f'aria-label="Map of {shown} point{"s" if shown != 1 else ""}" '
           # the view (degrees, west south east north) and the frame it is drawn in (pixels):
           # a page's script turns a box drawn on the map into places
           f'data-view="{view.lon0:.6f} {view.lat0:.6f} {view.lon1:.6f} {view.lat1:.6f}" '
           f'data-frame="{x0:.1f} {y0:.1f} {x1:.1f} {y1:.1f}" font-family="sans-serif">',
           f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" fill="{SEA}"/>']
    source = None
    if layer is not None:
        source = layer.source
        land, coast = _ring_paths(layer.land, view)
        lakes, shores = _ring_paths(layer.lakes, view)
        borders = _line_path(layer.borders, view)
        out.append(f'<g class="basemap-layer" data-source={xml_attr(source)}>')
        if land:
            out.append(f'<path class="land" d="{land}" fill="{LAND}" fill-rule="evenodd" stroke="none"/>')
        if lakes:       # the countries cover their lakes: water drawn over the land
            out.append(f'<path class="lake" d="{lakes}" fill="{SEA}" fill-rule="evenodd" stroke="none"/>')
        if coast or shores:
            out.append(f'<path class="coast" d="{coast}{shores}" fill="none" stroke="{COAST}" stroke-width="0.9" '
                       'stroke-linejoin="round"/>')
        if borders:
            out.append(f'<path class="border" d="{borders}" fill="none" stroke="{BORDER}" stroke-width="0.8" '
                       'stroke-dasharray="4 2"/>')
        out.append("</g>")
    for beyond in (90.0, -90.0):        # a view taller than the world: no sea past the poles
        if (view.lat1 > beyond) if beyond > 0 else (view.lat0 < beyond):
            ya, yb = sorted((view.y(beyond), y0 if beyond > 0 else y1))
            out.append(f'<rect class="beyond-pole" x="{x0:.1f}" y="{ya:.1f}" width="{x1 - x0:.1f}" '
                       f'height="{yb - ya:.1f}" fill="#e9ecef"/>')
    out.append(_graticule(view))
    runs = []
    for line in lines:
        xs = [view.x(unwrap(q[1])) for q in line]
        ys = [view.y(q[0]) for q in line]
        runs.extend(_clipped_runs(Line((), (), (0, 0, 0, 0)), xs, ys, view, cuts=False))
    for run in runs:
        points_attr = " ".join(f"{px:.1f},{py:.1f}" for px, py in run)
        out.append(f'<polyline class="track" points="{points_attr}" fill="none" stroke="#457b9d" '
                   'stroke-width="2" stroke-linejoin="round"/>')
    placed = [(p, view.x(unwrap(p["_lon"])), view.y(p["_lat"])) for p in kept]
    clusters = cluster(placed, cluster_px)
    singles = [c for c in clusters if c.n == 1]
    groups = [c for c in clusters if c.n > 1]
    out.append('<g class="points">' + "".join(_point_svg(c) for c in singles)
               + "".join(_cluster_svg(c) for c in sorted(groups, key=lambda c: -c.n)) + "</g>")
    out.append(_scale_bar(view))
    out.append(f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" fill="none" '
               'stroke="#889"/>')
    out.append(_legend(_legend_items(kinds, bool(groups), bool(runs), cluster_px), x0, x1, height - legend_h + 6,
                       source))
    out.append("</svg>")
    return "".join(out)
