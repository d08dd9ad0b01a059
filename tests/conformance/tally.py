"""What the corpus found in one session: calls made, differences, and which ones the allow-list took.

Printed at the end of the session (``conftest.pytest_terminal_summary``) and,
when ``PACHMAGIC_CONFORMANCE_REPORT`` names a file, written there as JSON: one
record per difference, for reading many at once.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from .allowlist import ALLOWED, Allow
from .compare import Difference


@dataclass
class Tally:
    reference: str = ""
    scenarios: dict[str, int] = field(default_factory=dict)  # name -> calls (on our side)
    unexplained: list[Difference] = field(default_factory=list)
    allowed: list[tuple[Difference, Allow]] = field(default_factory=list)
    runs: dict[str, Any] = field(default_factory=dict)  # name -> both runs' normalised outcomes, for the report

    def add(
        self, scenario: str, calls: int, unexplained: list[Difference], allowed: list[tuple[Difference, Allow]],
        runs: Any = None,
    ) -> None:
        self.scenarios[scenario] = calls
        self.runs[scenario] = runs
        self.unexplained.extend(unexplained)
        self.allowed.extend(allowed)
        path = os.environ.get("PACHMAGIC_CONFORMANCE_REPORT")
        if path:
            self.write(path)

    @property
    def calls(self) -> int:
        return sum(self.scenarios.values())

    def summary(self) -> list[str]:
        used = Counter(entry.reason for _, entry in self.allowed)
        lines = [
            f"reference: {self.reference}; {len(self.scenarios)} scenarios, {self.calls} calls",
            f"differences: {len(self.unexplained)} unexplained, {len(self.allowed)} allowed",
        ]
        for entry in ALLOWED:
            lines.append(f"  allowed x{used.get(entry.reason, 0)}: {entry.path} — {entry.reason}")
        return lines

    def write(self, path: str) -> None:
        def row(d: Difference, reason: str = "") -> dict[str, Any]:
            return {**asdict(d), "allowed": reason}

        data = {
            "reference": self.reference,
            "scenarios": self.scenarios,
            "calls": self.calls,
            "differences": [row(d) for d in self.unexplained] + [row(d, a.reason) for d, a in self.allowed],
            "runs": self.runs,
        }
        with open(path, "w") as f:
            json.dump(data, f, indent=1, default=repr)
