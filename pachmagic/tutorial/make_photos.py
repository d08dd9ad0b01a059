"""Generate the tutorial's sample photos: ``landscape``, ``hand``, ``brown_vase``, ``red_vase``.

The four PNGs in ``photos/`` are original images drawn here from numbers alone (no
source photographs, fonts or downloaded assets), and are dedicated to the public
domain under CC0 1.0 (https://creativecommons.org/publicdomain/zero/1.0/). They
stand in for the photos of the book's contour/histogram example, keeping its file
names, and are designed so that the contour pipeline's iso-line at 0.9 of the
grayscale image finds something to draw: a hazy sky and sun glow, clouds and sun
glitter on water; a hand and its shadow on paper with a vignette; specular
highlights on glazed vases against a lit wall.

Output is deterministic: the same bytes on every run. Pixels come from float64
numpy arithmetic rounded to 8 bits (a last-digit difference in a platform's
``sin``/``exp`` would have to land exactly on a rounding boundary to show), and
the PNG container is written here with the standard library's ``zlib`` (not
Pillow), so the bytes depend only on zlib's deflate, which has been stable for
years in classic zlib (zlib-ng compresses differently). The test suite
regenerates the photos and compares them with the committed files.

Run ``python -m pachmagic.tutorial.make_photos [OUT_DIR]`` to rewrite them. This
module must not import matplotlib or scikit-image: numpy is enough.

Over 400 lines because four pictures are drawn from arithmetic alone (no assets to ship).
"""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

PHOTOS_DIR = Path(__file__).resolve().parent / "photos"

# Rendering at 3x and box-filtering down gives anti-aliased edges without any
# drawing library.
_SUPERSAMPLE = 3


# --------------------------------------------------------------------------- PNG


def png_bytes(rgb: NDArray[np.uint8]) -> bytes:
    """Encode an ``(H, W, 3)`` uint8 array as an 8-bit RGB PNG.

    Every scanline uses the Sub filter (on these images it compresses better
    than Paeth or per-row adaptive choice) and the stream is deflated at level
    9; no ancillary chunks, so no timestamps.
    """
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}")
    height, width, _ = rgb.shape
    left = np.zeros_like(rgb)
    left[:, 1:] = rgb[:, :-1]
    # uint8 subtraction wraps modulo 256, exactly as the filter is defined.
    filtered = (rgb - left).reshape(height, width * 3)
    scanlines = np.hstack([np.full((height, 1), 1, dtype=np.uint8), filtered])

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(scanlines.tobytes(), 9))
        + chunk(b"IEND", b"")
    )


# ------------------------------------------------------------------ primitives


def _grid(width: int, height: int, scale: float = 1.0) -> tuple[Array, Array]:
    """Sample-centre coordinates at the supersampled rate.

    Units are output pixels divided by ``scale``, so a scene laid out for one
    size can be rendered smaller.
    """
    s = _SUPERSAMPLE
    xs = (np.arange(width * s, dtype=np.float64) + 0.5) / (s * scale)
    ys = (np.arange(height * s, dtype=np.float64) + 0.5) / (s * scale)
    x, y = np.meshgrid(xs, ys)
    return x, y


def _downsample(img: Array) -> NDArray[np.uint8]:
    s = _SUPERSAMPLE
    h, w = img.shape[0] // s, img.shape[1] // s
    box = img.reshape(h, s, w, s, 3).mean(axis=(1, 3))
    out: NDArray[np.uint8] = np.rint(np.clip(box, 0.0, 1.0) * 255.0).astype(np.uint8)
    return out


