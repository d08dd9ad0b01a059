"""``pachmagic gc`` between two runs of a server with a pipeline: the pipeline
carries on incrementally afterwards, and what a deleted repo held is gone."""

from __future__ import annotations

import json
import random
from pathlib import Path

from pachmagic.server import LocalServer
from pachmagic.server.storage.gc import gc_data_dir

COPY = (
    "import os, shutil\n"
    "for name in os.listdir('/pfs/photos'):\n"
    "    shutil.copy(os.path.join('/pfs/photos', name), '/pfs/out/' + name)\n"
)
SPEC = {
    "pipeline": {"name": "copy"},
    "transform": {"image": "python:3.12", "cmd": ["python3", "-c", COPY]},
    "input": {"pfs": {"repo": "photos", "glob": "/*"}},
}


def test_pipeline_carries_on_after_gc(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    files = {f"/p{i}.bin": random.Random(i).randbytes(300_000 * (i + 1)) for i in range(3)}
    with LocalServer(data_dir, in_process=False) as server:
        client = server.client()
        client.pfs.create_repo("photos")
        client.pfs.create_repo("scratch")
        client.pfs.put_files("scratch@master", {"/junk.bin": random.Random("junk").randbytes(5_000_000)})
        client.pfs.put_files("photos@master", dict(list(files.items())[:2]))
        client.pps.create_pipeline(json.dumps(SPEC))
        assert client.pps.wait_job(client.pps.list_job(pipeline="copy")[0].job).state == "success"
        client.pfs.delete_repo("scratch")

    report = gc_data_dir(data_dir)
    assert report.dead_chunks >= 1 and report.reclaimed_bytes >= 5_000_000

    with LocalServer(data_dir, in_process=False) as server:
        client = server.client()
        name, data = list(files.items())[2]
        client.pfs.put_file("photos@master", name, data)
        job = client.pps.list_job(pipeline="copy")[0]
        finished = client.pps.wait_job(job.job)
        assert finished.state == "success"
        assert (finished.data_processed, finished.data_skipped) == (1, 2)  # still incremental
        for path, content in files.items():
            assert client.pfs.get_file(f"copy@master:{path}") == content
    assert gc_data_dir(data_dir).dead_chunks == 0  # the new job left no garbage behind
