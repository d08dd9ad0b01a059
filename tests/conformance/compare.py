"""Normalise two runs of one scenario and list their differences, field by field.

Normalising, in order:

* timestamps (RFC 3339 strings) become ``<time>`` and durations ``<duration>``:
  both servers set them at different instants; whether a field is present is
  still compared;
* lists whose order pachd does not define (``SET_FIELDS``, and streams a
  scenario marks ``unordered``) are sorted by their content with ids masked;
* JSON text in ``*_json`` fields is parsed and compared as data;
* ids (32 hex digits: commits, commit sets, jobs; 64: datums) are *paired*: the
  two runs are walked side by side and an id of ours standing where pachd has
  an id is given the same name (``<id3>``) as that one, wherever either
  appears again. An id that stands where the other side has a different id
  already named shows up as a difference (a wrong parent, say), and one
  server's extra field cannot shift the names of everything after it.

Then every call's code, message and response are compared leaf by leaf. What
is allowed to differ is decided by the allow-list (``allowlist.py``), not here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterator

from .harness import Outcome

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
DURATION_RE = re.compile(r"^-?\d+(\.\d+)?s$")
ID_RE = re.compile(r"(?<![0-9a-f])(?:[0-9a-f]{64}|[0-9a-f]{32})(?![0-9a-f])")
# Lists pachd fills in no defined order (real-pachd.md: "compare them as sets").
SET_FIELDS = frozenset({"provenance", "subvenance", "direct_provenance", "direct_subvenance", "child_commits", "branches"})
MISSING = "<absent>"


@dataclass(frozen=True)
class Difference:
    scenario: str
    index: int  # the call's position in the scenario
    label: str  # "pfs.InspectCommit"
    request: str
    path: str  # "code", "message", "response.commit.branch.name", "response.0.file.path"
    ours: Any
    ref: Any
    ref_outcome: str = ""  # pachd's "CODE message" for the call (allow-list rules may look at it)
    ours_outcome: str = ""  # ours
    ours_item: str = ""  # for a path in a listed element (response.N...), that element of ours, as JSON

    def line(self) -> str:
        return f"{self.path}: ours {_show(self.ours)} | pachd {_show(self.ref)}"


def _show(value: Any) -> str:
    if value is MISSING:
        return MISSING
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 400 else text[:397] + "..."


def _mask(value: Any) -> Any:
    """Content with ids and times masked: a sort key that is the same on both sides."""
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    if isinstance(value, str):
        if TIME_RE.match(value):
            return "<time>"
        return "<duration>" if DURATION_RE.match(value) else ID_RE.sub("<id>", value)
    return value


def _sort_key(value: Any) -> str:
    return json.dumps(_mask(value), sort_keys=True)


def canonical(value: Any, unordered: bool = False) -> Any:
    """Times replaced, set-like lists sorted, JSON text parsed (ids still raw)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k.endswith("_json") and isinstance(v, str):
                v = _parsed(v)
            v = canonical(v)
            if k in SET_FIELDS and isinstance(v, list):
                v = sorted(v, key=_sort_key)
            out[k] = v
        return out
    if isinstance(value, list):
        items = [canonical(v) for v in value]
        return sorted(items, key=_sort_key) if unordered else items
    if isinstance(value, str) and TIME_RE.match(value):
        return "<time>"
    if isinstance(value, str) and DURATION_RE.match(value):
        return "<duration>"
    return value


def _parsed(text: str) -> Any:
    """JSON text (an effective spec) as data: Go's protojson varies its whitespace on purpose."""
    try:
        return {"<json>": json.loads(text)}
    except ValueError:
        return text


def _record(outcome: Outcome) -> dict[str, Any]:
    return {
        "code": outcome.code,
        "message": _sorted_brackets(outcome.message),
        "response": canonical(outcome.response, outcome.unordered),
    }


def _sorted_brackets(message: str) -> str:
    """pachd lists ids inside ``[...]`` in its messages in no set order: sort them. The lines of
    a joined error (Go's errors.Join: "repo lab/p still exists", one per repo left in a project;
    "pipeline ... not found" with the reasons found on the way) come in no stable order either,
    run to run: sorted too."""
    def sort(match: re.Match[str]) -> str:
        items = match.group(1).split()
        return "[" + " ".join(sorted(items, key=lambda s: ID_RE.sub("<id>", s))) + "]"
    lines = re.sub(r"\[([^\[\]]*)\]", sort, message).split("\n")
    return "\n".join(sorted(lines, key=lambda s: ID_RE.sub("<id>", s)))


class _Pairing:
    def __init__(self) -> None:
        self.ours: dict[str, str] = {}
        self.ref: dict[str, str] = {}
        self.count = 0
        self.skip_sets = False  # first pass: leave set-like lists (not yet in a comparable order) alone

    def pair(self, a: str, b: str) -> None:
        if a in self.ours or b in self.ref:
            return
        self.count += 1
        self.ours[a] = self.ref[b] = f"<id{self.count}>"

    def walk(self, a: Any, b: Any) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for k in a.keys() & b.keys():
                if self.skip_sets and k in SET_FIELDS:
                    continue
                self.walk(a[k], b[k])
        elif isinstance(a, list) and isinstance(b, list):
            for x, y in zip(a, b):
                self.walk(x, y)
        elif isinstance(a, str) and isinstance(b, str):
            for x, y in zip(ID_RE.findall(a), ID_RE.findall(b)):
                if len(x) == len(y):
                    self.pair(x, y)


