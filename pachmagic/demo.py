"""``pachmagic demo``: notebook 2's photos → contour → histogram workflow, headless.

The same steps as ``notebooks/02_contour_histogram_magics.ipynb``, through the
public client API, on a temporary embedded server:

1. create the ``photos`` repo with three sample photos and the ``contour`` and
   ``histogram`` pipelines from the tutorial's specs (glob ``/``);
2. add ``red_vase.png``: with glob ``/`` the one datum is the whole repo, so
   every photo is processed again;
3. update both pipelines to glob ``/*`` (one datum per photo);
4. take ``red_vase.png`` out and put it back: now only its datum runs.

It prints what each step's jobs did, the repo, pipeline and job tables, writes
the output images under ``--output`` and says where they are. Returns non-zero
if a job did not succeed.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import pandas as pd  # type: ignore[import-untyped,unused-ignore]
import yaml

from .client import Client, JobInfo, to_frame
from .server import LocalServer
from .tutorial import DIR as TUTORIAL_DIR
from .tutorial import PHOTOS as PHOTOS_DIR

__all__ = ["run_demo", "run_workflow", "TUTORIAL_DIR", "PHOTOS", "NEW_PHOTO"]

PHOTOS = ("landscape.png", "hand.png", "brown_vase.png")
NEW_PHOTO = "red_vase.png"
PIPELINES = ("contour", "histogram")

Echo = Callable[[str], None]


def _table(df: pd.DataFrame, columns: list[str]) -> str:
    shown = df[[c for c in columns if c in df.columns]]
    return shown.to_string(index=False) if len(shown) else "(none)"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _spec(name: str, glob: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((TUTORIAL_DIR / f"{name}.yaml").read_text())
    if glob is not None:
        spec["input"]["pfs"]["glob"] = glob
    return spec


def _report(client: Client, jobs: list[JobInfo], echo: Echo) -> bool:
    """Print one line per job (with what the code logged); True if all succeeded."""
    for job in sorted(jobs, key=lambda j: PIPELINES.index(j.pipeline) if j.pipeline in PIPELINES else 99):
        lines = [m for m in client.pps.get_logs(job=job.job) if m.user]
        echo(
            f"   {job.pipeline}: {job.state}, {_count(job.data_processed, 'datum')} processed, "
            f"{job.data_skipped} skipped; the code wrote {_count(len(lines), 'image')}"
            + (f" ({job.reason})" if job.reason else "")
        )
    return all(job.state == "success" for job in jobs)


def _after_commit(client: Client, echo: Echo) -> bool:
    """Wait for the jobs of the commit just made to photos@master and report them."""
    commit_set = client.pfs.inspect_commit("photos@master").id
    return _report(client, list(client.pps.inspect_job_set(commit_set, wait=True)), echo)


def _newest_job(client: Client, pipeline: str) -> JobInfo:
    return client.pps.list_job(pipeline=pipeline, number=1)[0]


def run_workflow(client: Client, echo: Echo = print) -> bool:
    """Run notebook 2's steps against ``client``; True if every job succeeded.

    The server must run relative transform commands in the tutorial's directory
    (``LocalServer(workdir=pachmagic.tutorial.DIR)``), or a copy of its scripts.
    """
    ok = True
    client.pfs.create_repo("photos", description="Sample photos for the contour/histogram tutorial.")
    client.pfs.put_files("photos@master", [(name, PHOTOS_DIR / name) for name in PHOTOS])
    for name in PIPELINES:
        client.pps.create_pipeline(_spec(name))
    echo(f"1. put {len(PHOTOS)} photos into photos@master; created pipelines contour and histogram (glob /)")
    client.pfs.wait_commit("histogram@master")
    ok &= _report(client, [_newest_job(client, name) for name in PIPELINES], echo)

    client.pfs.put_file("photos@master", NEW_PHOTO, PHOTOS_DIR / NEW_PHOTO)
    echo(f"2. put {NEW_PHOTO}: with glob / the whole repo is one datum, so every photo is processed again")
    ok &= _after_commit(client, echo)

    echo("3. update the pipelines to glob /* (one datum per photo)")
    for name, step in (("histogram", ["histogram"]), ("contour", list(PIPELINES))):
        # histogram first: when contour reruns, its byte-identical outputs are skipped downstream
        client.pps.create_pipeline(_spec(name, "/*"), update=True)
        client.pfs.wait_commit("histogram@master")
        echo(f"   updated {name}: its datums have new ids (one per file), so they run once")
        ok &= _report(client, [_newest_job(client, n) for n in step], echo)

    client.pfs.delete_file("photos@master", f"/{NEW_PHOTO}")
    echo(f"4. deleted {NEW_PHOTO}: the other datums are skipped, its outputs disappear")
    ok &= _after_commit(client, echo)
    client.pfs.put_file("photos@master", NEW_PHOTO, PHOTOS_DIR / NEW_PHOTO)
    echo(f"   put {NEW_PHOTO} back: only its datum runs")
    ok &= _after_commit(client, echo)
    return bool(ok)


def run_demo(output: Path, echo: Echo = print) -> int:
    """Run the workflow on a temporary server; write outputs under ``output``."""
    workdir = Path(tempfile.mkdtemp(prefix="pachmagic-demo-"))
    for script in ("contour.py", "histogram.py"):
        shutil.copy(TUTORIAL_DIR / script, workdir / script)
    try:
        with LocalServer(workdir=workdir) as server:
            echo(f"embedded Pachyderm-compatible server at {server.address} (data in {server.data_dir})")
            client = server.client()
            ok = run_workflow(client, echo)
            echo("\nRepos:\n" + _table(to_frame(client.pfs.list_repo()), ["name", "created", "size", "description"]))
            echo("\nPipelines:\n" + _table(to_frame(client.pps.list_pipeline()), ["name", "version", "input", "state", "last_job"]))
            echo(
                "\nJobs:\n"
                + _table(to_frame(client.pps.list_job()), ["pipeline", "id", "state", "processed", "skipped", "total", "reason"])
            )
            output.mkdir(parents=True, exist_ok=True)
            written = []
            for repo in PIPELINES:
                for info in client.pfs.list_file(f"{repo}@master:/"):
                    if info.type != "file":
                        continue
                    target = output / repo / info.path.lstrip("/")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    client.pfs.get_file_to_path(f"{repo}@master:{info.path}", target)
                    written.append(target)
            echo(f"\nWrote {len(written)} output images under {output.resolve()}:")
            for path in written:
                echo(f"  {path}")
            if not ok:
                echo("\nSome jobs did not succeed; see the reason column above. The contour pipeline's log:")
                for line in client.pps.get_logs(pipeline="contour"):
                    echo(f"  contour: {line.message}")
            client.close()
            return 0 if ok and written else 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
