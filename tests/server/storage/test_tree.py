"""The copy-on-write B+tree against a plain dict model."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings, strategies as st

from pachmagic.server.storage.tree import Changes, Entry, MemoryNodeStore, Tree


def entry(path: str, size: int = 1) -> Entry:
    return Entry(path, size, hashlib.sha256(path.encode()).digest(), (), "default")


def build(paths: list[str]) -> Tree:
    changes = Changes()
    for p in paths:
        changes.put(entry(p, len(p)))
    return Tree(MemoryNodeStore(), None).apply(changes)


def test_empty_tree_reads() -> None:
    tree = Tree(MemoryNodeStore(), None)
    assert tree.get("/a") is None
    assert list(tree.iter_range()) == []
    assert tree.stats() == (0, 0)


def test_large_tree_range_and_stats() -> None:
    paths = [f"/d{i % 7}/f{i:06d}" for i in range(5000)]
    tree = build(paths)
    assert [e.path for e in tree.iter_range()] == sorted(paths)
    d3 = sorted(p for p in paths if p.startswith("/d3/"))
    assert [e.path for e in tree.iter_range("/d3/", "/d30")] == d3
    assert tree.stats("/d3/", "/d30") == (len(d3), sum(len(p) for p in d3))
    assert tree.get(d3[10]) == entry(d3[10], len(d3[10]))


def test_one_change_shares_nodes_with_parent() -> None:
    store = MemoryNodeStore()
    changes = Changes()
    for i in range(20000):
        changes.put(entry(f"/f{i:06d}"))
    tree = Tree(store, None).apply(changes)
    before = len(store)
    one = Changes()
    one.put(entry("/f010000x"))
    tree2 = tree.apply(one)
    # Only the touched leaf and the nodes above it are new.
    assert len(store) - before <= 4
    assert len(tree2) == 20001 and len(tree) == 20000


def test_delete_range_then_put_inside_keeps_new_file() -> None:
    tree = build(["/a/x", "/a/y", "/b"])
    changes = Changes()
    changes.delete_range("/a/", "/a0")
    changes.put(entry("/a/z"))
    tree2 = tree.apply(changes)
    assert [e.path for e in tree2.iter_range()] == ["/a/z", "/b"]


keys = st.text(alphabet="ab/c", min_size=1, max_size=6).map(lambda s: "/" + s)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), keys, st.integers(0, 100)),
        st.tuples(st.just("del"), keys, st.just(0)),
        st.tuples(st.just("range"), keys, st.just(0)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(keys, max_size=300), ops)
def test_matches_dict_model(initial: list[str], edits: list[tuple[str, str, int]]) -> None:
    import pachmagic.server.storage.tree as tree_mod

    # Small nodes so that examples exercise splits and several levels.
    old = tree_mod.LEAF_MAX, tree_mod.INNER_MAX
    tree_mod.LEAF_MAX, tree_mod.INNER_MAX = 3, 3
    try:
        tree = build(initial)
        model = {p: entry(p, len(p)) for p in initial}
        changes = Changes()
        for op, key, size in edits:
            if op == "put":
                changes.put(entry(key, size))
                model[key] = entry(key, size)
            elif op == "del":
                changes.delete(key)
                model.pop(key, None)
            else:
                hi = key + "\uffff"
                changes.delete_range(key, hi)
                for k in [k for k in model if key <= k < hi]:
                    del model[k]
        new = tree.apply(changes)
        assert [e for e in new.iter_range()] == [model[k] for k in sorted(model)]
        assert new.stats() == (len(model), sum(e.size for e in model.values()))
        lo, hi = "/a", "/b"
        inside = [model[k] for k in sorted(model) if lo <= k < hi]
        assert list(new.iter_range(lo, hi)) == inside
        assert new.stats(lo, hi) == (len(inside), sum(e.size for e in inside))
        # The old version is untouched.
        assert sorted(e.path for e in tree.iter_range()) == sorted(set(initial))
    finally:
        tree_mod.LEAF_MAX, tree_mod.INNER_MAX = old


@settings(max_examples=200, deadline=None)
@given(st.lists(keys, max_size=300), st.lists(st.tuples(keys, st.integers(0, 100)), min_size=1, max_size=40))
def test_puts_alone_make_the_same_nodes_as_the_general_merge(initial: list[str], puts: list[tuple[str, int]]) -> None:
    # Puts without deletes take a shortcut through inner nodes (only the children they
    # fall in are visited): the tree it makes must be node for node the one the general
    # merge makes (same root id), with splits on several levels.
    import pachmagic.server.storage.tree as tree_mod

    old = tree_mod.LEAF_MAX, tree_mod.INNER_MAX
    tree_mod.LEAF_MAX, tree_mod.INNER_MAX = 3, 3
    try:
        tree = build(initial)
        shortcut, general = Changes(), Changes()
        for key, size in puts:
            shortcut.put(entry(key, size))
            general.put(entry(key, size))
        general.delete_range("~", "~~")  # deletes nothing ("~" sorts after every key), but takes the general path
        assert tree.apply(shortcut).root == tree.apply(general).root
    finally:
        tree_mod.LEAF_MAX, tree_mod.INNER_MAX = old
