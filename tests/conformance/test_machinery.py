"""The runner's own parts: normalising, pairing ids, comparing, the allow-list, SDK conversion.

These need no reference server: they check that the comparison finds what it
must (a wrong parent id, a missing field, a different code) and hides only
what it should (times, the order of set-like lists, ids named differently).
"""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
from pachyderm_sdk.api import pfs as spfs

from pachmagic._proto import pfs_pb2, pps_pb2, pps_pb2_grpc
from pachmagic.server import LocalServer

from .allowlist import ALLOWED, Allow
from .compare import Difference, differences, report
from .harness import Outcome, Run, Side, plain

A1, A2, A3 = "1" * 12 + "4" + "a" * 19, "2" * 12 + "4" + "b" * 19, "3" * 12 + "4" + "c" * 19
B1, B2, B3 = "4" * 12 + "4" + "d" * 19, "5" * 12 + "4" + "e" * 19, "6" * 12 + "4" + "f" * 19
T1, T2 = "2026-12-06T10:00:00.123456Z", "2026-12-06T11:30:00Z"


def out(response: Any = None, code: str = "OK", message: str = "", label: str = "pfs.InspectCommit", unordered: bool = False) -> Outcome:
    return Outcome(0, label, "{}", code, message, response, unordered)


def diff(ours: list[Outcome], ref: list[Outcome]) -> list[tuple[str, Any, Any]]:
    for i, o in enumerate(ours + ref):
        o.index = i % max(len(ours), 1)
    return [(d.path, d.ours, d.ref) for d in differences("s", ours, ref)]


def commit_info(id_: str, parent: str, started: str) -> dict[str, Any]:
    return {"commit": {"id": id_}, "parent_commit": {"id": parent}, "started": started}


def test_ids_are_paired_and_times_masked() -> None:
    ours = [out({"id": A1}), out(commit_info(A2, A1, T1))]
    ref = [out({"id": B1}), out(commit_info(B2, B1, T2))]
    assert diff(ours, ref) == []


def test_a_wrong_parent_is_a_difference() -> None:
    ours = [out({"id": A1}), out({"id": A2}), out(commit_info(A3, A1, T1))]
    ref = [out({"id": B1}), out({"id": B2}), out(commit_info(B3, B2, T1))]
    assert diff(ours, ref) == [("response.parent_commit.id", "<id1>", "<id2>")]


def test_an_extra_field_does_not_shift_later_ids() -> None:
    ours = [out({"id": A1, "child": {"id": A3}}), out({"id": A2})]
    ref = [out({"id": B1}), out({"id": B2})]
    assert diff(ours, ref) == [("response.child", {"id": "<unpaired-id1>"}, "<absent>")]


def test_set_fields_and_unordered_streams_compare_as_sets() -> None:
    a = {"provenance": [{"name": "x"}, {"name": "y"}]}
    b = {"provenance": [{"name": "y"}, {"name": "x"}]}
    assert diff([out(a)], [out(b)]) == []
    assert diff([out([1, 2], unordered=True)], [out([2, 1], unordered=True)]) == []
    assert diff([out([1, 2])], [out([2, 1])]) == [("response.0", 1, 2), ("response.1", 2, 1)]
    assert diff([out({"commits": [1, 2]})], [out({"commits": [2, 1]})]) != []


def test_presence_of_a_time_is_compared() -> None:
    assert diff([out({"finished": T1})], [out({})]) == [("response.finished", "<time>", "<absent>")]


def test_codes_messages_and_ids_in_messages() -> None:
    ours = [out({"id": A1}), out(code="NOT_FOUND", message=f"commit default/r@{A1} not found")]
    ref = [out({"id": B1}), out(code="UNKNOWN", message=f"pick commit: commit default/r@{B1} not found")]
    assert diff(ours, ref) == [
        ("code", "NOT_FOUND", "UNKNOWN"),
        ("message", "commit default/r@<id1> not found", "pick commit: commit default/r@<id1> not found"),
    ]


def test_id_lists_in_messages_are_sorted() -> None:
    ours = [out({"a": A1, "b": A2}), out(code="UNKNOWN", message=f"in use by [r@{A1} s@{A2}]")]
    ref = [out({"a": B1, "b": B2}), out(code="UNKNOWN", message=f"in use by [s@{B2} r@{B1}]")]
    assert diff(ours, ref) == []


