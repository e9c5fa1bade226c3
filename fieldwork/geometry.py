"""Point-in-zone tests for monitoring zones: ray casting for polygons, haversine distance for circles.

Coordinates are WGS84 degrees; polygon rings are lists of ``[lon, lat]`` pairs (GeoJSON order), closed (the first
point repeated at the end). Zones are small (a few kilometres), so treating lon/lat as planar for the ray cast is
accurate enough; circles use the great-circle distance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

EARTH_RADIUS_M = 6_371_008.8

# Bounds that stop absurd zones (a typo'd coordinate that would cover a country) from being accepted.
MAX_ZONE_SPAN_M = 100_000.0
MIN_CIRCLE_RADIUS_M = 10.0
MAX_CIRCLE_RADIUS_M = 50_000.0
MAX_POLYGON_POINTS = 2_000


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two points."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def point_in_circle(lon: float, lat: float, centre_lon: float, centre_lat: float, radius_m: float) -> bool:
    """True when the point lies within ``radius_m`` metres of the centre (the boundary counts as inside)."""
    return haversine_m(lon, lat, centre_lon, centre_lat) <= radius_m


def point_in_polygon(lon: float, lat: float, ring: Sequence[Sequence[float]]) -> bool:
    """Ray casting (even-odd rule) against a closed ring of ``[lon, lat]`` points."""
    inside = False
    n = len(ring)
    if n < 4:
        return False
    j = n - 1
    for i in range(n):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat):
            x_cross = (xj - xi) * (lat - yi) / (yj - yi) + xi
            if lon < x_cross:
                inside = not inside
        j = i
    return inside


def polygon_problems(ring: Sequence[Sequence[float]]) -> list[str]:
    """Why a ring is not an acceptable zone; empty when it is."""
    problems: list[str] = []
    if len(ring) < 4:
        problems.append("a polygon needs at least 4 points (3 corners and the first repeated to close it)")
    if len(ring) > MAX_POLYGON_POINTS:
        problems.append(f"a polygon may have at most {MAX_POLYGON_POINTS} points")
    bad = [p for p in ring if len(p) != 2 or not (-180 <= p[0] <= 180) or not (-90 <= p[1] <= 90)]
    if bad:
        problems.append("every point must be [longitude, latitude] within -180..180 and -90..90")
        return problems
    if ring and (ring[0][0] != ring[-1][0] or ring[0][1] != ring[-1][1]):
        problems.append("the ring is not closed: the last point must repeat the first")
    if len(ring) >= 4 and not problems:
        lons = [p[0] for p in ring]
        lats = [p[1] for p in ring]
        span = haversine_m(min(lons), min(lats), max(lons), max(lats))
        if span > MAX_ZONE_SPAN_M:
            problems.append(f"the zone spans {span / 1000:.0f} km; at most {MAX_ZONE_SPAN_M / 1000:.0f} km is allowed")
        if _ring_area(ring) == 0:
            problems.append("the polygon has no area")
    return problems


def circle_problems(lon: float, lat: float, radius_m: float) -> list[str]:
    problems: list[str] = []
    if not (-180 <= lon <= 180) or not (-90 <= lat <= 90):
        problems.append("the centre must be a longitude within -180..180 and a latitude within -90..90")
    if not (MIN_CIRCLE_RADIUS_M <= radius_m <= MAX_CIRCLE_RADIUS_M):
        problems.append(f"the radius must be between {MIN_CIRCLE_RADIUS_M:.0f} and {MAX_CIRCLE_RADIUS_M:.0f} metres")
    return problems


def _ring_area(ring: Sequence[Sequence[float]]) -> float:
    return abs(sum(ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1] for i in range(len(ring) - 1))) / 2
