"""The report map: points on the packaged Natural Earth base map, as an SVG that parses and loads nothing."""
from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import pytest
from defusedxml import ElementTree
from hypothesis import given, settings
from hypothesis import strategies as st

from forensic.exporters.report import basemap
from forensic.exporters.report.basemap import map_svg

SVG = "{http://www.w3.org/2000/svg}"
REPO = Path(__file__).resolve().parents[2]

EUROPE = [dict(lat=51.5007, lon=-0.1246, kind="photo", label="London"),
          dict(lat=52.5163, lon=13.3777, kind="chat_location", label="Berlin"),
          dict(lat=38.6916, lon=-9.2160, kind="video", label="Lisbon"),
          dict(lat=59.3251, lon=18.0711, kind="device_location", label="Stockholm")]


def parse(svg: str):
    root = ElementTree.fromstring(svg)
    assert root.tag == SVG + "svg"
    return root


def paths(root, cls: str) -> list:
    return [p for p in root.iter(SVG + "path") if p.get("class") == cls]


def vertices(d: str) -> int:
    return len(re.findall(r"[ML]", d))


def groups(root, cls: str) -> list:
    return [g for g in root.iter(SVG + "g") if (g.get("class") or "").split()[:1] == [cls]]


def test_the_base_map_is_installed():
    layers = basemap.base_layers()
    assert layers is not None and set(layers) == {"50m", "110m"}
    assert "Natural Earth" in layers["50m"].source and "public domain" in layers["50m"].source
    assert len(layers["50m"].land) > 1000 and len(layers["50m"].borders) > 300 and len(layers["50m"].lakes) > 400


def test_lakes_are_water_over_the_land():
    # Chicago on Lake Michigan: the countries' polygons cover the lake, the lake layer uncovers it
    root = parse(map_svg([dict(lat=41.8789, lon=-87.6359, kind="photo", label="1"),
                          dict(lat=43.0, lon=-83.0, kind="photo", label="2")]))
    lake = paths(root, "lake")
    assert len(lake) == 1 and lake[0].get("fill") == basemap.SEA and vertices(lake[0].get("d")) > 30
    svg = map_svg([dict(lat=0.5, lon=-150.0, kind="photo")])
    assert 'class="lake"' not in svg


def test_europe_has_land_coast_and_borders():
    root = parse(map_svg(EUROPE))
    coast, land, border = paths(root, "coast"), paths(root, "land"), paths(root, "border")
    assert len(coast) == 1 and vertices(coast[0].get("d")) > 500
    assert len(land) == 1 and land[0].get("fill-rule") == "evenodd"
    assert len(border) == 1 and vertices(border[0].get("d")) > 200
    layer = next(g for g in root.iter(SVG + "g") if g.get("class") == "basemap-layer")
    assert "Natural Earth" in layer.get("data-source")
    assert {g.get("data-kind") for g in groups(root, "point")} == {"photo", "chat_location", "video",
                                                                      "device_location"}


def test_mid_pacific_points_have_no_land_but_their_graticule():
    root = parse(map_svg([dict(lat=0.5, lon=-150.0, kind="photo", label="at sea"),
                          dict(lat=0.6, lon=-150.1, kind="chat_location", label="still at sea")]))
    assert paths(root, "coast") == [] and paths(root, "land") == [] and paths(root, "border") == []
    assert paths(root, "lake") == []
    assert len(groups(root, "point")) == 2
    labels = [t.text for g in root.iter(SVG + "g") if g.get("class") == "graticule" for t in g.iter(SVG + "text")]
    assert any(t.endswith("\u00b0W") for t in labels) and any(t.endswith("\u00b0N") for t in labels)


def test_the_view_is_clipped_so_a_city_map_stays_small():
    # Stockholm's archipelago: a city on one of the most intricate coasts of the 1:50m data
    pts = [dict(lat=59.3293 + i * 0.004, lon=18.0686 + (i % 7) * 0.006, kind="photo", label=str(i)) for i in range(40)]
    svg = map_svg(pts)
    root = parse(svg)
    assert len(svg.encode()) < 300_000
    x0, y0, x1, y1 = 46.0, 8.0, 792.0, 450.0
    for p in paths(root, "coast") + paths(root, "border"):
        for x, y in re.findall(r"[ML](-?[\d.]+) (-?[\d.]+)", p.get("d")):
            assert x0 - 0.1 <= float(x) <= x1 + 0.1 and y0 - 0.1 <= float(y) <= y1 + 0.1


