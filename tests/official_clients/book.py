"""What both official clients' book scripts are checked against: the same photos,
the same output shapes, the same later steps (a new photo, a subscription)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
PHOTOS = HERE.parents[1] / "pachmagic" / "tutorial" / "photos"
BOOK_PHOTOS = ("landscape.png", "hand.png", "brown_vase.png")
# Commit and job ids: uuid4 hex. Both clients depend on that shape: python-pachyderm sends
# a string matching it to InspectCommitSet, the SDK's from_uri reads "repo@<it>" as an id.
ID = r"[0-9a-f]{12}4[0-9a-f]{19}"
SHA = r"[0-9a-f]{64}"


def sha256_of(sdk: Any, uri: str) -> str:
    """The SHA-256 of a file, read with pachyderm-sdk."""
    from pachyderm_sdk.api import pfs

    with sdk.pfs.pfs_file(file=pfs.File.from_uri(uri)) as f:
        return hashlib.sha256(f.read()).hexdigest()


def log_patterns(pipeline: str, names: list[str]) -> list[re.Pattern[str]]:
    """The user log line the tutorial's contour or histogram code writes per photo."""
    if pipeline == "contour":
        tail = r"\(\d+ contours\)"
    else:
        tail = r"\(\d+ of \d+ values in 10\.\.69\)"
    return [
        re.compile(rf"log {pipeline}: {pipeline}: {re.escape(n)} -> /pfs/out/{re.escape(n)} {tail}") for n in names
    ]


def check_more_photos_and_subscribe(
    run_script: Callable[..., list[str]], check_lines: Callable[..., None], python: Any, scripts: Path, sdk: Any
) -> None:
    """more_photos.py (a new photo starts one commit set down the DAG; the script waits
    for it and reads the outputs at its id), then subscribe_commit.py (SubscribeCommit
    streams the two photo commits, oldest first)."""
    from pachyderm_sdk.api import pps

    out = run_script(python, scripts / "more_photos.py")
    names = sorted([*BOOK_PHOTOS, "red_vase.png"])
    members = ["contour.meta", "contour.spec", "contour.user", "histogram.meta", "histogram.spec", "histogram.user",
               "photos.user"]
    expected: list[Any] = ["put file photos@master:/red_vase.png"]
    # As pachd: the set comes with the commits of other sets in its provenance (the specs)
    expected += [f"commit set member: {m} same_id={not m.endswith('.spec')} finished=True error=''" for m in members]
    for pipeline in ("contour", "histogram"):
        expected += [
            re.compile(rf"{pipeline}@<set>:/red_vase\.png: PNG 640x480 sha256={SHA}"),
            f"files {pipeline}@<set>: " + " ".join(f"/{n}" for n in names),
        ]
    check_lines(out, expected, "more_photos.py")
    for pipeline in ("contour", "histogram"):
        jobs = list(sdk.pps.list_job(pipeline=pps.Pipeline(name=pipeline)))
        assert [j.state for j in jobs] == [pps.JobState.JOB_SUCCESS] * 2

    out = run_script(python, scripts / "subscribe_commit.py")
    check_lines(out, ["subscribe_commit photos@master: 2 commits, oldest first: True"], "subscribe_commit.py")
