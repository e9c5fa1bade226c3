"""Point-in-zone tests the check-in package relies on."""

from __future__ import annotations

import msgspec
import pytest

from fieldwork import geometry
from fieldwork.schemas import OrderContent
from fieldwork.service import zone_breaches

SQUARE = [[-1.56, 53.79], [-1.54, 53.79], [-1.54, 53.81], [-1.56, 53.81], [-1.56, 53.79]]
CONCAVE = [[0, 0], [4, 0], [4, 4], [2, 2], [0, 4], [0, 0]]


@pytest.mark.parametrize(
    ("lon", "lat", "inside"),
    [(-1.55, 53.80, True), (-1.53, 53.80, False), (-1.55, 53.82, False), (-1.5599, 53.7901, True)],
)
def test_point_in_polygon_by_ray_casting(lon: float, lat: float, inside: bool) -> None:
    assert geometry.point_in_polygon(lon, lat, SQUARE) is inside


def test_a_concave_polygon_excludes_its_notch() -> None:
    assert geometry.point_in_polygon(1, 1, CONCAVE)
    assert not geometry.point_in_polygon(2, 3, CONCAVE)
    assert geometry.point_in_polygon(3.5, 3, CONCAVE)


def test_point_in_circle_uses_great_circle_distance() -> None:
    # One degree of latitude is about 111.2 km.
    assert 111_000 < geometry.haversine_m(0, 51, 0, 52) < 111_400
    assert geometry.point_in_circle(-1.5491, 53.8008, -1.5491, 53.8, 100)
    assert not geometry.point_in_circle(-1.5491, 53.802, -1.5491, 53.8, 100)


def test_zone_validation_refuses_open_tiny_or_absurd_shapes() -> None:
    assert geometry.polygon_problems(SQUARE) == []
    assert any("not closed" in p for p in geometry.polygon_problems([*SQUARE[:-1], [-1.55, 53.8]]))
    assert any("at least 4" in p for p in geometry.polygon_problems([[0, 0], [1, 1], [0, 0]]))
    assert any("spans" in p for p in geometry.polygon_problems([[-5, 50], [2, 50], [2, 58], [-5, 50]]))
    assert any("latitude" in p for p in geometry.polygon_problems([[0, 0], [0, 95], [1, 1], [0, 0]]))
    assert geometry.circle_problems(-1.5, 53.8, 500) == []
    assert geometry.circle_problems(-1.5, 53.8, 5) != []
    assert geometry.circle_problems(-1.5, 53.8, 1_000_000) != []


def test_zone_breaches_for_exclusion_and_inclusion_zones() -> None:
    content = msgspec.convert(
        {
            "conditions": [
                {"type": "ZONE", "zone_type": "EXCLUSION", "geometry": {"kind": "POLYGON", "coordinates": SQUARE}},
                {
                    "type": "ZONE",
                    "zone_type": "INCLUSION",
                    "geometry": {"kind": "CIRCLE", "centre": [-1.55, 53.80], "radius_m": 5000},
                },
            ]
        },
        OrderContent,
    )
    assert [z.zone_type for z in zone_breaches(content, -1.55, 53.80)] == ["EXCLUSION"]
    assert zone_breaches(content, -1.50, 53.80) == []
    assert [z.zone_type for z in zone_breaches(content, -1.0, 53.80)] == ["INCLUSION"]