@pytest.mark.parametrize("pts", [
    [(51.5, -0.1), (-33.9, 151.2), (40.7, -74.0)],          # the world (1:110m)
    [(55.0, -140.0), (82.0, -50.0)],                         # the Canadian Arctic, the most coast at 1:50m
    [(-10.0, 95.0), (20.0, 140.0)],                          # Indonesia and the Philippines
])
def test_a_regional_or_world_map_stays_under_the_bound(pts):
    svg = map_svg([dict(lat=lat, lon=lon, kind="photo") for lat, lon in pts])
    assert paths(parse(svg), "coast")
    assert len(svg.encode()) < 300_000


def test_one_point_shows_its_surroundings():
    root = parse(map_svg([dict(lat=53.5413, lon=9.9841, kind="photo", label="Hamburg harbour")]))
    scale = next(g for g in root.iter(SVG + "g") if g.get("class") == "scale")
    text = next(scale.iter(SVG + "text")).text
    # a bar of a few km: the view is tens of km across, not a point
    assert re.fullmatch(r"\d+ km", text) and 2 <= int(text.split()[0]) <= 20
    assert paths(root, "coast") or paths(root, "land")


def test_points_closer_than_the_radius_are_one_cluster_with_their_count():
    near = [dict(lat=48.8584 + i * 1e-5, lon=2.2945, kind="photo", label=f"p{i}") for i in range(5)]
    near.append(dict(lat=48.8585, lon=2.2946, kind="chat_location", label="shared"))
    far = [dict(lat=48.8606, lon=2.3376, kind="photo", label="Louvre")]
    root = parse(map_svg(near + far))
    clusters = groups(root, "cluster")
    assert [c.get("data-count") for c in clusters] == ["6"]
    title = clusters[0].find(SVG + "title").text
    assert title.startswith("6 points here (5 photo geotags, 1 chat location shares)") and "shared" in title
    assert next(clusters[0].iter(SVG + "text")).text == "6"
    singles = groups(root, "point")
    assert len(singles) == 1 and "Louvre" in singles[0].find(SVG + "title").text
    legend = next(g for g in root.iter(SVG + "g") if g.get("class") == "legend")
    assert any("n points within 14 px" == t.text for t in legend.iter(SVG + "text"))


def test_the_cluster_radius_is_in_pixels():
    pts = [dict(lat=48.8584, lon=2.2945, kind="photo"), dict(lat=48.8606, lon=2.3376, kind="photo")]
    assert len(groups(parse(map_svg(pts)), "cluster")) == 0
    assert len(groups(parse(map_svg(pts, cluster_px=2000)), "cluster")) == 1


def test_each_kind_has_its_own_symbol_and_legend_entry():
    root = parse(map_svg(EUROPE + [dict(lat=45.0, lon=7.0, kind="chat_message", label="geo export kind"),
                                   dict(lat=46.0, lon=8.0, kind="mystery", label="?")]))
    shapes = {}
    for g in groups(root, "point"):
        symbol = [c for c in g if c.tag != SVG + "title" and c.tag != SVG + "text"][0]
        shapes.setdefault(g.get("data-kind"), set()).add((symbol.tag, symbol.get("fill")))
    assert set(shapes) == {"photo", "video", "chat_location", "device_location", "other"}
    assert all(len(s) == 1 for s in shapes.values())       # chat_message is drawn as chat_location
    assert len({next(iter(s)) for k, s in shapes.items() if k != "other"}) == 4
    legend = next(g for g in root.iter(SVG + "g") if g.get("class") == "legend")
    texts = [t.text for t in legend.iter(SVG + "text")]
    for kind in ("photo", "video", "chat_location", "device_location"):
        assert basemap.KINDS[kind][0] in texts


def test_hostile_labels_are_text():
    hostile = '</text><script>alert(1)</script><a href="http://x">&amp;\x00\x1b"\'\ud800'
    svg = map_svg([dict(lat=41.9, lon=12.5, kind="photo", label=hostile),
                   dict(lat=41.9, lon=12.5, kind="photo", label=hostile)] +
                  [dict(lat=42.1, lon=12.7, kind="video", label=hostile)])
    root = parse(svg)
    assert not list(root.iter(SVG + "script")) and not list(root.iter("script"))
    assert not list(root.iter(SVG + "a"))
    assert not [k for el in root.iter() for k in el.attrib if "href" in k]
    titles = [t.text for t in root.iter(SVG + "title")]
    assert any("</text><script>alert(1)</script>" in t for t in titles)
    assert any("&amp;" in t for t in titles)      # shown as typed, not decoded


