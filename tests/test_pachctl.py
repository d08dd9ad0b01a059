"""pachctl and Pachyderm's Go client (2.12.2, built from source by tests/go) against ``pachmagic serve``.

pachctl reaches the server the way a user's would: through a pachctl config
context whose ``pachd_address`` is the server (``PACH_CONFIG`` points at a
config in the test's tmp dir). Every command is checked on its output or on its
effect, and every run checks that pachctl printed no warning about the
server's version or cluster (see ``tests/go/pachctl_runner.py``).

Skipped only where there is no Go toolchain; a failed build fails. The first
test of a run builds pachctl (minutes when cold; see tests/go/README.md) and
later runs reuse it from ``~/.cache/pachmagic-go``.

The Go client test runs ``tests/go/tutorial/main.go``, our program written
against ``github.com/pachyderm/pachyderm/v2/src/client`` doing what the book's
Go scripts do, each step checked inside the program (it prints ``ok ...`` per
step, ``FAIL ...`` and exits 1 on the first failure). It connects the way those
scripts do, ``client.NewOnUserMachine``, so through the active pachctl context
of ``PACH_CONFIG``. Afterwards pachyderm-sdk confirms the server state.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from pachmagic.server import LocalServer
from tests.go import gobuild
from tests.go import pachctl_runner as runner

TUTORIAL = Path(__file__).resolve().parents[1] / "pachmagic" / "tutorial"
PHOTOS = TUTORIAL / "photos"
PNG = b"\x89PNG\r\n\x1a\n"


# The build runs inside the first test's setup: give it the build's own budget on top.
pytestmark = pytest.mark.timeout(gobuild.BUILD_TIMEOUT + 600)


@pytest.fixture(scope="session")
def go_binaries() -> Any:
    return gobuild.build_or_skip()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[LocalServer]:
    """``pachmagic serve`` (a child process) with --workdir = the tutorial, so ``python3 contour.py`` resolves."""
    with LocalServer(data_dir=tmp_path / "data", workdir=TUTORIAL, in_process=False) as srv:
        yield srv
        # Shown by pytest only when the test failed.
        print("--- server log (tail) ---\n" + "\n".join(srv.log_lines[-60:]))


@pytest.fixture
def pachctl(go_binaries: Any, serve: LocalServer, tmp_path: Path) -> Any:
    return runner.Pachctl(go_binaries.pachctl, serve.address, tmp_path / "pachctl-home")


def names(rows: list[dict[str, Any]], *path: str) -> list[str]:
    """``names(rows, "repo", "name")``: that field of every row."""
    out = []
    for row in rows:
        value: Any = row
        for key in path:
            value = value[key]
        out.append(str(value))
    return out


def table_column(result: Any, column: str) -> list[str]:
    header, *rows = result.table()
    index = header.index(column)
    return [row[index] for row in rows]


def test_version_and_context_without_warnings(pachctl: Any) -> None:
    result = pachctl.run("version")
    assert result.table() == [["COMPONENT", "VERSION"], ["pachctl", "2.12.2"], ["pachd", "2.12.2"]]
    assert result.stderr == ""
    # pachctl saved the deployment id InspectCluster reported into its context.
    context = pachctl.context()
    assert context["pachd_address"].startswith("grpc://127.0.0.1:")
    assert re.fullmatch(r"[0-9a-f]{32}", context["cluster_deployment_id"])
    # Verbose mode shows the InspectCluster exchange: the client sends its
    # version and the server answers warnings_ok with no warnings.
    verbose = pachctl.run("list", "repo", "-v", no_warnings=False)  # its debug log names warnings_ok
    levels = {line.split("\t")[1] for line in verbose.stderr.splitlines() if line.count("\t") >= 2}
    assert levels <= {"DEBUG", "INFO"}, verbose.stderr[-3000:]
    exchange = [line for line in verbose.stderr.splitlines() if "InspectCluster: span finished ok" in line]
    assert exchange and '"warnings_ok": true' in exchange[0] and '"warnings": []' in exchange[0], verbose.stderr[-3000:]
    assert pachctl.run("list", "repo").table() == [["PROJECT", "NAME", "CREATED", "SIZE (MASTER)", "DESCRIPTION"]]
    # Defaults (GetClusterDefaults/GetProjectDefaults): a fresh pachd's cluster defaults are its
    # built-in resource requests (tests/conformance); no project defaults.
    requests = {"cpu": 1, "memory": "256Mi", "disk": "1Gi"}
    assert json.loads(pachctl.run("inspect", "defaults", "--cluster").stdout) == {
        "createPipelineRequest": {"resourceRequests": requests, "sidecarResourceRequests": requests}}
    assert pachctl.run("inspect", "defaults", "--project", "default").stdout.strip() == "{}"
    pachctl.run("delete", "defaults", "--cluster")


def test_connect_creates_a_context_for_the_server(go_binaries: Any, serve: LocalServer, tmp_path: Path) -> None:
    """``pachctl connect grpc://127.0.0.1:PORT`` (no config yet) is all a user needs."""
    fresh = runner.Pachctl(go_binaries.pachctl, serve.address, tmp_path / "fresh")
    fresh.config.unlink()
    connected = fresh.run("connect", f"grpc://{serve.address}", "--alias", "embedded")
    assert "Context 'embedded' set as active" in connected.stdout
    assert fresh.run("config", "get", "active-context").stdout.strip() == "embedded"
    fresh.run("create", "repo", "hello")
    assert table_column(fresh.run("list", "repo"), "NAME") == ["hello"]


