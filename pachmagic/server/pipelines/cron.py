"""Cron input schedules: parsing pachd's cron specs and computing the next tick.

Pachyderm parses ``input.cron.spec`` with robfig/cron: five fields (minute hour
day-of-month month day-of-week), optionally a leading seconds field, or a
descriptor (``@hourly``, ``@daily``, ``@weekly``, ``@monthly``, ``@yearly``,
``@every <duration>`` with a Go duration such as ``10s`` or ``1m30s``). Ticks are
UTC. ``@every`` rounds the interval up to a whole second and aligns ticks to whole
seconds, as robfig does. Times are POSIX seconds. No gRPC here.
"""

from __future__ import annotations

import calendar
import math
import re
import time
from dataclasses import dataclass

from ...errors import InvalidArgument

__all__ = ["Schedule", "parse_schedule", "parse_go_duration", "tick_name"]

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
_DESCRIPTORS = {
    "@yearly": "0 0 0 1 1 *",
    "@annually": "0 0 0 1 1 *",
    "@monthly": "0 0 0 1 * *",
    "@weekly": "0 0 0 * * 0",
    "@daily": "0 0 0 * * *",
    "@midnight": "0 0 0 * * *",
    "@hourly": "0 0 * * * *",
}


def parse_go_duration(text: str) -> float:
    """A Go ``time.ParseDuration`` string in seconds (``"1m30s"`` → 90.0)."""
    s = text.strip()
    sign = -1.0 if s.startswith("-") else 1.0
    s = s.lstrip("+-")
    if s == "0":
        return 0.0
    pos, total = 0, 0.0
    for match in _DURATION.finditer(s):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not s or pos != len(s):
        raise InvalidArgument(f'time: invalid duration "{text}"')
    return sign * total


def _field(text: str, lo: int, hi: int, names: dict[str, int] | None = None) -> frozenset[int]:
    values: set[int] = set()
    for part in text.lower().split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
            if step <= 0:
                raise ValueError("step must be positive")
        if part in ("*", "?"):
            start, end = lo, hi
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = hi if step > 1 else start
        if not (lo <= start <= hi and lo <= end <= hi) or start > end:
            raise ValueError(f"{part} is out of range {lo}-{hi}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text in names:
        return names[text]
    return int(text)


@dataclass(frozen=True)
class Schedule:
    """When a cron input ticks: a fixed interval, or calendar fields."""

    every: float = 0.0
    seconds: frozenset[int] = frozenset()
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()
    any_day: bool = True
    any_weekday: bool = True

    def next(self, after: float) -> float:
        """The first tick strictly after ``after``."""
        if self.every:
            return math.floor(after) + self.every
        t = math.floor(after) + 1
        # Walk field by field (month, day, hour, minute, second) instead of second by
        # second; five years bounds the search for impossible dates such as Feb 30.
        limit = t + 5 * 366 * 86400
        while t < limit:
            tm = time.gmtime(t)
            if tm.tm_mon not in self.months:
                year, month = (tm.tm_year + 1, 1) if tm.tm_mon == 12 else (tm.tm_year, tm.tm_mon + 1)
                t = calendar.timegm((year, month, 1, 0, 0, 0))
                continue
            if not self._day_matches(tm):
                t = calendar.timegm((tm.tm_year, tm.tm_mon, tm.tm_mday, 0, 0, 0)) + 86400
                continue
            if tm.tm_hour not in self.hours:
                t = calendar.timegm((tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, 0, 0)) + 3600
                continue
            if tm.tm_min not in self.minutes:
                t = calendar.timegm((tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, 0)) + 60
                continue
            if tm.tm_sec not in self.seconds:
                t += 1
                continue
            return float(t)
        raise InvalidArgument("cron spec never fires")

    def _day_matches(self, tm: time.struct_time) -> bool:
        dom = tm.tm_mday in self.days
        dow = (tm.tm_wday + 1) % 7 in self.weekdays  # struct_time: Monday = 0; cron: Sunday = 0
        # As in cron: when both fields are restricted, either one matching is enough.
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow


def parse_schedule(spec: str) -> Schedule:
    """Parse a cron spec as pachd does; errors read ``error parsing cron-spec: ...``."""
    text = spec.strip()
    try:
        if text.startswith("@every"):
            every = parse_go_duration(text[len("@every") :].strip())
            if every <= 0:
                raise ValueError("@every needs a positive duration")
            return Schedule(every=float(max(1, math.ceil(every))))
        text = _DESCRIPTORS.get(text, text)
        if text.startswith("@"):
            raise ValueError(f"unrecognized descriptor: {text}")
        fields = text.split()
        if len(fields) == 5:
            fields = ["0", *fields]
        if len(fields) != 6:
            raise ValueError(f"expected 5 or 6 fields, found {len(fields)}: {text}")
        sec, minute, hour, dom, month, dow = fields
        return Schedule(
            seconds=_field(sec, 0, 59),
            minutes=_field(minute, 0, 59),
            hours=_field(hour, 0, 23),
            days=_field(dom, 1, 31),
            months=_field(month, 1, 12, _MONTHS),
            weekdays=frozenset(d % 7 for d in _field(dow, 0, 7, _DAYS)),
            any_day=dom in ("*", "?"),
            any_weekday=dow in ("*", "?"),
        )
    except (ValueError, InvalidArgument) as err:
        detail = err.details if isinstance(err, InvalidArgument) else str(err)
        raise InvalidArgument(f"error parsing cron-spec: {detail}") from None


def tick_name(t: float) -> str:
    """The file a tick writes: its time in RFC 3339, UTC (``/2024-01-02T03:04:05Z``)."""
    return "/" + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