def test_nothing_is_loaded_from_the_network():
    svg = map_svg(EUROPE, tracks=[[(52.0, 4.0), (52.1, 4.2), (52.2, 4.3)]])
    assert "href" not in svg and "url(" not in svg and "@import" not in svg
    assert re.findall(r"https?://[^\"' ]+", svg) == ["http://www.w3.org/2000/svg"]     # the namespace name


def test_invalid_points_are_skipped():
    bad = [dict(lat=math.nan, lon=1.0), dict(lat=1.0, lon=math.inf), dict(lat=None, lon=1.0), dict(lon=2.0),
           dict(lat="north", lon=1.0), dict(lat=91.0, lon=0.0), dict(lat=0.0, lon=-180.5), dict(lat=[1], lon=2)]
    root = parse(map_svg([*bad, dict(lat="50.1", lon=8.7, kind="photo", label="kept")]))
    assert root.get("aria-label") == "Map of 1 point"
    assert len(groups(root, "point")) == 1
    root = parse(map_svg(bad))          # nothing left: a world map without points
    assert root.get("aria-label") == "Map of 0 points" and paths(root, "coast")


def test_points_across_the_antimeridian_are_one_small_view():
    root = parse(map_svg([dict(lat=-16.8, lon=179.95, kind="photo", label="a"),
                          dict(lat=-16.7, lon=-179.95, kind="photo", label="b")]))
    scale = next(g for g in root.iter(SVG + "g") if g.get("class") == "scale")
    assert next(scale.iter(SVG + "text")).text.endswith(" km")
    assert int(next(scale.iter(SVG + "text")).text.split()[0]) <= 20      # not a world map
    xs = [float(next(c for c in g if c.tag != SVG + "title").get("cx")) for g in groups(root, "point")]
    assert len(xs) == 2 and abs(xs[0] - xs[1]) < 200
    labels = [t.text for g in root.iter(SVG + "g") if g.get("class") == "graticule" for t in g.iter(SVG + "text")]
    assert "180\u00b0" in labels
    assert paths(root, "coast")       # Fiji's islands, on both sides


@pytest.mark.parametrize("pts", [
    [dict(lat=90.0, lon=0.0), dict(lat=-90.0, lon=180.0)],
    [dict(lat=-90.0, lon=-180.0)],
    [dict(lat=89.99, lon=-179.99), dict(lat=89.99, lon=179.99)],
    [dict(lat=-77.85, lon=166.67, kind="device_location", label="McMurdo")],
    [dict(lat=0.0, lon=-180.0), dict(lat=0.0, lon=180.0)],
])
def test_poles_and_the_antimeridian_do_not_break_the_map(pts):
    root = parse(map_svg(pts, width=640, height=400))
    assert root.get("width") == "640"
    assert len(groups(root, "point")) + sum(int(c.get("data-count")) for c in groups(root, "cluster")) == len(pts)


def test_tracks_are_drawn_and_in_the_legend():
    root = parse(map_svg([dict(lat=45.43, lon=12.33, kind="video", label="1")],
                         tracks=[[(45.43, 12.33), (45.44, 12.34), (45.45, 12.36)], [(1.0, math.nan)]]))
    track = [p for p in root.iter(SVG + "polyline") if p.get("class") == "track"]
    assert len(track) == 1 and len(track[0].get("points").split()) == 3
    legend = next(g for g in root.iter(SVG + "g") if g.get("class") == "legend")
    assert "Video GPS track" in [t.text for t in legend.iter(SVG + "text")]


