"""The tutorial's pipeline scripts, sample photos and specs, tested without a server.

``contour.py`` and ``histogram.py`` hard-code ``/pfs/...`` as they would in a
container, so each run here happens in a private user+mount namespace
(``unshare -Urm``) whose root is a scratch directory: every top-level entry of the
real root is bind-mounted into it, plus ``/pfs/<name>`` bind mounts onto temp
dirs, then ``chroot``. Nothing is created at the real ``/pfs``. Where namespaces
are not allowed the script tests skip with the reason.

This module must not start the embedded server; the notebooks test the scripts
through it.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from pachmagic.tutorial import make_photos

TUTORIAL = Path(make_photos.__file__).resolve().parent
PHOTOS = TUTORIAL / "photos"
BOOK_PHOTOS = ("landscape.png", "hand.png", "brown_vase.png")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURE_SIZE = (640, 480)  # 6.4 x 4.8 in at 100 dpi, fixed by both scripts

# Runs as `sh -c SETUP setup ROOT [NAME SRC]... -- CMD...` inside the namespace.
_SETUP = r"""
set -eu
root=$1; shift
for entry in /*; do
  name=${entry#/}
  [ "$name" = pfs ] && continue
  if [ -L "$entry" ]; then
    ln -s "$(readlink "$entry")" "$root/$name"
  elif [ -d "$entry" ]; then
    mkdir "$root/$name"
    mount --rbind "$entry" "$root/$name"
  fi
done
while [ "$1" != -- ]; do
  mkdir -p "$root/pfs/$1"
  mount --bind "$2" "$root/pfs/$1"
  shift 2
done
shift
exec chroot "$root" "$@"
"""

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture(scope="module")
def run_with_pfs(tmp_path_factory: pytest.TempPathFactory) -> Runner:
    """Return ``run(command, pfs={name: dir}, env=None)`` with ``/pfs/<name>`` mounted."""
    for tool in ("unshare", "mount", "chroot"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} (util-linux/coreutils) is not installed")
    probe = subprocess.run(["unshare", "-Urm", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"`unshare -Urm true` failed, no private /pfs possible: {probe.stderr.strip()}")
    base = tmp_path_factory.mktemp("pfs")
    # A private matplotlib config dir: no user matplotlibrc can restyle the
    # outputs, and the font cache is built once per module.
    mpl_dir = base / "mplconfig"
    mpl_dir.mkdir()

    def run(
        command: list[str], pfs: Mapping[str, Path], env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        root = tempfile.mkdtemp(prefix="root-", dir=base)
        args = ["unshare", "-Urm", "sh", "-c", _SETUP, "setup", root]
        for name, src in pfs.items():
            args += [name, str(src)]
        args += ["--", *command]
        # Only what the scripts need: no stray `photos`/`contour` variables.
        child_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(base),
            "MPLCONFIGDIR": str(mpl_dir),
            **(env or {}),
        }
        return subprocess.run(args, capture_output=True, text=True, env=child_env, timeout=300)

    setup = run(["true"], {"out": base})
    if setup.returncode != 0:
        pytest.skip(f"cannot build a private root with /pfs mounts: {setup.stderr.strip()}")
    return run


def _script(name: str) -> list[str]:
    return [sys.executable, str(TUTORIAL / name)]


def _run_ok(run: Runner, script: str, pfs: Mapping[str, Path], env: Mapping[str, str] | None = None) -> str:
    result = run(_script(script), pfs, env)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _assert_png(data: bytes, size: tuple[int, int]) -> None:
    assert data.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(data)) as img:
        img.verify()
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == size


def _photos_dir(tmp_path: Path, names: tuple[str, ...] = BOOK_PHOTOS) -> Path:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in names:
        shutil.copyfile(PHOTOS / name, photos / name)
    return photos


def _fresh(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    return path


# ------------------------------------------------------------------ the photos


def test_photos_are_regenerated_byte_for_byte() -> None:
    rendered = make_photos.render_all()
    assert sorted(p.name for p in PHOTOS.iterdir()) == sorted([*rendered, "LICENSE.txt"])
    for name, data in rendered.items():
        committed = (PHOTOS / name).read_bytes()
        with Image.open(io.BytesIO(data)) as new, Image.open(io.BytesIO(committed)) as old:
            assert np.array_equal(np.asarray(new), np.asarray(old)), f"{name}: pixels changed"
        # Same pixels but different bytes would mean a different deflate
        # implementation (e.g. zlib-ng), not a change in the drawing.
        assert data == committed, f"{name}: PNG bytes differ (zlib {zlib.ZLIB_RUNTIME_VERSION})"


@pytest.mark.parametrize("name", sorted(make_photos.PHOTOS))
def test_photo_shape_and_size(name: str) -> None:
    data = (PHOTOS / name).read_bytes()
    assert len(data) <= 60 * 1024
    with Image.open(io.BytesIO(data)) as img:
        assert img.mode == "RGB"
        width, height = img.size
    assert 320 <= width <= 480 and 240 <= height <= 360


def test_photo_licence_is_cc0() -> None:
    text = (PHOTOS / "LICENSE.txt").read_text()
    assert "CC0" in text and "public domain" in text
    assert "CC0" in (make_photos.__doc__ or "")


# ----------------------------------------------------------------- the scripts


def test_contour_then_histogram(run_with_pfs: Runner, tmp_path: Path) -> None:
    photos = _photos_dir(tmp_path)
    contour_out = _fresh(tmp_path, "contour")
    log = _run_ok(run_with_pfs, "contour.py", {"photos": photos, "out": contour_out})

    contours = _read_tree(contour_out)
    assert sorted(contours) == sorted(BOOK_PHOTOS)
    for data in contours.values():
        _assert_png(data, FIGURE_SIZE)
    lines = log.splitlines()
    assert len(lines) == len(BOOK_PHOTOS)
    for line in lines:
        match = re.fullmatch(r"contour: (\S+) -> /pfs/out/(\S+) \((\d+) contours\)", line)
        assert match, line
        assert match[1] == match[2] and int(match[3]) > 0, line

    histogram_out = _fresh(tmp_path, "histogram")
    log = _run_ok(run_with_pfs, "histogram.py", {"contour": contour_out, "out": histogram_out})
    histograms = _read_tree(histogram_out)
    assert sorted(histograms) == sorted(BOOK_PHOTOS)
    for data in histograms.values():
        _assert_png(data, FIGURE_SIZE)
    assert len(log.splitlines()) == len(BOOK_PHOTOS)
    assert all(line.startswith("histogram: ") for line in log.splitlines())
    # Each histogram shows its own image only, so they all differ.
    assert len(set(histograms.values())) == len(BOOK_PHOTOS)


def test_outputs_are_deterministic_and_per_image(run_with_pfs: Runner, tmp_path: Path) -> None:
    def pipeline(photos: Path, tag: str) -> tuple[dict[str, bytes], dict[str, bytes]]:
        contour_out = _fresh(tmp_path, f"contour-{tag}")
        _run_ok(run_with_pfs, "contour.py", {"photos": photos, "out": contour_out})
        histogram_out = _fresh(tmp_path, f"histogram-{tag}")
        _run_ok(run_with_pfs, "histogram.py", {"contour": contour_out, "out": histogram_out})
        return _read_tree(contour_out), _read_tree(histogram_out)

    photos = _photos_dir(tmp_path)
    first = pipeline(photos, "a")
    assert pipeline(photos, "b") == first

    # The book's histogram script accumulated bars across files; ours must give
    # each image the same output whatever else is in the datum.
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copyfile(PHOTOS / "hand.png", alone / "hand.png")
    contour_alone, histogram_alone = pipeline(alone, "alone")
    assert contour_alone["hand.png"] == first[0]["hand.png"]
    assert histogram_alone["hand.png"] == first[1]["hand.png"]


def test_contour_reads_rgba_gray_and_nested_inputs(run_with_pfs: Runner, tmp_path: Path) -> None:
    from skimage import measure

    photos = _photos_dir(tmp_path, ("hand.png",))
    with Image.open(PHOTOS / "hand.png") as img:
        img.convert("RGBA").save(photos / "hand_rgba.png")  # opaque: same gray as RGB
        gray = np.asarray(img.convert("L"))
    (photos / "more").mkdir()
    Image.fromarray(gray).save(photos / "more" / "hand_gray.png")
    (photos / "notes.txt").write_text("not an image\n")
    out = _fresh(tmp_path, "out")

    log = _run_ok(run_with_pfs, "contour.py", {"photos": photos, "out": out})

    outputs = _read_tree(out)
    assert sorted(outputs) == ["hand.png", "hand_rgba.png", "more/hand_gray.png"]
    assert outputs["hand_rgba.png"] == outputs["hand.png"]
    assert "contour: skipping notes.txt (not an image)" in log
    # An 8-bit grayscale file must be scaled to 0..1, not contoured at 0.9 of 255.
    expected = len(measure.find_contours(gray / 255.0, 0.9))  # type: ignore[no-untyped-call]
    assert f"contour: more/hand_gray.png -> /pfs/out/more/hand_gray.png ({expected} contours)" in log
    assert expected > 0


def test_contour_refuses_to_overwrite_an_output(run_with_pfs: Runner, tmp_path: Path) -> None:
    photos = _photos_dir(tmp_path, ("hand.png",))
    with Image.open(PHOTOS / "hand.png") as img:
        img.save(photos / "hand.jpg")
    out = _fresh(tmp_path, "out")
    result = run_with_pfs(_script("contour.py"), {"photos": photos, "out": out})
    assert result.returncode == 1
    assert "would overwrite /pfs/out/hand.png" in result.stderr


def test_input_env_var_selects_one_datum(run_with_pfs: Runner, tmp_path: Path) -> None:
    """With glob ``/*`` Pachyderm sets ``photos=/pfs/photos/<file>`` for each datum."""
    photos = _photos_dir(tmp_path)
    out = _fresh(tmp_path, "out")
    log = _run_ok(run_with_pfs, "contour.py", {"photos": photos, "out": out}, {"photos": "/pfs/photos/hand.png"})
    assert sorted(_read_tree(out)) == ["hand.png"]
    assert log.startswith("contour: hand.png -> /pfs/out/hand.png (")


# ------------------------------------------------------------------- the specs


@pytest.mark.parametrize(
    ("name", "repo", "description"),
    [
        ("contour", "photos", "A pipeline that identifies contours on an image."),
        ("histogram", "contour", "A pipeline that plots a histogram of intensities of each contour image."),
    ],
)
def test_pipeline_specs(name: str, repo: str, description: str) -> None:
    from google.protobuf import json_format

    from pachmagic._proto import pps_pb2

    from_yaml = yaml.safe_load((TUTORIAL / f"{name}.yaml").read_text())
    from_json = json.loads((TUTORIAL / f"{name}.json").read_text())
    assert from_yaml == from_json
    assert from_json == {
        "pipeline": {"name": name},
        "description": description,
        "transform": {"cmd": ["python3", f"{name}.py"], "image": "svekars/contour-histogram:1.0"},
        "input": {"pfs": {"repo": repo, "glob": "/"}},
    }
    # Strict protojson parsing, as pachctl does: unknown fields would raise.
    request = json_format.ParseDict(from_json, pps_pb2.CreatePipelineRequest())
    assert request.pipeline.name == name
    assert (TUTORIAL / request.transform.cmd[1]).is_file()
