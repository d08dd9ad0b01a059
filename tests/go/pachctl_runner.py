"""Run a built pachctl against a server through its own pachctl config.

``Pachctl(exe, address, home)`` writes ``home/config.json`` with one active
context, ``pachmagic``, whose ``pachd_address`` is ``grpc://<address>`` (what
``pachctl connect`` would write), and runs pachctl with ``PACH_CONFIG``
pointing at it and ``HOME`` in ``home``, so a developer's own pachctl config
never leaks in. ``--no-color`` keeps the output plain.

Every run checks that pachctl printed no warning: pachctl logs one when the
server's InspectCluster answer lacks ``warnings_ok`` ("too old to validate
compatibility") or carries version-skew warnings.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

CONTEXT = "pachmagic"
# Variables that would point pachctl elsewhere, or silence the warning we check for.
SCRUBBED = ("PACH_CONFIG", "PACH_CONTEXT", "PACHD_ADDRESS", "PACHYDERM_IGNORE_VERSION_SKEW", "PACH_TRACE")
HEADER_CELL = re.compile(r"SIZE \(MASTER\)|STATE / LAST JOB|\S+")
WARNING = re.compile(r"warn|too old|version skew|incompatib|please (?:up|down)grade", re.I)


class PachctlError(AssertionError):
    pass


@dataclass
class Result:
    args: Sequence[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.stdout.splitlines()]

    def table(self) -> list[list[str]]:
        """Rows of a pachctl table, header first, cut at the header's column starts.

        (File listings are plain tab-separated: split on tabs.)

        pachctl aligns columns with a tabwriter (one space of padding, so cells
        cannot be split on runs of spaces); cells themselves may hold spaces
        ("3 seconds ago", "1 + 0 / 1"), and so may two headers.
        """
        lines = [line for line in self.lines if line.strip()]
        if not lines:
            return []
        if "\t" in lines[0]:  # file listings are tab-separated, not aligned
            return [[cell.strip() for cell in line.split("\t")] for line in lines]
        starts = [m.start() for m in HEADER_CELL.finditer(lines[0])]
        bounds = list(zip(starts, starts[1:] + [None]))
        return [[line[a:b].strip() for a, b in bounds] for line in lines]

    def json(self) -> list[Any]:
        """The stream of JSON documents that ``--raw`` prints."""
        return list(iter_json(self.stdout))


def iter_json(text: str) -> Iterator[Any]:
    decoder = json.JSONDecoder()
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return
        obj, i = decoder.raw_decode(text, i)
        yield obj


class Pachctl:
    def __init__(self, exe: Path | str, address: str, home: Path, timeout: float = 300) -> None:
        self.exe = str(exe)
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.config = self.home / "config.json"
        self.timeout = timeout
        self.config.write_text(
            json.dumps({"v2": {"active_context": CONTEXT, "contexts": {CONTEXT: {"pachd_address": f"grpc://{address}"}}}})
        )
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
        env.update(HOME=str(self.home), PACH_CONFIG=str(self.config))
        self.env = env

    def run(
        self, *args: str, input: str | bytes | None = None, check: bool = True, cwd: Path | None = None,
        no_warnings: bool = True,
    ) -> Result:
        cmd = [self.exe, *args, "--no-color"]
        text_input = input.decode() if isinstance(input, bytes) else input
        proc = subprocess.run(
            cmd, input=text_input, capture_output=True, text=True, env=self.env, timeout=self.timeout, cwd=cwd
        )
        result = Result(args, proc.returncode, proc.stdout, proc.stderr)
        shown = f"pachctl {' '.join(args)}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        if check and proc.returncode != 0:
            raise PachctlError(f"exited {proc.returncode}: {shown}")
        if no_warnings and WARNING.search(proc.stderr):
            raise PachctlError(f"printed a warning: {shown}")
        return result

    def raw(self, *args: str) -> list[Any]:
        return self.run(*args, "--raw").json()

    def context(self) -> dict[str, Any]:
        """The active context as pachctl last saved it (it records the cluster's deployment id)."""
        data = json.loads(self.config.read_text())
        return data["v2"]["contexts"][CONTEXT]  # type: ignore[no-any-return]
