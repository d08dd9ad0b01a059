"""Tutorial assets: sample photos, the contour/histogram pipeline scripts and their specs.

``DIR`` is this directory (start the embedded server with it as the workdir so
that the specs' relative ``python3 contour.py`` finds the scripts), ``PHOTOS``
the directory of sample photos.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DIR", "PHOTOS"]

DIR = Path(__file__).resolve().parent
PHOTOS = DIR / "photos"