def test_repos_files_and_commits(pachctl: Any, tmp_path: Path) -> None:
    pachctl.run("create", "repo", "photos", "-d", "the tutorial's photos")
    listed = pachctl.run("list", "repo")
    assert table_column(listed, "NAME") == ["photos"]
    assert "the tutorial's photos" in listed.stdout
    assert names(pachctl.raw("list", "repo"), "repo", "name") == ["photos"]

    # -f, twice: one invocation, one commit, two files named after their sources.
    pachctl.run("put", "file", "photos@master", "-f", str(PHOTOS / "hand.png"), "-f", str(PHOTOS / "landscape.png"))
    assert table_column(pachctl.run("list", "file", "photos@master"), "NAME") == ["/hand.png", "/landscape.png"]
    assert len(pachctl.raw("list", "commit", "photos@master")) == 1

    # -r: a local directory tree under a path.
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("alpha\n")
    (tree / "sub" / "b.txt").write_text("beta\n")
    pachctl.run("put", "file", "photos@master:/more", "-r", "-f", str(tree))
    assert table_column(pachctl.run("list", "file", "photos@master:/more"), "NAME") == ["/more/a.txt", "/more/sub/"]

    # A path target overwrites; -a appends.
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("first line\n")
    second.write_text("second line\n")
    pachctl.run("put", "file", "photos@master:/notes.txt", "-f", str(first))
    pachctl.run("put", "file", "photos@master:/notes.txt", "-f", str(first))
    assert pachctl.run("get", "file", "photos@master:/notes.txt").stdout == "first line\n"
    pachctl.run("put", "file", "photos@master:/notes.txt", "-a", "-f", str(second))
    assert pachctl.run("get", "file", "photos@master:/notes.txt").stdout == "first line\nsecond line\n"

    # -i: sources listed in a file.
    listing = tmp_path / "sources.txt"
    listing.write_text(f"{PHOTOS / 'red_vase.png'}\n{PHOTOS / 'brown_vase.png'}\n")
    pachctl.run("put", "file", "photos@master", "-i", str(listing))

    listed = pachctl.run("list", "file", "photos@master")
    assert listed.table()[0] == ["SIZE", "NAME"]
    assert table_column(listed, "NAME") == [
        "/brown_vase.png", "/hand.png", "/landscape.png", "/more/", "/notes.txt", "/red_vase.png",
    ]
    sizes = {f["file"]["path"]: int(f["size_bytes"]) for f in pachctl.raw("list", "file", "photos@master")}
    assert sizes["/hand.png"] == (PHOTOS / "hand.png").stat().st_size

    # get file: to a file (-o), and a directory with -r (GetFileTAR).
    out = tmp_path / "hand.png"
    pachctl.run("get", "file", "photos@master:/hand.png", "-o", str(out))
    assert out.read_bytes() == (PHOTOS / "hand.png").read_bytes()
    pachctl.run("get", "file", "-r", "photos@master:/more", "-o", str(tmp_path / "more"))
    assert (tmp_path / "more" / "a.txt").read_text() == "alpha\n"
    assert (tmp_path / "more" / "sub" / "b.txt").read_text() == "beta\n"

    globbed = pachctl.run("glob", "file", "photos@master:/*.png")
    assert table_column(globbed, "NAME") == ["/brown_vase.png", "/hand.png", "/landscape.png", "/red_vase.png"]
    assert table_column(pachctl.run("glob", "file", "photos@master:/more/**"), "NAME") == [
        "/more/a.txt", "/more/sub/", "/more/sub/b.txt",
    ]

    # diff file: the last commit (the -i one) against its parent.
    diff = pachctl.run("diff", "file", "photos@master", "photos@master^", "--name-only")
    assert diff.table()[0] == ["OP", "SIZE", "NAME"]
    # As with pachd: the root directory changed too (pachctl shows a changed path as + new, - old).
    assert [(row[0], row[-1]) for row in diff.table()[1:]] == [
        ("+", "/"), ("-", "/"), ("+", "/brown_vase.png"), ("+", "/red_vase.png")]
    text_diff = pachctl.run(
        "diff", "file", "photos@master^:/notes.txt", "photos@master^^:/notes.txt", "--diff-command", "diff -u"
    )
    assert "+second line" in text_diff.lines and " first line" in text_diff.lines

    # Commits: six put file invocations, six commits, newest first.
    commits = pachctl.raw("list", "commit", "photos@master")
    assert len(commits) == 6
    assert all(c["origin"]["kind"] == "USER" and c.get("finished") for c in commits)
    head = commits[0]["commit"]["id"]
    listed = pachctl.run("list", "commit", "photos@master")
    assert table_column(listed, "COMMIT") == [c["commit"]["id"] for c in commits]
    assert len(pachctl.run("list", "commit", "photos@master", "-n", "2").table()) == 3
    sets = pachctl.run("list", "commit")
    assert sets.table()[0][:2] == ["ID", "SUBCOMMITS"] and head in table_column(sets, "ID")
    inspected = pachctl.run("inspect", "commit", "photos@master")
    assert f"Commit: photos@{head}" in inspected.lines
    assert f"Parent: {commits[1]['commit']['id']}" in inspected.lines
    assert pachctl.raw("inspect", "commit", f"photos@{head}")[0]["commit"]["id"] == head

    # wait commit blocks on an open commit until it is finished.
    pachctl.run("start", "commit", "photos@master")
    waiter = subprocess.Popen(
        [pachctl.exe, "wait", "commit", "photos@master", "--raw", "--no-color"],
        env=pachctl.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(1.0)
        assert waiter.poll() is None, "wait commit returned while the commit was open"
        pachctl.run("finish", "commit", "photos@master")
        stdout, stderr = waiter.communicate(timeout=60)
    finally:
        waiter.kill()
    assert waiter.returncode == 0, stderr
    (waited,) = runner.iter_json(stdout)
    assert waited["finished"] and waited["commit"]["id"] != head

    pachctl.run("delete", "repo", "photos")
    assert pachctl.raw("list", "repo") == []


def _jobs(pachctl: Any, pipeline: str) -> list[dict[str, Any]]:
    return pachctl.raw("list", "job", "-p", pipeline, "--history", "all")  # type: ignore[no-any-return]


def _pipeline(pachctl: Any, name: str) -> dict[str, Any]:
    (info,) = pachctl.raw("inspect", "pipeline", name)
    return info  # type: ignore[no-any-return]


def _wait_until(what: str, check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_pipelines_jobs_datums_and_logs(pachctl: Any, tmp_path: Path) -> None:
    pachctl.run("create", "repo", "photos")
    three = [PHOTOS / n for n in ("hand.png", "landscape.png", "red_vase.png")]
    pachctl.run("put", "file", "photos@master", *[a for p in three for a in ("-f", str(p))])

    # JSON and YAML specs, as written for a cluster.
    pachctl.run("create", "pipeline", "-f", str(TUTORIAL / "contour.json"))
    pachctl.run("create", "pipeline", "-f", str(TUTORIAL / "histogram.yaml"))
    listed = pachctl.run("list", "pipeline")
    assert table_column(listed, "NAME") == ["histogram", "contour"]  # newest first, as pachd
    assert table_column(listed, "INPUT") == ["default/contour:/", "default/photos:/"]
    specs = {p["pipeline"]["name"]: p for p in pachctl.raw("list", "pipeline")}
    assert specs["contour"]["details"]["transform"]["cmd"] == ["python3", "contour.py"]
    assert specs["histogram"]["details"]["input"]["pfs"]["glob"] == "/"

    pachctl.run("wait", "commit", "histogram@master")
    assert table_column(pachctl.run("list", "file", "histogram@master"), "NAME") == [
        "/hand.png", "/landscape.png", "/red_vase.png",
    ]
    pachctl.run("get", "file", "histogram@master:/hand.png", "-o", str(tmp_path / "histogram.png"))
    assert (tmp_path / "histogram.png").read_bytes().startswith(PNG)

    # Jobs: job sets, one set's jobs, a pipeline's jobs, one job.
    (job,) = _jobs(pachctl, "contour")
    job_id = job["job"]["id"]
    assert job["state"] == "JOB_SUCCESS" and int(job["data_processed"]) == 1
    sets = pachctl.run("list", "job")
    assert sets.table()[0][:2] == ["ID", "SUBJOBS"] and job_id in table_column(sets, "ID")
    one_set = pachctl.run("list", "job", job_id)
    assert table_column(one_set, "PIPELINE") == ["contour"] and table_column(one_set, "STATE") == ["success"]
    waited = pachctl.run("wait", "job", f"contour@{job_id}")
    assert "success" in waited.stdout
    inspected = pachctl.run("inspect", "job", f"contour@{job_id}")
    for line in (f"ID: {job_id}", "Pipeline: contour", "State: success", "Processed: 1", "Total: 1"):
        assert line in inspected.lines, inspected.stdout
    datums = pachctl.run("list", "datum", f"contour@{job_id}")
    assert datums.table()[0] == ["ID", "FILES", "STATUS", "TIME"]
    (datum,) = datums.table()[1:]
    assert re.fullmatch(r"[0-9a-f]{64}", datum[0]) and datum[2] == "success"

    # Logs: the user code's lines, by pipeline and by job.
    for args in (("-p", "contour"), ("-j", f"contour@{job_id}")):
        lines = pachctl.run("logs", *args).lines
        assert any(line.startswith("contour: hand.png -> /pfs/out/hand.png") for line in lines), lines

    # update --reprocess: a new version whose job processes the datum again.
    pachctl.run("update", "pipeline", "-f", str(TUTORIAL / "contour.yaml"), "--reprocess")
    assert int(_pipeline(pachctl, "contour")["version"]) == 2  # uint64: a JSON string
    newest = _wait_until("the reprocessing job", lambda: [j for j in _jobs(pachctl, "contour") if j["job"]["id"] != job_id])
    new_id = newest[0]["job"]["id"]
    pachctl.run("wait", "job", f"contour@{new_id}")
    (redone,) = [j for j in _jobs(pachctl, "contour") if j["job"]["id"] == new_id]
    assert redone["state"] == "JOB_SUCCESS"
    assert int(redone["data_processed"]) == 1 and int(redone.get("data_skipped", 0)) == 0
    pachctl.run("wait", "commit", "histogram@master")

    # stop: no jobs for new input; start: the pipeline catches up.
    pachctl.run("stop", "pipeline", "contour")
    stopped = _pipeline(pachctl, "contour")
    assert stopped["state"] == "PIPELINE_PAUSED" and stopped["stopped"] is True
    assert "paused" in pachctl.run("list", "pipeline").stdout
    before = len(_jobs(pachctl, "contour"))
    pachctl.run("put", "file", "photos@master", "-f", str(PHOTOS / "brown_vase.png"))
    pachctl.run("wait", "commit", "photos@master")
    time.sleep(1.0)
    assert len(_jobs(pachctl, "contour")) == before
    pachctl.run("start", "pipeline", "contour")
    assert not _pipeline(pachctl, "contour").get("stopped")  # false: omitted
    _wait_until("a job after start", lambda: len(_jobs(pachctl, "contour")) > before)
    pachctl.run("wait", "commit", "contour@master")
    assert "/brown_vase.png" in table_column(pachctl.run("list", "file", "contour@master"), "NAME")
    pachctl.run("wait", "commit", "histogram@master")

    # delete pipeline: the pipeline and its repos go.
    pachctl.run("delete", "pipeline", "histogram")
    assert table_column(pachctl.run("list", "pipeline"), "NAME") == ["contour"]
    assert "histogram" not in " ".join(names(pachctl.raw("list", "repo", "--all"), "repo", "name"))

    # delete repo: refused while a pipeline reads it, done with --force.
    refused = pachctl.run("delete", "repo", "photos", check=False)
    assert refused.returncode != 0 and "cannot be deleted because" in refused.stderr
    pachctl.run("delete", "repo", "photos", "--force")
    assert "photos" not in names(pachctl.raw("list", "repo"), "repo", "name")

    # delete all (it asks first).
    pachctl.run("create", "repo", "scratch")
    pachctl.run("delete", "all", input="y\n")
    assert pachctl.raw("list", "repo", "--all") == []
    assert pachctl.raw("list", "pipeline") == []
    assert pachctl.raw("list", "job") == []


# --- Pachyderm's Go client ----------------------------------------------------


def test_go_client_runs_the_tutorial(go_binaries: Any, serve: LocalServer, tmp_path: Path) -> None:
    # The same context pachctl would use (writes $PACH_CONFIG; the program reads it).
    context = runner.Pachctl(go_binaries.pachctl, serve.address, tmp_path / "home")
    result = subprocess.run(
        [str(go_binaries.tutorial), str(TUTORIAL / "photos")],
        env=context.env, capture_output=True, text=True, timeout=600,
    )
    shown = f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    assert result.returncode == 0, shown
    lines = result.stdout.splitlines()
    assert lines == [
        "ok version 2.12.2; cluster without warnings",
        "ok create repo photos; repos: photos",
        "ok put file x3; files: /brown_vase.png /hand.png /landscape.png",
        "ok create pipelines; pipelines: contour histogram",
        lines[4] if lines[4:5] and lines[4].startswith("ok outputs ready; histogram@master:/brown_vase.png is a ") else "<outputs>",
        "ok cleanup; no repos, no pipelines",
        "PASS",
    ], shown
    # The client logs the version-skew warning on stderr when warnings_ok is missing.
    assert not runner.WARNING.search(result.stderr), shown
    # The client saved the cluster's deployment id into its context, as pachctl does.
    assert context.context().get("cluster_deployment_id")

    # Nothing left behind, seen by another official client.
    from pachyderm_sdk import Client

    host, port = serve.address.rsplit(":", 1)
    sdk = Client(host=host, port=int(port))
    try:
        assert list(sdk.pfs.list_repo()) == []
        assert list(sdk.pps.list_pipeline()) == []
    finally:
        sdk._channel.close()  # noqa: SLF001 - the SDK has no public close