def _rename(value: Any, names: dict[str, str], unpaired: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _rename(v, names, unpaired) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, names, unpaired) for v in value]
    if isinstance(value, str):
        def name(m: re.Match[str]) -> str:
            found = names.get(m.group(0))
            if found is None:
                found = unpaired.setdefault(m.group(0), f"<unpaired-id{len(unpaired) + 1}>")
            return found
        return ID_RE.sub(name, value)
    return value


def _leaves(a: Any, b: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(a.keys() | b.keys()):
            sub = f"{path}.{k}" if path else k
            yield from _leaves(a.get(k, MISSING), b.get(k, MISSING), sub)
    elif isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            yield from _leaves(a[i] if i < len(a) else MISSING, b[i] if i < len(b) else MISSING, f"{path}.{i}")
    elif a != b:
        yield path, a, b


def normalised(ours: list[Outcome], ref: list[Outcome]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Both runs' outcomes, ready to compare: times masked, sets sorted, ids named alike."""
    a = [_record(o) for o in ours]
    b = [_record(o) for o in ref]
    pairing = _Pairing()
    # Pair the ids outside set-like lists first, then order those lists by content with
    # the ids named so far (entries that differ only in ids sort alike on both sides).
    pairing.skip_sets = True
    pairing.walk(a, b)
    a, b = _resort(a, pairing.ours), _resort(b, pairing.ref)
    pairing.skip_sets = False
    pairing.walk(a, b)
    return _named_brackets(_rename(a, pairing.ours, {})), _named_brackets(_rename(b, pairing.ref, {}))


def _named_brackets(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A bracketed list of ids in a message (pachd's subvenant commit sets, in Go's map order)
    sorted again once its ids carry their paired names: sorted with the ids masked, such a
    list keeps whatever order it came in."""
    def sort(match: re.Match[str]) -> str:
        return "[" + " ".join(sorted(match.group(1).split())) + "]"
    return [{**r, "message": re.sub(r"\[([^\[\]]*<id\d+>[^\[\]]*)\]", sort, r["message"])} for r in records]


def _resort(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = _resort(v, names)
            if k in SET_FIELDS and isinstance(v, list):
                v = sorted(v, key=lambda item: json.dumps(_rename(item, names, _Masked()), sort_keys=True))
            out[k] = v
        return out
    if isinstance(value, list):
        return [_resort(v, names) for v in value]
    return value


class _Masked(dict):  # type: ignore[type-arg]
    """Unknown ids all read as one name when sorting."""

    def setdefault(self, key: Any, default: Any = None) -> Any:
        return "<id>"


def differences(scenario: str, ours: list[Outcome], ref: list[Outcome]) -> list[Difference]:
    """Every leaf where the two runs disagree, call by call."""
    a, b = normalised(ours, ref)
    diffs = []
    for i in range(max(len(a), len(b))):
        left = a[i] if i < len(a) else MISSING
        right = b[i] if i < len(b) else MISSING
        call = ours[i] if i < len(ours) else ref[i]
        context = f"{ref[i].code} {ref[i].message}" if i < len(ref) else ""
        mine = f"{ours[i].code} {ours[i].message}" if i < len(ours) else ""
        if left is MISSING or right is MISSING:
            diffs.append(Difference(scenario, i, call.label, call.request, "call", left, right, context, mine))
            continue
        if ours[i].label != ref[i].label:
            diffs.append(Difference(scenario, i, call.label, call.request, "call", ours[i].label, ref[i].label, context, mine))
            continue
        for path, x, y in _leaves(left, right, ""):
            item = ""
            parts = path.split(".")
            if len(parts) > 1 and parts[0] == "response" and parts[1].isdigit() and isinstance(left["response"], list):
                index = int(parts[1])
                if index < len(left["response"]):
                    item = json.dumps(left["response"][index], sort_keys=True)
            diffs.append(Difference(scenario, i, call.label, call.request, path, x, y, context, mine, item))
    return diffs


def report(scenario: str, diffs: list[Difference], *, aborted: tuple[str, str] = ("", "")) -> str:
    """A readable account: each call that differs, its request, and its differing fields."""
    lines = [f"scenario {scenario!r}: {len(diffs)} difference(s) (ours vs the reference pachd)"]
    last = None
    for d in diffs:
        if d.index != last:
            lines.append(f"  call #{d.index} {d.label} {d.request}")
            last = d.index
        lines.append(f"      {d.line()}")
    for side, text in zip(("ours", "pachd"), aborted):
        if text:
            lines.append(f"  the scenario stopped on {side}:\n" + "\n".join("    " + t for t in text.splitlines()))
    return "\n".join(lines)
