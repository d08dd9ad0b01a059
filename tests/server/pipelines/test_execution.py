"""How a transform runs: /pfs paths, environment, stdin, cwd, parallelism, outputs, logs, meta."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from typing import Any

from pachmagic.server.pipelines.sandbox import ENV_VAR
from pachmagic.server.pipelines.states import DatumState, JobState
from tests.server.pipelines.harness import PY, Harness, pfs, spec

ENV_DUMP = (
    "import json, os\n"
    "keys = [k for k in os.environ if k.startswith(('PACH_', 'PPS_', 'in', 'MY_'))]\n"
    "json.dump({k: os.environ[k] for k in keys}, open('/pfs/out/' + os.environ['PACH_DATUM_ID'][:8], 'w'))\n"
)


def test_pachyderm_environment_variables(pps: Harness) -> None:
    pps.repo("in")
    commit = pps.put("in", {"/dir/a.txt": "a"})
    record = pps.pipeline(spec("env", [PY, "-c", ENV_DUMP], pfs("in"), transform={"env": {"MY_VAR": "mine"}}))
    job = pps.job("env")
    (datum,) = pps.engine.datums("default", "env", job.id)
    (dump,) = pps.files("env").values()
    env = json.loads(dump)
    assert env["PACH_JOB_ID"] == env["PACH_OUTPUT_COMMIT_ID"] == job.id
    assert env["PACH_DATUM_ID"] == datum.datum_id
    assert env["in"] == "/pfs/in/dir" and env["in_COMMIT"] == commit
    assert env["PPS_PIPELINE_NAME"] == "env" and env["PPS_PROJECT_NAME"] == "default"
    assert env["PPS_SPEC_COMMIT"] == record.spec_commit and env["MY_VAR"] == "mine"
    assert "PACHMAGIC_AUTH_TOKEN" not in env


def test_join_and_group_keys_are_in_the_environment(pps: Harness) -> None:
    pps.repo("left")
    pps.repo("right")
    pps.put("left", {"/k1.txt": "L"})
    pps.put("right", {"/k1.csv": "R"})
    script = 'echo "$PACH_DATUM_left_JOIN_ON $PACH_DATUM_right_JOIN_ON $(cat $left $right)" > /pfs/out/joined'
    pps.pipeline(spec("joined", script, {"join": [
        {"pfs": {"repo": "left", "glob": "/(*).txt", "join_on": "$1"}},
        {"pfs": {"repo": "right", "glob": "/(*).csv", "join_on": "$1"}},
    ]}))
    assert pps.job("joined").state == JobState.SUCCESS
    assert pps.files("joined") == {"/joined": b"k1 k1 LR\n"}


def test_stdin_and_working_dir(pps: Harness, tmp_path: Path) -> None:
    pps.repo("in")
    pps.put("in", {"/x": "1"})
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "helper.sh").write_text("echo helped\n")
    pps.pipeline(spec("shell", ["sh"], pfs("in", "/"), transform={
        "stdin": ["pwd > /pfs/out/cwd", ". ./helper.sh > /pfs/out/helped", "cat /pfs/in/x >> /pfs/out/cwd"],
        "working_dir": str(workdir),
    }))
    assert pps.job("shell").state == JobState.SUCCESS
    assert pps.files("shell") == {"/cwd": f"{workdir}\n1".encode(), "/helped": b"helped\n"}


class _Barrier:
    """A TCP rendezvous on 127.0.0.1 that counts datums running at once.

    Datums cannot share files (the sandbox keeps the host read-only and /tmp private),
    so each one holds a connection while it runs; a datum is let go once two are
    connected (or after 20 s), and the largest number ever connected is recorded.
    """

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.now = self.most = 0
        self.two = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            with self.lock:
                self.now += 1
                self.most = max(self.most, self.now)
                if self.now >= 2:
                    self.two.set()
            self.two.wait(20)
            conn.sendall(b"go\n")
            conn.recv(1)  # held until the datum ends
            with self.lock:
                self.now -= 1


def test_parallelism_bounds_concurrent_datums(pps: Harness) -> None:
    """Datums wait until two of them run at once; never more than two do."""
    barrier = _Barrier()
    script = (
        f'{PY} -c "import socket, time; s = socket.create_connection((\'127.0.0.1\', {barrier.port})); '
        f's.recv(3); time.sleep(0.2); s.close()"; touch /pfs/out/$PACH_DATUM_ID'
    )
    pps.repo("in")
    pps.put("in", {f"/{i}": "" for i in range(6)})
    pps.pipeline(spec("par", script, pfs("in"), parallelism_spec={"constant": 2}))
    job = pps.job("par")
    barrier.sock.close()
    assert (job.state, job.processed) == (JobState.SUCCESS, 6)
    assert barrier.most == 2


def test_output_names_that_pfs_cannot_hold_fail_the_datum(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/x": ""})
    pps.pipeline(spec("glob", "touch '/pfs/out/a*b'", pfs("in"), datum_tries=1))
    job = pps.job("glob")
    assert job.state == JobState.FAILURE
    (datum,) = pps.engine.datums("default", "glob", job.id)
    assert datum.state == DatumState.FAILED
    assert datum.reason == ("cannot upload file produced by the user code because its name cannot be represented "
                            "in PFS: path (/a*b) invalid: globbing character (*) not allowed in path")
    pps.pipeline(spec("ctrl", "touch \"/pfs/out/$(printf 'a\\tb')\"", pfs("in"), datum_tries=1))
    (datum,) = pps.engine.datums("default", "ctrl", pps.job("ctrl").id)
    assert datum.reason.endswith("only printable ASCII characters allowed")


def test_symlinks_in_out_are_followed(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/data/a": "A", "/data/b": "B", "/single": "S"})
    script = "ln -s /pfs/in/single /pfs/out/link; ln -s /pfs/in/data /pfs/out/dirlink; ln -s link /pfs/out/rel"
    pps.pipeline(spec("links", script, pfs("in", "/")))
    assert pps.job("links").state == JobState.SUCCESS
    assert pps.files("links") == {"/link": b"S", "/rel": b"S", "/dirlink/a": b"A", "/dirlink/b": b"B"}
    pps.pipeline(spec("dangling", "ln -s /nowhere /pfs/out/x", pfs("in", "/"), datum_tries=1))
    (datum,) = pps.engine.datums("default", "dangling", pps.job("dangling").id)
    assert datum.reason.endswith("/x is a broken symbolic link")


def test_symlinks_are_resolved_in_the_datums_view(pps: Harness, tmp_path: Path) -> None:
    """As Pachyderm's worker follows links in its container: here the container is the sandbox's view."""
    pps.repo("in")
    pps.put("in", {"/single": "S"})
    script = ("echo private > /tmp/note; ln -s /pfs/in/../../tmp/note /pfs/out/note; "
              "ln -s ../in/single /pfs/out/up; ln -s /pfs/in/../in/single /pfs/out/through")
    pps.pipeline(spec("view", script, pfs("in", "/")))
    assert pps.job("view").state == JobState.SUCCESS
    assert pps.files("view") == {"/note": b"private\n", "/up": b"S", "/through": b"S"}
    # The server's data directory is not in the view: a link there is broken, never uploaded.
    secret = tmp_path / "data" / "pfs.sqlite"
    assert secret.exists()
    pps.pipeline(spec("steal", f"ln -s {secret} /pfs/out/db", pfs("in", "/"), datum_tries=1))
    job = pps.job("steal")
    (datum,) = pps.engine.datums("default", "steal", job.id)
    assert job.state == JobState.FAILURE and "/db is a broken symbolic link" in datum.reason


def test_empty_files_inputs_are_empty(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/big": "x" * 1000})
    pps.pipeline(spec("sizes", "wc -c < /pfs/in/big > /pfs/out/size", pfs("in", "/", empty_files=True)))
    assert pps.job("sizes").state == JobState.SUCCESS and pps.files("sizes") == {"/size": b"0\n"}


def test_logs_and_the_meta_repo(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/a": "1", "/b": "2"})
    pps.pipeline(spec("talk", "echo out $(ls /pfs/in); echo err >&2; cp /pfs/in/* /pfs/out/", pfs("in")))
    job = pps.job("talk")
    rows = pps.engine.storage.pps.logs(project="default", pipeline="talk", job_id=job.id)
    user = [r for r in rows if r.user]
    assert sorted(r.message for r in user) == ["err", "err", "out a", "out b"]
    assert all(r.datum_id and r.ts > 0 and not r.master for r in user)
    assert any(r.master and "2 datums" in r.message for r in rows)
    # The meta commit (same ID as the job) describes every datum, as <pipeline>.meta does.
    meta = pps.files("talk", job.id, repo_type="meta")
    datums = {d.datum_id: d for d in pps.engine.datums("default", "talk", job.id)}
    for datum_id, datum in datums.items():
        doc = json.loads(meta[f"/meta/{datum_id}/meta"])
        assert doc["state"] == "PROCESSED" and doc["hash"] == datum.hash and doc["job"]["id"] == job.id
        (name,) = [i["fileInfo"]["file"]["path"] for i in doc["inputs"]]
        assert meta[f"/pfs/{datum_id}/in{name}"] == meta[f"/pfs/{datum_id}/out{name}"]
        assert sorted(meta[f"/meta/{datum_id}/logs"].decode().splitlines()) == ["err", f"out {name[1:]}"]
    assert pps.commit("talk", job.id, repo_type="meta").finished is not None


def test_path_substitution_fallback_warns_in_the_logs(pps: Harness, monkeypatch: Any) -> None:
    monkeypatch.setenv(ENV_VAR, "substitute")
    pps.repo("in")
    pps.put("in", {"/x": "1"})
    # Paths in cmd, stdin and the environment are rewritten; the warning says the rest is not.
    pps.pipeline(spec("subst", ["sh", "-c", 'cp "$in" /pfs/out/copy'], pfs("in")))
    job = pps.job("subst")
    assert job.state == JobState.SUCCESS and pps.files("subst") == {"/copy": b"1"}
    warnings = [r.message for r in pps.engine.storage.pps.logs(project="default", pipeline="subst") if r.master]
    assert any(m.startswith("warning: pipeline sandbox: PACHMAGIC_SANDBOX=substitute is set; falling back to path substitution")
               for m in warnings)


def test_a_substitute_transform_removing_its_pfs_directories_spoils_no_later_datum(pps: Harness, monkeypatch: Any) -> None:
    # Substituted, /pfs/<name> are the slot's host directories: a transform can remove them.
    # The worker keeps the slot's layout between datums; the next datum must get them back.
    monkeypatch.setenv(ENV_VAR, "substitute")
    pps.repo("in")
    pps.put("in", {"/a": "1", "/b": "2", "/c": "3"})
    pps.pipeline(spec("rm", 'cp "$in" /pfs/out/; rm -rf /pfs/in', pfs("in")))
    job = pps.job("rm")
    assert job.state == JobState.SUCCESS, job.reason
    assert pps.files("rm") == {"/a": b"1", "/b": b"2", "/c": b"3"}


def test_datums_of_a_running_job_and_scratch_cleanup(pps: Harness, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    pps.repo("in")
    pps.put("in", {"/a": "", "/b": ""})
    pps.pipeline(spec("gated", f'[ -e /pfs/in/b ] && while [ ! -e {gate} ]; do sleep 0.05; done; true', pfs("in"),
                      parallelism_spec={"constant": 2}))
    job_id = pps.job("gated", terminal=False).id
    states = pps.wait(lambda: sorted(d.state for d in pps.engine.datums("default", "gated", job_id)) == [
        DatumState.SUCCESS, DatumState.STARTING] and True, message="one datum done, one running")
    assert states
    gate.touch()
    assert pps.job("gated", job_id).state == JobState.SUCCESS
    assert sorted(d.state for d in pps.engine.datums("default", "gated", job_id)) == [DatumState.SUCCESS, DatumState.SUCCESS]
    jobs_dir = pps.engine.scratch_dir / "jobs"
    pps.wait(lambda: not jobs_dir.exists() or not any(jobs_dir.iterdir()), message="job scratch removed")