def _make_basemap_module():
    spec = importlib.util.spec_from_file_location("make_basemap", REPO / "scripts" / "make_basemap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_basemap_takes_shared_arcs_as_borders_and_unwraps_the_antimeridian():
    mk = _make_basemap_module()
    # quantized: 1 unit = 1 degree, x 0..360 -> -180..180; two countries share arc 1
    topology = {
        "transform": {"scale": [1, 1], "translate": [-180, -90]},
        "arcs": [[[180, 100], [0, 10], [10, 0]],            # A's own coast: (0,10)->(0,20)->(10,20)
                 [[190, 110], [0, -10]],                    # shared: (10,20)->(10,10)
                 [[190, 100], [-10, 0]],                    # A's coast back to start
                 [[190, 110], [10, 0], [0, -10], [-10, 0]],  # B's coast
                 [[359, 120], [-358, 0], [0, 1], [358, 0], [0, -1]]],   # an island across the antimeridian
        "objects": {
            "countries": {"type": "GeometryCollection", "geometries": [
                {"type": "Polygon", "arcs": [[0, 1, 2]]}, {"type": "Polygon", "arcs": [[3, ~1]]},
                {"type": "Polygon", "arcs": [[4]]}]},
            "land": {"type": "GeometryCollection", "geometries": [
                {"type": "MultiPolygon", "arcs": [[[0, 3, 2]], [[4]]]}]},
        },
    }
    out = mk.layers(topology)
    assert out["borders"] == [[190, 110, 0, -10]]
    island = out["land"][1]
    xs = [island[0]]
    for dx in island[2::2]:
        xs.append(xs[-1] + dx)
    assert xs == [359, 361, 361, 359, 359]       # across 180 by 2 degrees, not back across the world


def test_make_basemap_quantizes_lakes_onto_the_land_grid():
    mk = _make_basemap_module()
    lakes = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "square lake"}, "geometry": {"type": "Polygon", "coordinates": [
            [[10.0, 50.0], [10.5, 50.0], [10.5, 50.5], [10.0, 50.5], [10.0, 50.0]],
            [[10.2, 50.2], [10.2, 50.2]]]}},           # a degenerate island: dropped
        {"type": "Feature", "properties": {}, "geometry": None}]}
    rings = mk.lake_rings(lakes, {"scale": [0.5, 0.5], "translate": [-180, -90]})
    assert rings == [[380, 280, 1, 0, 0, 1, -1, 0, 0, -1]]


def test_the_notice_names_the_packaged_file():
    import hashlib
    data = REPO / "exporters" / "report" / "data"
    digest = hashlib.sha256((data / "basemap.json.gz").read_bytes()).hexdigest()
    assert f"`{digest}`" in (data / "NOTICE.md").read_text(encoding="utf-8")


_coord = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([-180.0, 180.0, -90.0, 90.0, 0.0]),
                   st.none(), st.text(max_size=5))
_point = st.fixed_dictionaries({"lat": _coord, "lon": _coord,
                                "kind": st.sampled_from(["photo", "video", "chat_location", "chat_message",
                                                         "device_location", "other", None, "<b>"]),
                                "label": st.one_of(st.none(), st.text(max_size=40))})


@settings(max_examples=60, deadline=None)
@given(st.lists(_point, max_size=12), st.lists(st.lists(st.tuples(_coord, _coord), max_size=4), max_size=2))
def test_any_points_make_a_map_that_parses_and_counts_them(points, tracks):
    root = parse(map_svg(points, tracks=tracks))
    valid = sum(1 for p in points if basemap._valid(p["lat"], p["lon"]) is not None)
    drawn = len(groups(root, "point")) + sum(int(c.get("data-count")) for c in groups(root, "cluster"))
    assert drawn == valid
    assert root.get("aria-label") == f"Map of {valid} point{'s' if valid != 1 else ''}"
    assert not [k for el in root.iter() for k in el.attrib if "href" in k]


def test_a_full_legend_wraps_within_the_map():
    pts = [*EUROPE, dict(lat=51.5008, lon=-0.1247, kind="photo", label="near London")]
    root = parse(map_svg(pts, tracks=[[(52.0, 4.0), (52.1, 4.2)]], width=640))
    legend = next(g for g in root.iter(SVG + "g") if g.get("class") == "legend")
    texts = [t for t in legend.iter(SVG + "text") if t.text != "n"]
    assert len(texts) == 6       # four kinds, the cluster, the track
    assert all(float(t.get("x")) + 5.6 * len(t.text) <= 640 for t in texts)
    assert len({t.get("y") for t in texts}) >= 2
    credit = next(t for t in root.iter(SVG + "text") if t.get("class") == "credit")
    assert float(credit.get("y")) <= 500 and float(credit.get("y")) > max(float(t.get("y")) for t in texts)
