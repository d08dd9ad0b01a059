"""DataFrame conversion: pachctl column names, real dtypes, empty frames, human HTML."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from pachmagic.client import (
    BranchInfo,
    Commit,
    CommitInfo,
    DatumInfo,
    File,
    FileDiff,
    FileInfo,
    JobInfo,
    LogMessage,
    PipelineInfo,
    ProjectInfo,
    RecordList,
    Repo,
    RepoInfo,
    to_frame,
)
from pachmagic.client.frames import PachFrame, columns_for
from pachmagic.client.records import Record, human_duration, human_size

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
T1 = T0 + timedelta(seconds=75)
UTC_NS = pd.DatetimeTZDtype("ns", "UTC")

EXPECTED_COLUMNS = {
    RepoInfo: ["project", "name", "created", "size", "description"],
    CommitInfo: ["project", "repo", "branch", "commit", "started", "finished", "size", "origin", "description", "error"],
    BranchInfo: ["branch", "head", "trigger", "created"],
    FileInfo: ["name", "type", "size"],
    PipelineInfo: ["project", "name", "version", "input", "created", "state", "last_job", "description"],
    JobInfo: [
        "project", "pipeline", "id", "started", "finished", "duration", "restart", "progress", "dl_bytes",
        "ul_bytes", "state", "reason", "processed", "skipped", "failed", "recovered", "total",
    ],
    DatumInfo: ["id", "files", "state", "time"],
    ProjectInfo: ["project", "created", "description"],
    LogMessage: ["ts", "pipeline", "job", "datum", "worker", "user", "message"],
    FileDiff: ["op", "name", "type", "new_size", "old_size"],
}

SAMPLES: dict[type[Record], Record] = {
    RepoInfo: RepoInfo(project="default", name="photos", created=T0, size_bytes=3 * 1024**2, description="d"),
    CommitInfo: CommitInfo(
        project="default", repo="photos", id="c" * 32, branch="master", started=T0, finished=None,
        size_bytes=10, origin="USER",
    ),
    BranchInfo: BranchInfo(project="default", repo="photos", name="master", head=None, created=T0),
    FileInfo: FileInfo(project="default", repo="photos", path="/a.png", type="file", size_bytes=2048),
    PipelineInfo: PipelineInfo(
        project="default", name="contour", version=2, state="running", last_job_state="success",
        input="photos:/", created=T0, description="x",
    ),
    JobInfo: JobInfo(
        project="default", pipeline="contour", id="j" * 32, state="success", started=T0, finished=T1,
        data_processed=2, data_skipped=1, data_total=3, download_bytes=4096, upload_bytes=1,
    ),
    DatumInfo: DatumInfo(
        project="default", pipeline="contour", job_id="j", id="d" * 64, state="success",
        files=(File(Commit(Repo("photos"), id="c" * 32), "/a.png"),),
        process_time=timedelta(seconds=2), upload_time=timedelta(milliseconds=500),
    ),
    ProjectInfo: ProjectInfo(name="default", created=T0),
    LogMessage: LogMessage(pipeline="contour", job_id="j", user=True, ts=T0, message="hi"),
    FileDiff: FileDiff(new=FileInfo(project="default", repo="r", path="/x", size_bytes=5)),
}


def _is_text(dtype: object) -> bool:
    return bool(pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype))


@pytest.mark.parametrize("kind", list(EXPECTED_COLUMNS), ids=lambda k: k.__name__)
def test_columns_and_dtypes_filled_and_empty(kind: type[Record]) -> None:
    full = to_frame([SAMPLES[kind]])
    empty = to_frame(RecordList(kind))
    assert list(full.columns) == list(empty.columns) == EXPECTED_COLUMNS[kind] == columns_for(kind)
    assert len(full) == 1 and len(empty) == 0
    assert full.dtypes.to_dict() == empty.dtypes.to_dict()
    for column, dtype in full.dtypes.items():
        if column in ("created", "started", "finished", "ts"):
            assert dtype == UTC_NS, column
        elif column in ("size", "new_size", "old_size", "dl_bytes", "ul_bytes", "version", "restart", "processed",
                        "skipped", "failed", "recovered", "total"):
            assert dtype == "int64", column
        elif column in ("duration", "time"):
            assert dtype == "timedelta64[ns]", column
        elif column == "user":
            assert dtype == bool
        else:
            assert _is_text(dtype), (column, dtype)


def test_values() -> None:
    repos = to_frame([SAMPLES[RepoInfo], RepoInfo(project="default", name="contour", type="spec")])
    assert repos["name"].tolist() == ["photos", "contour.spec"]
    assert repos["size"].sum() == 3 * 1024**2
    assert repos["created"].iloc[0] == pd.Timestamp(T0)
    assert pd.isna(repos["created"].iloc[1])

    jobs = to_frame([SAMPLES[JobInfo]])
    row = jobs.iloc[0]
    assert row["duration"] == pd.Timedelta(seconds=75)
    assert row["progress"] == "2 + 1 / 3"
    assert (row["processed"], row["skipped"], row["total"], row["dl_bytes"]) == (2, 1, 3, 4096)

    datums = to_frame([SAMPLES[DatumInfo]])
    assert datums["files"].iloc[0] == f"photos@{'c' * 32}:/a.png"
    assert datums["time"].iloc[0] == pd.Timedelta(seconds=2.5)

    commits = to_frame([SAMPLES[CommitInfo]])
    assert pd.isna(commits["finished"].iloc[0])
    assert to_frame([SAMPLES[FileDiff]])["op"].tolist() == ["+"]


def test_kind_detection_and_errors() -> None:
    with pytest.raises(ValueError, match="pass kind="):
        to_frame([])
    assert list(to_frame([], kind=FileInfo).columns) == ["name", "type", "size"]
    assert len(to_frame(SAMPLES[RepoInfo])) == 1  # a single record
    with pytest.raises(TypeError, match="among RepoInfo"):
        to_frame([SAMPLES[RepoInfo], SAMPLES[FileInfo]])
    assert RecordList(RepoInfo, [SAMPLES[RepoInfo]]).to_frame().shape == (1, 5)


def test_frame_is_a_dataframe_and_html_is_human() -> None:
    frame = to_frame([SAMPLES[RepoInfo]])
    assert isinstance(frame, pd.DataFrame) and isinstance(frame, PachFrame)
    assert frame.attrs["pachmagic"]["sizes"] == ["size"]
    html = frame._repr_html_()
    assert html is not None and "3MiB" in html and str(3 * 1024**2) not in html
    assert "3145728" in repr(frame)  # text repr keeps sizes exact
    assert "2024-05-01 10:00:00 " in repr(frame) + " " and "2024-05-01 10:00:00<" in html  # times to the second
    assert str(frame["created"].dtype) == "datetime64[ns, UTC]"
    jobs_html = to_frame([SAMPLES[JobInfo]])._repr_html_()
    assert jobs_html is not None and "1m15s" in jobs_html and "4KiB" in jobs_html
    derived = frame[["name", "size"]]
    assert isinstance(derived, PachFrame) and "3MiB" in str(derived._repr_html_())
    assert "<table" in to_frame(RecordList(RepoInfo))._repr_html_()
    assert "<table" in RecordList(RepoInfo, [SAMPLES[RepoInfo]])._repr_html_()


def test_human_formats() -> None:
    assert [human_size(n) for n in (0, 512, 1024, 55306, 3 * 1024**3)] == ["0B", "512B", "1KiB", "54.01KiB", "3GiB"]
    assert human_duration(timedelta(milliseconds=850)) == "850ms"
    assert human_duration(timedelta(seconds=12.34)) == "12.3s"
    assert human_duration(timedelta(minutes=4, seconds=5)) == "4m05s"
    assert human_duration(timedelta(hours=2, minutes=3)) == "2h03m"


def test_record_repr_and_html() -> None:
    info = SAMPLES[RepoInfo]
    text = repr(info)
    assert text.startswith("RepoInfo(project='default', name='photos'")
    assert "created=2024-05-01T10:00:00+00:00" in text and "description='d'" in text
    html = info._repr_html_()
    assert "<table>" in html and "3MiB" in html and "photos" in html
    job = SAMPLES[JobInfo]
    commit = SAMPLES[CommitInfo]
    assert isinstance(job, JobInfo) and isinstance(commit, CommitInfo)
    assert job.duration == timedelta(seconds=75) and job.done
    assert commit.state == "open"
