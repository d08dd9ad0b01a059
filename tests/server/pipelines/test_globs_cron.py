"""Glob captures and join/group key templates (ohmyglob's rules), and cron schedules."""

from __future__ import annotations

import calendar
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wcmatch import glob as wcglob

from pachmagic.errors import InvalidArgument
from pachmagic.pachyderm.globs import KeyTemplate, captures, compile_glob
from pachmagic.pachyderm.paths import clean_path
from pachmagic.server.pipelines.cron import parse_go_duration, parse_schedule, tick_name


@pytest.mark.parametrize(
    ("pattern", "path", "groups"),
    [
        # ohmyglob's own capture tests
        ("/test/(a|b)/x.go", "/test/a/x.go", ("a",)),
        ("/test/a*(a|b)/x.go", "/test/aba/x.go", ("ba",)),
        ("/test/+(a|b)/x.go", "/test/aba/x.go", ("aba",)),
        ("/test/a?(a|b)/x.go", "/test/a/x.go", ("",)),
        ("/test/@(a|b)/x.go", "/test/b/x.go", ("b",)),
        ("/test/!(a|b)/x.go", "/test/x/x.go", ("x",)),
        ("/test/(a|b)/(*).go", "/test/a/x.go", ("a", "x")),
        ("/test/a*(a|b)/*(*).go", "/test/aaaa/x.go", ("aaa", "x")),
        ("/(*)/(*).txt", "/dir/", None),
        ("/(*)", "/dir/", ("dir",)),  # directories match without their trailing slash
        ("/[a-c]at/(*)", "/bat/q", ("q",)),
        ("/{x,y}/(?)", "/y/7", ("7",)),
        ("/**/(*).csv", "/a/b/c.csv", ("c",)),
    ],
)
def test_captures(pattern: str, path: str, groups: tuple[str, ...] | None) -> None:
    got = captures(pattern, path)
    assert (got[1:] if got is not None else None) == groups


@pytest.mark.parametrize(
    ("pattern", "path", "template", "key"),
    [
        ("/name=(*)/year=(*)/(*).dat", "/name=adele/year=2016/photos.dat", "$3 of $1 from $2", "photos of adele from 2016"),
        ("/name=(*)", "/name=adele", "${1}1", "adele1"),
        ("/name=(*)", "/name=adele", "$$1", "$1"),
        ("/name=(*)", "/other", "$1", ""),  # no match: empty key, as ohmyglob's Replace
        ("/(*)", "/x", "$0", "/x"),
        ("/(*)", "/x", "$9", ""),  # missing group
        ("/*", "/x", "", ""),
    ],
)
def test_key_templates(pattern: str, path: str, template: str, key: str) -> None:
    assert KeyTemplate(pattern, template)(path) == key


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        # ohmyglob: "**" is any string, slashes included, wherever it stands.
        ("/**.txt", "/a.txt", True),
        ("/**.txt", "/a/b/c.txt", True),
        ("/**.txt", "/a/b/c.csv", False),
        ("/x**y", "/x/y", True),
        ("/x**y", "/xa/b/cy", True),
        ("/a/**/b", "/a/x/y/b", True),
        ("/a/**/b", "/a/b", False),  # "/a/" + "" + "/b" is "/a//b"
        ("/**", "/a/b", True),
        ("/a/**", "/a", False),
        ("/**(b)", "/xbb", True),  # "*" then the group "*(b)"
        ("/**(b)", "/x/b", False),
        ("/*", "/a/b", False),
        # classes, POSIX ones included, never match "/"
        ("/[[:alpha:]]*", "/a1", True),
        ("/[[:alpha:]]*", "/1a", False),
        ("/[[:^alpha:]]", "/1", True),
        ("/a[[:punct:]]b", "/a.b", True),
        ("/a[[:punct:]]b", "/a/b", False),
        ("/a[!x]b", "/a/b", False),
        ("/{a,b{c,d}}", "/bd", True),
    ],
)
def test_patterns_match_as_in_pachyderm(pattern: str, path: str, matches: bool) -> None:
    assert compile_glob(pattern)(path) is matches
    assert (captures(pattern, path) is not None) is matches


def _wcmatch_syntax(pattern: str) -> str:
    """A pattern without ``**`` in wcmatch's syntax: bare groups become ``@(``, ``^(`` becomes ``!(``."""
    return re.sub(r"(?<![@*+?!^\\])\(", "@(", pattern.replace("^(", "!("))