def _smoothstep(edge0: float, edge1: float, v: Array) -> Array:
    t = np.clip((v - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _mix(base: Array, color: Array | tuple[float, float, float], weight: Array) -> Array:
    """Blend ``color`` over ``base`` (both RGB) with a per-pixel weight in 0..1."""
    w = weight[..., None]
    return base * (1.0 - w) + np.asarray(color, dtype=np.float64) * w


def _rgb(r: Array | float, g: Array | float, b: Array | float, like: Array) -> Array:
    out = np.empty(like.shape + (3,), dtype=np.float64)
    out[..., 0], out[..., 1], out[..., 2] = r, g, b
    return out


def _gradient(t: Array, top: tuple[float, ...], bottom: tuple[float, ...]) -> Array:
    t3 = np.clip(t, 0.0, 1.0)[..., None]
    return np.asarray(top) * (1.0 - t3) + np.asarray(bottom) * t3


def _capsule(x: Array, y: Array, p: tuple[float, float], q: tuple[float, float], r: float) -> Array:
    """Signed distance to a line segment p-q thickened to radius r."""
    px, py = x - p[0], y - p[1]
    dx, dy = q[0] - p[0], q[1] - p[1]
    h = np.clip((px * dx + py * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    return np.hypot(px - h * dx, py - h * dy) - r


def _ellipse(x: Array, y: Array, cx: float, cy: float, rx: float, ry: float) -> Array:
    """Approximate signed distance to an ellipse (exact on the axes, fine for shading)."""
    k = np.hypot((x - cx) / rx, (y - cy) / ry)
    return (k - 1.0) * min(rx, ry)


def _smin(a: Array, b: Array, k: float) -> Array:
    """Polynomial smooth minimum: unions shapes with a fillet of size ``k``."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b * (1.0 - h) + a * h - k * h * (1.0 - h)


def _coverage(sdf: Array, soft: float = 0.6) -> Array:
    """Inside-ness of a signed distance field; supersampling does the rest."""
    return _smoothstep(soft, -soft, sdf)


# ------------------------------------------------------------------- landscape


def landscape(scale: float = 0.9) -> NDArray[np.uint8]:
    """A lake in the afternoon: hazy sky, sun, clouds, hills, glittering water.

    Laid out on a 480 x 320 canvas and rendered at ``scale`` (432 x 288 by
    default, which keeps the PNG under 60 KB).
    """
    width, height = 480, 320
    x, y = _grid(round(width * scale), round(height * scale), scale)
    horizon = 0.60 * height
    sun_x, sun_y, sun_r = 0.68 * width, 0.30 * height, 17.0

    # Sky: deep blue at the top to a warm haze at the horizon. The sun's wide
    # glow lifts the haze above 0.9, so the contour draws a halo down to the ridge.
    t = (y / horizon) ** 1.25
    img = _gradient(t, (0.30, 0.50, 0.84), (1.0, 0.97, 0.90))
    sun_d = np.hypot(x - sun_x, y - sun_y)
    img = _mix(img, (1.0, 0.98, 0.88), np.exp(-((sun_d / 80.0) ** 1.3)))
    img = _mix(img, (1.0, 1.0, 0.94), _coverage(sun_d - sun_r, 1.2))

    # Clouds: a few blobs each, white on top and grey-blue underneath, so that
    # only their upper parts clear 0.9.
    for cx, cy, s in ((95.0, 62.0, 1.0), (250.0, 40.0, 0.7), (410.0, 95.0, 0.8), (175.0, 120.0, 0.55)):
        cloud = np.full_like(x, 1e9)
        for dx, dy, rx, ry in ((0, 0, 42, 15), (-30, 6, 26, 11), (32, 5, 30, 12), (8, -10, 24, 13)):
            e = _ellipse(x, y, cx + dx * s, cy + dy * s, rx * s, ry * s)
            cloud = _smin(cloud, e, 8.0 * s)
        underside = _smoothstep(-6.0 * s, 14.0 * s, y - cy)
        col = _mix(_rgb(1.0, 1.0, 1.0, x), (0.74, 0.77, 0.86), underside)
        img = _mix(img, col, 0.95 * _coverage(cloud, 3.0 * s))

    # Distant mountains (hazy blue) and nearer green hills, each a sum of sines.
    ridge = (
        0.43 * height
        + 16.0 * np.sin(x / 37.0 + 0.6)
        + 9.0 * np.sin(x / 13.0 + 2.0)
        + 4.0 * np.sin(x / 5.3)
    )
    ridge_t = np.clip((y - ridge) / (horizon - ridge + 1e-9), 0.0, 1.0)
    mountains = _gradient(ridge_t, (0.52, 0.60, 0.72), (0.62, 0.68, 0.74))
    img = _mix(img, mountains, _coverage(ridge - y, 0.8) * (y < horizon))

    hill_left = horizon - 55.0 * np.exp(-(((x - 40.0) / 150.0) ** 2)) - 6.0 * np.sin(x / 9.0) * (x < 200)
    hill_right = horizon - 38.0 * np.exp(-(((x - 470.0) / 110.0) ** 2)) - 4.0 * np.sin(x / 7.0 + 1.0)
    for top, base_col in ((hill_left, (0.22, 0.42, 0.18)), (hill_right, (0.26, 0.44, 0.22))):
        depth = np.clip((y - top) / 40.0, 0.0, 1.0)
        col = _gradient(depth, (0.45, 0.62, 0.30), base_col)
        # Stripes of fields/trees so the hills are not flat paint.
        col = col * (1.0 - 0.05 * _smoothstep(0.3, 0.9, np.sin(x / 4.0 + y / 2.5)))[..., None]
        img = _mix(img, col, _coverage(top - y, 0.8) * (y < horizon))

    # Water: darker, reflected sky, with ripples whose glints under the sun
    # become the many small 0.9-contours on the lake.
    below = y >= horizon
    depth = (y - horizon) / (height - horizon)
    water = _gradient(depth, (0.72, 0.78, 0.84), (0.22, 0.38, 0.56))
    freq = 0.5 / (0.3 + depth)  # ripples get larger towards the viewer
    ripple = np.sin(y * freq + 2.5 * np.sin(x / 23.0 + y / 11.0)) * np.sin(x / (5.0 + 18.0 * depth) + 1.3 * np.sin(y / 4.0))
    water = water * (1.0 + 0.025 * ripple)[..., None]
    glitter_band = np.exp(-(((x - sun_x) / (26.0 + 70.0 * depth)) ** 2))
    glint = _smoothstep(0.35, 0.75, ripple) * glitter_band
    water = _mix(water, (1.0, 0.98, 0.92), glint)
    shore = np.exp(-(((y - horizon) / 2.0) ** 2))
    water = _mix(water, (0.15, 0.22, 0.18), 0.5 * shore)
    img = np.where(below[..., None], water, img)

    # A grassy bank with reeds in the bottom left corner anchors the foreground.
    bank = height - 10.0 - 38.0 * np.exp(-((x / 120.0) ** 2))
    bank_col = _gradient((y - bank) / 30.0, (0.30, 0.42, 0.16), (0.10, 0.18, 0.08))
    img = _mix(img, bank_col, _coverage(bank - y, 0.8))
    reeds = np.full_like(x, 1e9)
    reed_tops = ((18.0, 238.0), (30.0, 228.0), (41.0, 246.0), (55.0, 236.0), (67.0, 252.0), (84.0, 262.0))
    for i, (reed_x, reed_y) in enumerate(reed_tops):
        lean = 6.0 if i % 2 else -4.0
        stem = _capsule(x, y, (reed_x, float(height)), (reed_x + lean, reed_y), 1.3)
        head = _ellipse(x, y, reed_x + lean, reed_y + 9.0, 2.6, 9.0)
        reeds = np.minimum(reeds, np.minimum(stem, head))
    img = _mix(img, (0.16, 0.20, 0.08), _coverage(reeds, 0.5))
    return _downsample(img)


# ------------------------------------------------------------------------ hand


def hand(width: int = 400, height: int = 300) -> NDArray[np.uint8]:
    """An open left hand, palm towards the viewer, with its shadow on paper."""
    x, y = _grid(width, height)

    def hand_sdf(ox: float, oy: float) -> Array:
        hx, hy = x - ox, y - oy
        d = _ellipse(hx, hy, 200.0, 200.0, 58.0, 64.0)
        d = _smin(d, _capsule(hx, hy, (200.0, 240.0), (205.0, 330.0), 46.0), 14.0)  # wrist
        fingers = (
            ((165.0, 160.0), (140.0, 58.0), 14.5),  # index
            ((195.0, 150.0), (192.0, 40.0), 15.0),  # middle
            ((222.0, 155.0), (240.0, 55.0), 14.0),  # ring
            ((245.0, 172.0), (288.0, 95.0), 11.5),  # little
            ((160.0, 222.0), (92.0, 160.0), 17.0),  # thumb
        )
        for base, tip, r in fingers:
            d = _smin(d, _capsule(hx, hy, base, tip, r), 9.0)
        return d

    # Paper with a vignette: its bright centre sits above 0.9, the corners below,
    # so the contour draws an oval frame around the hand.
    r2 = ((x - width / 2) / (width / 2)) ** 2 + ((y - height / 2) / (height / 2)) ** 2
    img = _rgb(0.99, 0.98, 0.96, x) * (1.0 - 0.13 * r2)[..., None]

    shadow = hand_sdf(14.0, 10.0)
    img = img * (1.0 - 0.28 * _smoothstep(14.0, -6.0, shadow))[..., None]

    d = hand_sdf(0.0, 0.0)
    inside = _coverage(d, 0.7)
    # Depth below the outline stands in for surface curvature: edges darker and
    # redder, the middle of palm and fingers lighter.
    depth = np.clip(-d / 14.0, 0.0, 1.0)
    light = 0.72 + 0.28 * np.sqrt(depth)
    skin = _rgb(0.90 * light, 0.69 * light, 0.56 * light, x)
    # Palm creases (heart, head and life lines) as quadratic Bezier curves.
    palm = _coverage(_ellipse(x, y, 200.0, 205.0, 50.0, 56.0), 6.0)
    for p0, p1, p2, w in (
        ((252.0, 186.0), (212.0, 204.0), (168.0, 170.0), 1.7),
        ((160.0, 193.0), (200.0, 200.0), (242.0, 232.0), 1.6),
        ((157.0, 190.0), (158.0, 246.0), (200.0, 274.0), 1.8),
    ):
        crease = np.full_like(x, 1e9)
        ts = np.linspace(0.0, 1.0, 13)
        pts = [
            tuple((1 - t) ** 2 * np.asarray(p0) + 2 * (1 - t) * t * np.asarray(p1) + t**2 * np.asarray(p2))
            for t in ts
        ]
        for a, b in zip(pts[:-1], pts[1:]):
            crease = np.minimum(crease, _capsule(x, y, a, b, 0.0))
        skin = _mix(skin, (0.62, 0.42, 0.34), 0.55 * np.exp(-((crease / w) ** 2)) * palm)
    # Finger joint creases.
    for p, q, r in (
        ((147.0, 108.0), (140.0, 58.0), 14.5),
        ((193.0, 95.0), (192.0, 40.0), 15.0),
        ((232.0, 104.0), (240.0, 55.0), 14.0),
        ((268.0, 133.0), (288.0, 95.0), 11.5),
    ):
        joint = np.exp(-(np.hypot(x - p[0], y - p[1]) / r) ** 8)
        line = np.exp(-(((y - p[1]) * 0.9 + (x - p[0]) * 0.15) / 1.6) ** 2)
        skin = _mix(skin, (0.66, 0.46, 0.38), 0.5 * joint * line)
        # Fingernails: light, glossy ellipses at the tips (seen from the palm side
        # only their edge would show, so this is a stylised back-lit nail glow).
        nail = _coverage(np.hypot(x - q[0], y - q[1] - 3.0) - r * 0.55, 1.5)
        skin = _mix(skin, (0.97, 0.86, 0.82), 0.55 * nail)
        glint = np.exp(-(np.hypot(x - q[0] + 3.0, y - q[1]) / 3.0) ** 2)
        skin = _mix(skin, (1.0, 1.0, 1.0), 0.9 * glint)
    img = _mix(img, skin, inside)
    return _downsample(img)


# ----------------------------------------------------------------------- vases


def _catmull_rom(points: list[tuple[float, float]], per_segment: int = 64) -> Array:
    """A smooth curve through ``points`` (uniform Catmull-Rom), as an (N, 2) array."""
    p = np.asarray(points, dtype=np.float64)
    p = np.vstack([2.0 * p[0] - p[1], p, 2.0 * p[-1] - p[-2]])  # mirrored end points
    t = np.linspace(0.0, 1.0, per_segment, endpoint=False)[:, None]
    pieces = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        pieces.append(
            0.5
            * (
                2.0 * p1
                + (p2 - p0) * t
                + (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3) * t**2
                + (3.0 * p1 - p0 - 3.0 * p2 + p3) * t**3
            )
        )
    pieces.append(p[-2][None, :])
    return np.vstack(pieces)


def _vase(
    width: int,
    height: int,
    *,
    profile: list[tuple[float, float]],
    center_x: float,
    bottom_y: float,
    top_y: float,
    glaze: tuple[float, float, float],
    shininess: float,
    wall_top: tuple[float, float, float],
    wall_bottom: tuple[float, float, float],
    table: tuple[float, float, float],
    band: tuple[float, float, float] | None,
) -> NDArray[np.uint8]:
    """A glazed vase (a surface of revolution) on a table in front of a lit wall.

    ``profile`` lists (height fraction from the base, radius in pixels) control
    points, joined by a smooth (Catmull-Rom) curve.
    """
    x, y = _grid(width, height)
    table_y = 0.70 * height

    # Wall lit from the upper left: the bright corner crosses 0.9.
    wall_t = np.clip(np.hypot(x / width, y / table_y) / 1.35, 0.0, 1.0)
    img = _gradient(wall_t, wall_top, wall_bottom)
    table_t = np.clip((y - table_y) / (height - table_y), 0.0, 1.0)
    table_col = _gradient(table_t, tuple(c * 0.92 for c in table), table)
    grain = np.sin(y * 1.1 + 2.5 * np.sin(x / 37.0) + 0.8 * np.sin(x / 11.0)) * 0.03
    table_col = table_col * (1.0 + grain)[..., None]
    img = np.where((y >= table_y)[..., None], table_col, img)
    img = _mix(img, (0.35, 0.30, 0.27), np.exp(-(((y - table_y) / 1.5) ** 2)) * 0.6)

    # Profile radius r(y) and its slope, on a fine grid of output rows.
    rows = np.linspace(top_y, bottom_y, 1024)
    frac = (bottom_y - rows) / (bottom_y - top_y)
    curve = _catmull_rom(profile)
    radius = np.interp(frac, np.maximum.accumulate(curve[:, 0]), curve[:, 1])
    slope = np.gradient(radius, rows)
    r = np.interp(y, rows, radius)
    dr = np.interp(y, rows, slope)
    # The base is a circle seen from slightly above: the bottom edge bulges down.
    base_r = float(radius[-1])
    bulge = 0.2 * base_r * np.sqrt(np.clip(1.0 - ((x - center_x) / base_r) ** 2, 0.0, 1.0))
    within = _coverage(top_y - y, 0.8) * _coverage(y - (bottom_y + bulge), 0.8)

    # Soft contact shadow on the table, cast to the lower right.
    sh = _ellipse(x, y, center_x + 0.55 * base_r, bottom_y + 0.1 * base_r, base_r * 1.7, base_r * 0.3)
    img = img * (1.0 - 0.45 * _smoothstep(10.0, -10.0, sh))[..., None]

    # Shading: normal of a surface of revolution, Lambert + Blinn-Phong.
    u = np.clip((x - center_x) / np.maximum(r, 1e-6), -1.0, 1.0)
    nz = np.sqrt(np.clip(1.0 - u * u, 0.0, 1.0))
    norm = np.sqrt(1.0 + dr * dr)
    n = (u / norm, -dr * nz / norm, nz / norm)
    light = np.array([-0.55, -0.45, 0.70])
    light /= np.linalg.norm(light)
    half = light + np.array([0.0, 0.0, 1.0])
    half /= np.linalg.norm(half)
    lambert = np.clip(n[0] * light[0] + n[1] * light[1] + n[2] * light[2], 0.0, 1.0)
    n_dot_h = np.clip(n[0] * half[0] + n[1] * half[1] + n[2] * half[2], 0.0, 1.0)
    spec = n_dot_h**shininess
    body = np.asarray(glaze)
    frac_y = (bottom_y - y) / (bottom_y - top_y)
    color = _rgb(body[0], body[1], body[2], x)
    if band is not None:
        stripe = _smoothstep(0.03, 0.0, np.abs(frac_y - 0.42) - 0.035)
        color = _mix(color, band, stripe)
    # Rim light from the wall keeps the shadow side from going flat black.
    rim = (np.abs(u) ** 6)[..., None] * 0.18
    shaded = color * (0.18 + 0.82 * lambert)[..., None] + rim * np.asarray(wall_bottom)
    # A broad sheen plus the sharp highlight of the light source.
    sheen = n_dot_h ** (shininess / 6.0)
    shaded = _mix(shaded, (1.0, 1.0, 1.0), np.clip(0.25 * sheen + 1.1 * spec, 0.0, 1.0))
    edge = np.abs(x - center_x) - r
    img = _mix(img, shaded, _coverage(edge, 0.8) * within)

    # The mouth: a dark ellipse with a lit lip.
    top_r = float(radius[0])
    mouth = _ellipse(x, y, center_x, top_y, top_r, top_r * 0.22)
    img = _mix(img, np.asarray(glaze) * 0.9 + 0.1, _coverage(mouth, 0.8))
    inner = _ellipse(x, y, center_x, top_y + 0.6, top_r * 0.82, top_r * 0.16)
    img = _mix(img, np.asarray(glaze) * 0.15, _coverage(inner, 0.8))
    return _downsample(img)


def brown_vase(width: int = 360, height: int = 360) -> NDArray[np.uint8]:
    """A round-bellied brown stoneware vase with a lighter glaze band."""
    return _vase(
        width,
        height,
        profile=[(0.0, 40.0), (0.08, 62.0), (0.35, 92.0), (0.60, 78.0), (0.80, 38.0), (0.92, 30.0), (1.0, 38.0)],
        center_x=170.0,
        bottom_y=0.84 * height,
        top_y=0.22 * height,
        glaze=(0.50, 0.30, 0.15),
        shininess=45.0,
        wall_top=(0.99, 0.97, 0.93),
        wall_bottom=(0.74, 0.70, 0.64),
        table=(0.62, 0.46, 0.32),
        band=(0.70, 0.55, 0.36),
    )


def red_vase(width: int = 360, height: int = 360) -> NDArray[np.uint8]:
    """A slender, glossy red bottle vase on a cool grey background."""
    return _vase(
        width,
        height,
        profile=[(0.0, 34.0), (0.06, 46.0), (0.25, 56.0), (0.45, 50.0), (0.65, 26.0), (0.85, 18.0), (0.95, 20.0), (1.0, 26.0)],
        center_x=190.0,
        bottom_y=0.86 * height,
        top_y=0.12 * height,
        glaze=(0.72, 0.08, 0.09),
        shininess=90.0,
        wall_top=(0.97, 0.98, 1.0),
        wall_bottom=(0.66, 0.69, 0.74),
        table=(0.78, 0.76, 0.72),
        band=None,
    )


# ------------------------------------------------------------------------ main

PHOTOS: dict[str, Callable[[], NDArray[np.uint8]]] = {
    "landscape.png": landscape,
    "hand.png": hand,
    "brown_vase.png": brown_vase,
    "red_vase.png": red_vase,
}


def render_all() -> dict[str, bytes]:
    """Return ``{file name: PNG bytes}`` for every tutorial photo."""
    return {name: png_bytes(draw()) for name, draw in PHOTOS.items()}


def main(argv: list[str] | None = None) -> int:
    """Write the photos to ``argv[0]`` (default: the package's ``photos/``)."""
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0]) if args else PHOTOS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in render_all().items():
        (out_dir / name).write_bytes(data)
        print(f"{out_dir / name}: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