def test_lists_of_ids_alone_in_messages_compare_as_sets() -> None:
    # pachd's subvenant commit sets come in Go's map order: with the ids masked they all sort alike
    ours = [out([A1, A2]), out(code="UNKNOWN", message=f'sets: [id:"{A1}" id:"{A2}"]')]
    ref = [out([B1, B2]), out(code="UNKNOWN", message=f'sets: [id:"{B2}" id:"{B1}"]')]
    assert diff(ours, ref) == []
    ref = [out([B1, B2]), out(code="UNKNOWN", message=f'sets: [id:"{B2}"]')]
    assert diff(ours, ref) == [("message", 'sets: [id:"<id1>" id:"<id2>"]', 'sets: [id:"<id2>"]')]


def test_lines_of_a_joined_error_compare_as_a_set() -> None:
    left = "cannot delete project lab: repo lab/p still exists\nrepo lab/p.spec still exists\nrepo lab/p.meta still exists"
    right = "cannot delete project lab: repo lab/p still exists\nrepo lab/p.meta still exists\nrepo lab/p.spec still exists"
    assert diff([out(code="FAILED_PRECONDITION", message=left)], [out(code="FAILED_PRECONDITION", message=right)]) == []


def test_missing_and_different_calls() -> None:
    assert diff([out(), out()], [out()])[0][0] == "call"
    assert diff([out(label="pfs.A")], [out(label="pfs.B")]) == [("call", "pfs.A", "pfs.B")]


def test_report_names_scenario_call_and_fields() -> None:
    d = Difference("my scenario", 3, "pfs.InspectRepo", '{"repo": "x"}', "code", "NOT_FOUND", "UNKNOWN")
    text = report("my scenario", [d], aborted=("", "Traceback: boom"))
    assert "my scenario" in text and "call #3 pfs.InspectRepo" in text
    assert "code: ours 'NOT_FOUND' | pachd 'UNKNOWN'" in text and "boom" in text


def test_allow_entries_match_by_glob() -> None:
    d = Difference("files: get", 2, "pfs.InspectFile", "", "response.hash", "aa", "bb")
    assert Allow("response*hash", "r").matches(d)
    assert not Allow("response*hash", "r", call="pps.*").matches(d)
    assert Allow("response*hash", "r", ours="a*", ref="b*").matches(d)
    assert not Allow("code", "r").matches(d)


def test_only_a_meta_commits_size_is_allowed_to_differ() -> None:
    def listed(repo_type: str, path: str = "response.0.details.size_bytes") -> Difference:
        item = {"commit": {"id": "<id1>", "repo": {"name": "p", "type": repo_type}}, "details": {"size_bytes": "5"},
                "direct_provenance": [{"repo": {"name": "p", "type": "meta"}}]}
        if path.startswith("response.0.commits."):
            item = {"commits": [{"commit": {"repo": {"type": "user"}}}, item]}
        return Difference("s", 0, "pfs.InspectCommitSet", "", path, "5", "6", ours_item=json.dumps(item))

    def allowed(d: Difference) -> bool:
        return any(e.matches(d) and "meta" in e.reason for e in ALLOWED)

    assert allowed(listed("meta"))
    assert allowed(listed("meta", "response.0.commits.1.details.size_bytes"))
    assert not allowed(listed("user")) and not allowed(listed("spec"))
    assert not allowed(listed("user", "response.0.commits.1.details.size_bytes"))


def test_allow_list_entries_have_reasons() -> None:
    assert len(ALLOWED) <= 15
    for entry in ALLOWED:
        assert entry.reason and "\n" not in entry.reason and "simpler" not in entry.reason.lower()


def test_sdk_messages_become_our_messages() -> None:
    commit = spfs.Commit(id=A1, repo=spfs.Repo(name="r", project=spfs.Project(name="default")))
    assert plain(commit) == {"id": A1, "repo": {"name": "r", "type": "user", "project": {"name": "default"}}}
    assert plain([spfs.CommitInfo(commit=commit)]) == [{"commit": plain(commit)}]
    assert plain(b"hello") == {"size": 5, "head": "hello"}


