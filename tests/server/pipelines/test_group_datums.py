"""A group (or join) datum that holds several files of one input: user code sees them all.

Found by the run corpus (tests/conformance/runs): pachd's worker puts every file of a
datum's inputs with one name under ``/pfs/<name>``; ours used to clear that directory
for each file, so only the last one was there.
"""

from __future__ import annotations

from pachmagic.client import connect
from pachmagic.server import LocalServer


def test_a_group_datum_sees_every_member(server: LocalServer) -> None:
    with connect(server.address) as c:
        c.pfs.create_repo("logs")
        c.pfs.put_files("logs@master", {"/a-1.log": b"1", "/a-2.log": b"2", "/a-3.log": b"3", "/b-1.log": b"4"})
        c.pps.create_pipeline({
            "pipeline": {"name": "grouped"},
            "transform": {"image": "ubuntu:22.04", "cmd": ["sh"],
                          "stdin": ['ls /pfs/logs > "/pfs/out/$PACH_DATUM_ID"; cat /pfs/logs/* >> "/pfs/out/$PACH_DATUM_ID"']},
            "input": {"group": [{"pfs": {"repo": "logs", "glob": "/(*)-*.log", "group_by": "$1"}}]},
        })
        (job,) = c.pps.list_job(pipeline="grouped")
        job = c.pps.wait_job(job.job)
        assert job.state == "success"
        seen = {d.id: c.pfs.get_file(f"grouped@master:/{d.id}").decode().split() for d in c.pps.list_datum(job.job)}
        # The datum id of group "a" is pachd 2.12.2's (members in their own datum-id order).
        assert seen["d89ecec54b8db8259452a2b4674e7b54f721848149bc35789bdf0b1ff4cf067d"] == [
            "a-1.log", "a-2.log", "a-3.log", "123"]
        assert sorted(seen.values()) == [["a-1.log", "a-2.log", "a-3.log", "123"], ["b-1.log", "4"]]
