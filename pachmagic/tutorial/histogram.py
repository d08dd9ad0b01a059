"""Pipeline ``histogram``: plot an intensity histogram of every image in ``/pfs/contour``.

User code for a Pachyderm pipeline whose input is the ``contour`` pipeline's
output repo; it takes no arguments, reads ``/pfs/contour`` and writes
``/pfs/out``, so it runs unchanged in a container on a cluster or under
pachmagic's embedded server. For every PNG found (recursively) it writes
``/pfs/out/<same relative path>``: a histogram of all the image's channel values
(R, G, B and A together) over the integer bins 10..69, on a log-scaled count axis.

Behaviour follows the histogram script of "Reproducible Data Science with
Pachyderm" (chapter 6); this is an independent implementation with one
deliberate difference: every image gets a fresh figure. The book drew into one
figure that was never cleared, so each saved histogram also held the bars of
every file processed before it, and the result depended on directory order.
Also: one log line per image, and reproducible PNG bytes.

When Pachyderm sets the ``contour`` environment variable (the datum's input
path) only that file or directory is processed. Syntax stays within Python 3.6
for the book's container image; byte-reproducibility needs matplotlib >= 3.3.
"""

import os
import sys
from typing import TYPE_CHECKING, Iterator, Tuple

import matplotlib

# Containers have no display; select the file-only backend before pyplot loads.
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from skimage import io  # noqa: E402

if TYPE_CHECKING:  # numpy.typing is newer than the book image's numpy
    from numpy.typing import NDArray

INPUT_NAME = "contour"
INPUT_ROOT = "/pfs/contour"
OUTPUT_ROOT = "/pfs/out"
BINS = range(10, 70)
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


def plot_histogram(values: "NDArray[np.generic]", out_path: str) -> int:
    """Save the histogram of ``values``; return how many fell into the bins."""
    # A new figure per image (the book reused one; see the module docstring).
    fig = plt.figure(figsize=FIGSIZE, dpi=DPI)
    try:
        ax = fig.add_subplot(1, 1, 1)
        counts, _, _ = ax.hist(values, bins=BINS, color="blue", alpha=0.5, rwidth=0.7)
        ax.set_yscale("log")
        ax.set_xlabel("Intensity")
        ax.set_ylabel("Count")
        # Software=None drops matplotlib's version string: reproducible bytes.
        fig.savefig(out_path, dpi=DPI, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
    return int(np.sum(counts))


def main() -> int:
    for path, rel in input_files(INPUT_NAME, INPUT_ROOT):
        if not rel.lower().endswith(".png"):
            print("histogram: skipping {} (not a PNG)".format(rel), flush=True)
            continue
        out_path = os.path.join(OUTPUT_ROOT, rel)
        os.makedirs(os.path.dirname(out_path), exist_ok=True)
        values = np.asarray(io.imread(path)).ravel()
        in_bins = plot_histogram(values, out_path)
        print(
            "histogram: {} -> {} ({} of {} values in {}..{})".format(
                rel, out_path, in_bins, values.size, BINS.start, BINS.stop - 1
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
