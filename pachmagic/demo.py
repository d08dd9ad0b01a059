"""``pachmagic demo``: the tutorial's photos → contour → histogram workflow, headless.

Starts a temporary embedded server, creates the ``photos`` repo with the sample
photos, creates the ``contour`` and ``histogram`` pipelines from the tutorial's
specs, waits for the jobs, prints the repo, pipeline and job tables, downloads
the output images and says where they are. Returns non-zero if any job failed.
It uses only the public client API, exactly as a notebook would.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable

import pandas as pd

from .client import Client, to_frame
from .server import LocalServer

__all__ = ["run_demo", "TUTORIAL_DIR", "PHOTOS"]

TUTORIAL_DIR = Path(__file__).resolve().parent / "tutorial"
PHOTOS = ("landscape.png", "hand.png", "brown_vase.png")


def _table(df: pd.DataFrame, columns: list[str]) -> str:
    shown = df[[c for c in columns if c in df.columns]]
    return shown.to_string(index=False) if len(shown) else "(none)"


def run_workflow(client: Client, echo: Callable[[str], None]) -> bool:
    """Create the repo, put the photos, create both pipelines, wait; True if all jobs succeeded."""
    client.pfs.create_repo("photos", description="Sample photos for the contour/histogram tutorial.")
    client.pfs.put_files("photos@master", [(name, (TUTORIAL_DIR / "photos" / name).read_bytes()) for name in PHOTOS])
    echo(f"put {len(PHOTOS)} photos into photos@master")
    for spec in ("contour.yaml", "histogram.yaml"):
        client.pps.create_pipeline((TUTORIAL_DIR / spec).read_text())
        echo(f"created pipeline from {spec}")
    echo("waiting for the jobs to finish ...")
    client.pfs.wait_commit("histogram@master")
    jobs = client.pps.list_job()
    return all(job.state == "success" for job in jobs)


def run_demo(output: Path, echo: Callable[[str], None] = print) -> int:
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
            for repo in ("contour", "histogram"):
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
                echo("\nSome jobs did not succeed; see the reason column above and `pachmagic` logs.")
                for line in client.pps.get_logs(pipeline="contour"):
                    echo(f"  contour: {line.message}")
            client.close()
            return 0 if ok and written else 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
