"""``%pach provenance REF`` and ``pachmagic.provenance.trace``: back from an output to its photo.

The tutorial's pipelines, run once per module on each server: the embedded
server, and the reference pachd with its own workers (whose worker writes the
``.meta`` commits the trace reads); and on the reference pachd without workers,
commit provenance only."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
import yaml

from pachmagic import tutorial
from pachmagic.client import Client, connect
from pachmagic.magics._testing import TestingShell
from pachmagic.provenance import Lineage, trace
from tests.dual_server import SERVER_KINDS, ServerUnderTest, serving


def _pipeline(client: Client, name: str, glob: str, repo: str | None = None) -> None:
    spec = yaml.safe_load((tutorial.DIR / f"{name}.yaml").read_text())
    spec["input"]["pfs"]["glob"] = glob
    if repo:
        spec["pipeline"]["name"] = f"{name}_{repo}"
        spec["input"]["pfs"]["repo"] = repo
    client.pps.create_pipeline(spec)


def _photos(client: Client, *names: str) -> str:
    with client.pfs.commit("photos@master") as c:
        c.put_files({f"/{n}": tutorial.PHOTOS / n for n in names})
    return c.id


def _tutorial(client: Client) -> tuple[str, str]:
    """photos → contour (/*) → histogram (/*), then one more photo; returns the two photos commits."""
    client.pfs.create_repo("photos")
    first = _photos(client, "landscape.png", "hand.png")
    _pipeline(client, "contour", "/*")
    _pipeline(client, "histogram", "/*")
    client.pfs.wait_commit("histogram@master")
    second = _photos(client, "red_vase.png")
    client.pfs.wait_commit("histogram@master")
    newest = client.pps.list_job(pipeline="histogram")[0]
    assert (newest.state, newest.data_skipped, newest.data_processed) == ("success", 2, 1)
    return first, second


@pytest.fixture(scope="module", params=SERVER_KINDS)
def tutorial_run(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerUnderTest, str, str]]:
    """The tutorial run once per server kind for the module (tests trace it; one adds a pipeline of its own)."""
    with serving(request.param, request, tmp_path_factory, workers=True) as server:
        with server.client() as client:
            first, second = _tutorial(client)
        yield server, first, second


@pytest.fixture
def workflow(shell: TestingShell,
             tutorial_run: tuple[ServerUnderTest, str, str]) -> Iterator[tuple[TestingShell, Client, str, str]]:
    """A shell and a client of the tutorial's server (on the reference pachd its own workers wrote the .meta commits)."""
    server, first, second = tutorial_run
    shell.run_cell(f"%pach connect {server.address}")
    shell.run_cell("%config PachMagic.progress = False")
    with server.client() as client:
        yield shell, client, first, second


def _chain(lineage: Lineage) -> list[tuple[int, str, str, str]]:
    frame = lineage.frame
    return list(zip(frame["step"], frame["kind"], frame["repo"], frame["path"]))


@pytest.mark.workers
def test_a_histogram_image_back_to_its_photo(workflow: tuple[TestingShell, Client, str, str]) -> None:
    ip, client, first, second = workflow
    lineage = ip.value("%pach provenance histogram@master:/landscape.png")
    chain = _chain(lineage)
    assert [(s, k, r) for s, k, r, _ in chain] == [
        (0, "file", "histogram"), (1, "commit", "histogram"), (2, "job", "histogram"), (3, "datum", "histogram"),
        (4, "file", "contour"), (5, "commit", "contour"), (6, "job", "contour"), (7, "datum", "contour"),
        (8, "file", "photos"), (9, "commit", "photos"),
    ]
    assert _chain(trace(client, "histogram@master:/landscape.png")) == chain  # the library, as the magic
    frame = lineage.frame
    assert chain[8][3] == "/landscape.png" and frame.loc[9, "commit"] == first and frame.loc[9, "state"] == "USER"
    # The newest histogram job skipped this datum: its output was made by the first jobs, from the first photos commit.
    assert frame.loc[3, "state"] == "skipped" and frame.loc[7, "state"] == "success"
    assert frame.loc[2, "pipeline_version"] == 1 and frame.loc[2, "spec"].startswith("default/histogram.spec@")
    assert frame.loc[0, "commit"] == frame.loc[2, "commit"]  # a job's id is its output commit's
    assert [n.name for n in lineage.sources] == [f"photos@{first}"]
    svg = lineage.svg()
    assert svg.startswith("<svg class='pachmagic-provenance'") and svg.count("class='pachmagic-prov-node") == 10
    assert svg.count("pachmagic-prov-edge") == 9
    assert "<svg" in lineage._repr_html_() and repr(lineage).startswith("provenance of histogram@master:/landscape.png")
    # The newest photo traces to the second commit, through datums that ran.
    red = ip.value("%pach provenance histogram@master:/red_vase.png").frame
    assert red.loc[9, "commit"] == second and set(red[red.kind == "datum"]["state"]) == {"success"}


@pytest.mark.workers
def test_a_commit_or_a_job_traces_by_commit_provenance(workflow: tuple[TestingShell, Client, str, str]) -> None:
    ip, client, first, second = workflow
    job_id = client.pps.list_job(pipeline="histogram")[0].id
    for ref in ("histogram@master", f"histogram@{job_id}"):
        chain = _chain(ip.value(f"%pach provenance {ref}"))
        assert [(s, k, r) for s, k, r, _ in chain] == [
            (0, "commit", "histogram"), (1, "job", "histogram"), (2, "commit", "contour"), (3, "job", "contour"),
            (4, "commit", "photos"),
        ]
    source = ip.value(f"%pach provenance photos@{first}:/hand.png")
    assert _chain(source) == [(0, "file", "photos", "/hand.png"), (1, "commit", "photos", "")]


@pytest.mark.workers
def test_glob_root_fans_out_and_is_bounded(workflow: tuple[TestingShell, Client, str, str]) -> None:
    ip, client, _, _ = workflow
    _pipeline(client, "histogram", "/", repo="contour")  # one datum: the whole contour repo
    client.pfs.wait_commit("histogram_contour@master")
    lineage = ip.value("%pach provenance histogram_contour@master:/red_vase.png")
    frame = lineage.frame
    assert set(frame[(frame.kind == "file") & (frame.repo == "contour")]["path"]) == {"/"}
    assert sorted(frame[(frame.kind == "file") & (frame.repo == "photos")]["path"]) == [
        "/hand.png", "/landscape.png", "/red_vase.png"]
    bounded = ip.value("%pach provenance histogram_contour@master:/red_vase.png --max-datums 2").frame
    assert (bounded.kind == "more").sum() == 1
    assert len(bounded[(bounded.kind == "datum") & (bounded.repo == "contour")]) == 2


@pytest.mark.workers
def test_tracing_is_not_a_read_and_bad_input_is_one_line(workflow: tuple[TestingShell, Client, str, str]) -> None:
    ip, _, _, _ = workflow
    ip.run_cell("%pach provenance histogram@master:/landscape.png")
    assert ip.value("%pach lock").empty
    assert ip.fail("%pach provenance histogram@master:/nope.png").lines[0].startswith("PachError: ")
    assert ip.fail("%pach provenance histogram@master:/nope.png").lines[0].endswith("(NOT_FOUND)")
    assert ip.fail("%pach provenance 'bad name@master'").lines[0].startswith("PachError: invalid repo name")
    assert ip.fail("%pach provenance histogram@master --max-datums 0").lines == [
        "UsageError: %pach provenance: --max-datums must be at least 1"]


def test_on_the_reference_pachd_without_workers(real_pachd: Any) -> None:
    """No job runs: the commit's provenance still leads to the source commit, through the created job."""
    with connect(real_pachd.address) as client:
        client.pfs.create_repo("photos")
        first = _photos(client, "hand.png")
        client.pfs.wait_commit(f"photos@{first}")
        _pipeline(client, "contour", "/*")
        lineage = trace(client, "contour@master")
    frame = lineage.frame
    assert list(zip(frame["step"], frame["kind"], frame["repo"])) == [
        (0, "commit", "contour"), (1, "job", "contour"), (2, "commit", "photos")]
    assert frame.loc[1, "state"] == "created" and frame.loc[2, "commit"] == first