def test_run_records_answers_errors_and_client_refusals(tmp_path: Any) -> None:
    with LocalServer(data_dir=tmp_path, in_process=True) as server:
        side = Side("ours", server.address)
        try:
            run = Run(side)
            run.pfs.CreateRepo(pfs_pb2.CreateRepoRequest(repo=pfs_pb2.Repo(name="r")))
            run.pfs.InspectRepo(pfs_pb2.InspectRepoRequest(repo=pfs_pb2.Repo(name="nope")))
            run.pfs.ListRepo(pfs_pb2.ListRepoRequest())
            run.sdk.pfs.inspect_repo(repo=spfs.Repo(name="r"))
            run.do("python error", lambda: 1 / 0)
        finally:
            side.close()
    codes = [(o.label, o.code) for o in run.outcomes]
    assert codes == [("pfs.CreateRepo", "OK"), ("pfs.InspectRepo", "NOT_FOUND"), ("pfs.ListRepo", "OK"),
                     ("sdk.pfs.inspect_repo", "OK"), ("python error", "PYTHON")]
    assert run.outcomes[1].message == "repo default/nope not found"
    assert [r["repo"]["name"] for r in run.outcomes[2].response] == ["r"]


def test_held_jobs_stay_created(tmp_path: Any) -> None:
    """``run_jobs=False``: jobs exist, as on a pachd without workers, and never start."""
    import time

    with LocalServer(data_dir=tmp_path, in_process=True, run_jobs=False) as server:
        channel = grpc.insecure_channel(server.address)
        pps = pps_pb2_grpc.APIStub(channel)
        client = server.client()
        client.pfs.create_repo("in")
        with client.pfs.commit("in@master") as c:
            c.put_file("/a", b"a")
        pps.CreatePipelineV2(pps_pb2.CreatePipelineV2Request(create_pipeline_request_json=(
            '{"pipeline": {"name": "p"}, "transform": {"image": "alpine", "cmd": ["true"]}, "input": {"pfs": {"repo": "in", "glob": "/*"}}}')))
        deadline = time.monotonic() + 60
        jobs: list[Any] = []
        while time.monotonic() < deadline:
            state = pps.InspectPipeline(pps_pb2.InspectPipelineRequest(pipeline=pps_pb2.Pipeline(name="p"))).state
            jobs = list(pps.ListJob(pps_pb2.ListJobRequest()))
            if state == pps_pb2.PIPELINE_RUNNING and jobs:
                break
            time.sleep(0.05)
        with client.pfs.commit("in@master") as c:  # one more job; the first must still be waiting
            c.put_file("/b", b"b")
        while len(jobs) < 2 and time.monotonic() < deadline:
            jobs = list(pps.ListJob(pps_pb2.ListJobRequest()))
        channel.close()
    assert [j.state for j in jobs] == [pps_pb2.JOB_CREATED, pps_pb2.JOB_CREATED]


def test_a_refused_run_jobs_option() -> None:
    with pytest.raises(ValueError, match="in_process"):
        LocalServer(run_jobs=False)


def test_message_tails_of_pachds_are_allowed_and_nothing_else() -> None:
    entry = ALLOWED[0]

    def d(ours: str, ref: str) -> Difference:
        return Difference("s", 0, "pfs.X", "", "message", ours, ref)

    assert entry.matches(d('branch "x" not found in repo default/r', 'pick commit tx: commit default/r@ not found\nbranch "x" not found in repo default/r'))
    assert entry.matches(d("repo default/r not found", "start commit in transaction: repo default/r not found"))
    assert not entry.matches(d("not found", "repo default/r not found"))
    assert not entry.matches(d("commit x not found", "commit x not found: details"))
    assert not entry.matches(d("", "anything"))
    # a joined error's lines come in any order: ours may be any one of them, or the tail of one
    joined = 'pipeline "default/p" not found\npipeline was not inspected: pick commit tx: repo default/p.spec not found'
    assert entry.matches(d('pipeline "default/p" not found', joined))
    assert entry.matches(d("repo default/p.spec not found", joined))
    assert not entry.matches(d("default/p.spec not found", joined))
