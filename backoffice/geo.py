"""Valencia's districts, used as zones for filtering and coverage, and distances."""

import math

EARTH_RADIUS_KM = 6371.0088

# District name -> (lat, lon) of its rough centre.
ZONES: dict[str, tuple[float, float]] = {
    "Ciutat Vella": (39.4744, -0.3770),
    "L'Eixample": (39.4636, -0.3697),
    "Extramurs": (39.4700, -0.3880),
    "Campanar": (39.4840, -0.3950),
    "La Saïdia": (39.4860, -0.3730),
    "El Pla del Real": (39.4790, -0.3590),
    "L'Olivereta": (39.4660, -0.4040),
    "Patraix": (39.4560, -0.3960),
    "Jesús": (39.4500, -0.3830),
    "Quatre Carreres": (39.4480, -0.3650),
    "Poblats Marítims": (39.4620, -0.3310),
    "Camins al Grau": (39.4660, -0.3490),
    "Algirós": (39.4770, -0.3470),
    "Benimaclet": (39.4870, -0.3590),
    "Rascanya": (39.4970, -0.3690),
    "Benicalap": (39.4960, -0.3920),
}


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def zone_for(lat: float | None, lon: float | None) -> str | None:
    """Return the district whose centre is nearest to the point."""
    if lat is None or lon is None:
        return None
    return min(ZONES, key=lambda z: haversine_km(lat, lon, *ZONES[z]))
