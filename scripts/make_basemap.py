#!/usr/bin/env python3
"""Make the report's offline base map (exporters/report/data/basemap.json.gz) from Natural Earth.

Input (public domain, see exporters/report/data/NOTICE.md):

- the TopoJSON of Natural Earth's Admin 0 countries as the ``world-atlas`` npm package
  redistributes it (Natural Earth 4.1.0; the package's ISC licence covers its build scripts),
  got once, by hand, on a machine with the npm registry:
  ``npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz``;
- Natural Earth's lakes, ``ne_50m_lakes.geojson`` and ``ne_110m_lakes.geojson`` (the GeoJSON
  editions of naturalearthdata.com's 1:50m and 1:110m lakes)::

    python scripts/make_basemap.py package/countries-50m.json package/countries-110m.json \
        ne_50m_lakes.geojson ne_110m_lakes.geojson

The export never fetches anything: it reads the file this script writes.

Output: for each scale (``50m``, ``110m``) two layers, in the source's own quantized integer grid
(``transform``: degrees = q * scale + translate, so no precision is lost or invented), each line a
flat list ``[x0, y0, dx1, dy1, ...]`` (deltas after the first point, as TopoJSON stores arcs):

- ``land``: the closed rings of the land (the countries merged): filled, and stroked as the coastline
  except where a ring runs along the antimeridian or the south pole (a cut, no coast). TopoJSON's
  rings are spherical (a ring may step across the antimeridian); here they are made planar: a ring's
  longitudes continue past 180 instead of jumping, and Antarctica's ring is closed along the pole;
- ``borders``: the land boundaries between two countries (arcs two countries share, TopoJSON's
  ``mesh(a !== b)``);
- ``lakes``: the rings of the lakes (outer rings and their islands), on the same grid: drawn as
  water over the land (the countries' polygons cover the lakes), stroked as shore.
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
from pathlib import Path

SOURCE = ("Natural Earth, public domain (naturalearthdata.com), {scale}: Admin 0 countries 4.1.0 "
          "through the world-atlas 2.0.2 TopoJSON, and lakes")


def _arc_points(arcs: list[list[list[int]]], index: int) -> list[tuple[int, int]]:
    """An arc's absolute quantized points (a negative index ``~i`` is arc ``i`` reversed)."""
    arc = arcs[~index if index < 0 else index]
    x = y = 0
    pts = []
    for dx, dy in arc:
        x += dx
        y += dy
        pts.append((x, y))
    return pts[::-1] if index < 0 else pts


def _ring(arcs: list[list[list[int]]], indexes: list[int]) -> list[tuple[int, int]]:
    pts: list[tuple[int, int]] = []
    for i in indexes:
        a = _arc_points(arcs, i)
        pts.extend(a if not pts else a[1:])
    return pts


def _unwrap(pts: list[tuple[int, int]], period: int) -> list[tuple[int, int]]:
    """A line whose longitudes jump across the antimeridian (TopoJSON's spherical rings do) made
    continuous: each point shifted by whole turns so that no step is longer than half a turn."""
    out = [pts[0]]
    shift = 0
    for (x0, _), (x1, y1) in zip(pts, pts[1:], strict=False):
        if x1 - x0 > period // 2:
            shift -= period
        elif x0 - x1 > period // 2:
            shift += period
        out.append((x1 + shift, y1))
    return out


def _close_around_pole(ring: list[tuple[int, int]], pole_y: int) -> list[tuple[int, int]]:
    """A ring that went once around the pole (Antarctica), closed along the pole: a planar ring."""
    (xs, _), (xe, _) = ring[0], ring[-1]
    if xs == xe:
        return ring
    return [*ring, (xe, pole_y), (xs, pole_y), ring[0]]


def _polygons(geom: dict) -> list[list[list[int]]]:
    if geom.get("type") == "Polygon":
        return [geom["arcs"]]
    if geom.get("type") == "MultiPolygon":
        return list(geom["arcs"])
    return []


def _flat_delta(pts: list[tuple[int, int]]) -> list[int]:
    out = [pts[0][0], pts[0][1]]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
        if (x1, y1) != (x0, y0):
            out += [x1 - x0, y1 - y0]
    return out


def layers(topology: dict) -> dict:
    """The land rings and the borders of one world-atlas topology."""
    arcs = topology["arcs"]
    (sx, sy), (_, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    period = round(360 / sx)
    south_pole = math.floor((-90 - ty) / sy)
    land_obj = topology["objects"]["land"]
    geoms = land_obj["geometries"] if land_obj["type"] == "GeometryCollection" else [land_obj]
    land = []
    for g in geoms:
        for polygon in _polygons(g):
            for ring in polygon:
                pts = _close_around_pole(_unwrap(_ring(arcs, ring), period), south_pole)
                if len(pts) >= 4:
                    land.append(_flat_delta(pts))
    # an arc two different countries use is a border between them
    users: dict[int, set[int]] = {}
    for n, g in enumerate(topology["objects"]["countries"]["geometries"]):
        for polygon in _polygons(g):
            for ring in polygon:
                for i in ring:
                    users.setdefault(~i if i < 0 else i, set()).add(n)
    borders = [_flat_delta(_unwrap(_arc_points(arcs, i), period)) for i, who in sorted(users.items()) if len(who) >= 2]
    return {"transform": topology["transform"], "land": land, "borders": [b for b in borders if len(b) >= 4]}


def lake_rings(geojson: dict, transform: dict) -> list[list[int]]:
    """Every ring of every lake polygon, quantized onto ``transform``'s grid."""
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    rings = []
    for feature in geojson["features"]:
        geom = feature.get("geometry") or {}
        polygons = ([geom["coordinates"]] if geom.get("type") == "Polygon"
                    else geom.get("coordinates", []) if geom.get("type") == "MultiPolygon" else [])
        for polygon in polygons:
            for ring in polygon:
                pts = [(round((lon - tx) / sx), round((lat - ty) / sy)) for lon, lat, *_ in ring]
                flat = _flat_delta(pts)
                if len(flat) >= 8:      # at least 4 distinct steps: a ring with an area
                    rings.append(flat)
    return rings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("countries_50m", type=Path, help="world-atlas countries-50m.json")
    ap.add_argument("countries_110m", type=Path, help="world-atlas countries-110m.json")
    ap.add_argument("lakes_50m", type=Path, help="Natural Earth ne_50m_lakes.geojson")
    ap.add_argument("lakes_110m", type=Path, help="Natural Earth ne_110m_lakes.geojson")
    ap.add_argument("-o", "--out", type=Path,
                    default=Path(__file__).resolve().parent.parent / "exporters/report/data/basemap.json.gz")
    args = ap.parse_args(argv)
    doc: dict = {"format": "forensic-basemap/1", "scales": {}}
    for name, path, lakes in (("50m", args.countries_50m, args.lakes_50m),
                              ("110m", args.countries_110m, args.lakes_110m)):
        layer = layers(json.loads(path.read_text(encoding="utf-8")))
        layer["lakes"] = lake_rings(json.loads(lakes.read_text(encoding="utf-8")), layer["transform"])
        layer["source"] = SOURCE.format(scale="1:" + name.replace("m", "") + "m")
        doc["scales"][name] = layer
        counts = ", ".join(f"{len(layer[k])} {k} ({sum(len(r) // 2 for r in layer[k])} points)"
                           for k in ("land", "borders", "lakes"))
        print(f"{name}: {counts}", file=sys.stderr)
    raw = json.dumps(doc, separators=(",", ":")).encode("ascii")
    # mtime=0: the same input gives the same bytes
    args.out.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
