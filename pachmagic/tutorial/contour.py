"""Pipeline ``contour``: draw the 0.9 iso-contours of every photo in ``/pfs/photos``.

This is user code for a Pachyderm pipeline, written to run unchanged in a
container on a cluster or under pachmagic's embedded server: it takes no
arguments, reads its input under ``/pfs/photos`` and writes ``/pfs/out``. For
every image file found (recursively) it writes ``/pfs/out/<same relative
path, .png>``: the grayscale image, shown with a fixed -1..1 display range, with
each contour at level 0.9 drawn on top as a 2-px line.

Behaviour follows the contour script of "Reproducible Data Science with
Pachyderm" (chapter 6); this is an independent implementation. Differences: each
figure is closed after saving, one log line is printed per image, and the PNG
bytes are reproducible (fixed size and dpi, no version metadata), so the same
input always yields the same output.

Pachyderm also puts the datum's input path in an environment variable named
after the input (``photos=/pfs/photos`` for glob ``/``, ``/pfs/photos/a.png``
for glob ``/*``); when set, only that file or directory is processed.

The syntax stays within Python 3.6 and skimage/matplotlib APIs that predate
2020, because the book's container image (``svekars/contour-histogram:1.0``)
ships those; the byte-reproducibility needs matplotlib >= 3.3 (``metadata``
entries set to None are dropped).
"""

# scikit-image ships py.typed but leaves these functions unannotated.
# mypy: allow-untyped-calls

import os
import sys
from typing import TYPE_CHECKING, Iterator, Set, Tuple

import matplotlib

# Containers have no display; select the file-only backend before pyplot loads.
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from skimage import io, measure  # noqa: E402
from skimage.color import rgb2gray  # noqa: E402
from skimage.util import img_as_float  # noqa: E402

if TYPE_CHECKING:  # numpy.typing is newer than the book image's numpy
    from numpy.typing import NDArray

INPUT_NAME = "photos"
INPUT_ROOT = "/pfs/photos"
OUTPUT_ROOT = "/pfs/out"
LEVEL = 0.9
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp")
# 6.4 x 4.8 in at 100 dpi: matplotlib's historical default canvas (640 x 480 px),
# pinned so output does not depend on the installed matplotlibrc.
FIGSIZE = (6.4, 4.8)
DPI = 100


def input_files(name: str, root: str) -> Iterator[Tuple[str, str]]:
    """Yield ``(path, path relative to root)`` for each file of input ``name``, sorted."""
    target = os.environ.get(name) or root
    inside = target == root or target.startswith(root.rstrip("/") + "/")
    if os.path.isfile(target):
        yield target, os.path.relpath(target, root if inside else os.path.dirname(target))
        return
    base = root if inside else target
    # followlinks: a worker may present inputs as symlinks into a scratch dir.
    for dirpath, dirnames, filenames in os.walk(target, followlinks=True):
        dirnames.sort()  # sorted traversal makes the log order stable
        for filename in sorted(filenames):
            path = os.path.join(dirpath, filename)
            yield path, os.path.relpath(path, base)


def read_gray(path: str) -> "NDArray[np.float64]":
    """Read an image as 2-D grayscale floats in 0..1.

    Not ``io.imread(path, as_gray=True)`` alone: that leaves files that are
    already grayscale as integers 0..255, where level 0.9 would mean nothing,
    and older scikit-image rejects RGBA. Transparent pixels are composited on
    white, as ``skimage.color.rgba2rgb`` does.
    """
    img = img_as_float(io.imread(path))
    if img.ndim == 4:  # animated GIF and friends: first frame
        img = img[0]
    if img.ndim == 3:
        if img.shape[-1] in (2, 4):
            color, alpha = img[..., :-1], img[..., -1:]
            img = color * alpha + (1.0 - alpha)
        img = rgb2gray(img) if img.shape[-1] == 3 else img[..., 0]
    return np.asarray(img, dtype=np.float64)


def draw_contours(gray: "NDArray[np.float64]", out_path: str) -> int:
    """Save the image with its contours drawn over it; return the contour count."""
    contours = measure.find_contours(gray, LEVEL)
    fig = plt.figure(figsize=FIGSIZE, dpi=DPI)
    try:
        ax = fig.add_subplot(1, 1, 1)
        ax.imshow(gray, vmin=-1, vmax=1, cmap="gray")
        for contour in contours:
            ax.plot(contour[:, 1], contour[:, 0], linewidth=2)
        ax.axis("image")
        ax.set_xticks([])
        ax.set_yticks([])
        # Software=None drops matplotlib's version string: reproducible bytes.
        fig.savefig(out_path, dpi=DPI, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
    return len(contours)


def main() -> int:
    written: Set[str] = set()
    for path, rel in input_files(INPUT_NAME, INPUT_ROOT):
        if not rel.lower().endswith(IMAGE_SUFFIXES):
            print("contour: skipping {} (not an image)".format(rel), flush=True)
            continue
        out_path = os.path.join(OUTPUT_ROOT, os.path.splitext(rel)[0] + ".png")
        if out_path in written:
            # e.g. a.jpg and a.png: a silent overwrite would lose one of them.
            print("contour: {} would overwrite {}".format(rel, out_path), file=sys.stderr)
            return 1
        written.add(out_path)
        os.makedirs(os.path.dirname(out_path), exist_ok=True)
        count = draw_contours(read_gray(path), out_path)
        print("contour: {} -> {} ({} contours)".format(rel, out_path, count), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