_SEGMENT = st.text(alphabet="abc.", min_size=1, max_size=4).filter(lambda s: s not in (".", ".."))
_PATH = st.lists(_SEGMENT, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
_PIECE = st.sampled_from(["*", "?", "a", "b", "c", ".", "(*)", "(a|b)", "[ab]", "[!a]", "{a,bc}", "+(a)", "*(b)"])
_GLOB_SEGMENT = st.lists(_PIECE, min_size=1, max_size=3).map("".join)
# Without "**", where ohmyglob and wcmatch differ by design (and wcmatch versions among themselves).
_GLOB = st.lists(_GLOB_SEGMENT, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts)).filter(
    lambda p: "**" not in p)


@settings(max_examples=300, deadline=None)
@given(pattern=_GLOB, path=_PATH)
def test_matching_agrees_with_wcmatch_where_the_syntax_is_shared(pattern: str, path: str) -> None:
    """wcmatch, an independent implementation, as an oracle for our translator."""
    include, exclude = wcglob.translate(
        _wcmatch_syntax(clean_path(pattern)), flags=wcglob.GLOBSTAR | wcglob.BRACE | wcglob.EXTGLOB | wcglob.DOTGLOB)
    matched = any(re.fullmatch(p, path) for p in include) and not any(re.fullmatch(p, path) for p in exclude)
    assert compile_glob(pattern)(path) is matched
    assert (captures(pattern, path) is not None) is matched


# --- cron ---------------------------------------------------------------------------


def _t(text: str) -> float:
    return float(calendar.timegm(tuple(int(x) for x in re.split(r"[-T:Z]", text)[:6]) + (0, 0, 0)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10), ("1m30s", 90), ("1.5h", 5400), ("500ms", 0.5), ("2h45m", 9900), ("0", 0)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "1x", "s", "1h 2m"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid duration"):
        parse_go_duration(text)


@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    [
        ("@every 10s", "2024-01-01T00:00:00Z", "2024-01-01T00:00:10Z"),
        ("@every 1500ms", "2024-01-01T00:00:00Z", "2024-01-01T00:00:02Z"),  # rounded up to whole seconds
        ("*/15 * * * *", "2024-01-01T00:07:00Z", "2024-01-01T00:15:00Z"),
        ("0 12 * * MON", "2024-01-01T12:00:00Z", "2024-01-08T12:00:00Z"),  # 2024-01-01 is a Monday
        ("@hourly", "2024-01-01T10:30:00Z", "2024-01-01T11:00:00Z"),
        ("@daily", "2024-02-28T23:00:00Z", "2024-02-29T00:00:00Z"),
        ("@monthly", "2024-12-15T00:00:00Z", "2025-01-01T00:00:00Z"),
        ("0 0 29 2 *", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
        ("30 */2 * * * *", "2024-01-01T00:00:00Z", "2024-01-01T00:00:30Z"),  # six fields: seconds first
        ("0 0 1 * 0", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"),  # day-of-month OR day-of-week
    ],
)
def test_schedules(spec: str, after: str, expected: str) -> None:
    assert tick_name(parse_schedule(spec).next(_t(after))) == "/" + expected


@pytest.mark.parametrize("spec", ["", "* * *", "61 * * * *", "@often", "@every -1s", "@every x", "*/0 * * * *"])
def test_bad_schedules(spec: str) -> None:
    with pytest.raises(InvalidArgument, match="error parsing cron-spec"):
        parse_schedule(spec)


@pytest.mark.parametrize("pattern", ["/*", "/?", "/**", "/d*/*.txt", "/[é-ü]*", "/{a,ф}*", "/@(x|ÿ)?", "/*/", "/**/b"])
def test_matches_answers_as_the_full_match_does(pattern: str) -> None:
    """``matches`` asks RE2 directly (on UTF-8 bytes); it must agree with the captures' full match."""
    from pachmagic.pachyderm.globs import glob_regex

    matcher = glob_regex(pattern)
    for path in ["/", "/a", "/é", "/ф", "/ÿ", "/ab", "/d1/x.txt", "/d1/x.txt/y", "/ü/b", "/a/b", "/фx", "/x\n", "/日本/b"]:
        assert matcher.matches(path) is (matcher.groups(path) is not None), (pattern, path)
