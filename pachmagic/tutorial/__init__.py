"""Tutorial assets: sample photos, the contour/histogram pipeline scripts and their specs."""
