"""Input trees of pipeline specs: walking them, and ordering them as pachd does.

A pipeline's ``input`` is a tree of ``pfs`` and ``cron`` leaves under ``cross``,
``union``, ``join`` and ``group`` nodes. pachd sorts every node's children by name
(``SortInput``) when it takes a spec, *before* it fills in default names: only names
the spec gives count (an unnamed PFS input and every cron input sort as ""), and the
sort is stable, so inputs without names keep the spec's order. Datums are then made
in that stored order. Pure functions over ``pps_v2.Input`` messages.
"""

from __future__ import annotations

from typing import Any, Iterator

from google.protobuf import json_format

from pachmagic._proto import pps_pb2
from pachmagic.errors import InvalidArgument

__all__ = ["Input", "PFSInput", "CronInput", "pfs_inputs", "cron_inputs", "sorted_input", "input_from_dict",
           "COMBINATIONS"]

# The message types of an input tree, for code that handles them without importing _proto.
Input = pps_pb2.Input
PFSInput = pps_pb2.PFSInput
CronInput = pps_pb2.CronInput
COMBINATIONS = ("cross", "union", "join", "group")


def _children(node: pps_pb2.Input) -> Iterator[pps_pb2.Input]:
    for kind in COMBINATIONS:
        yield from getattr(node, kind)


def pfs_inputs(node: pps_pb2.Input) -> Iterator[pps_pb2.PFSInput]:
    """Every PFS input in an input tree, depth first."""
    if node.HasField("pfs"):
        yield node.pfs
    for child in _children(node):
        yield from pfs_inputs(child)


def cron_inputs(node: pps_pb2.Input) -> Iterator[pps_pb2.CronInput]:
    """Every cron input in an input tree, depth first."""
    if node.HasField("cron"):
        yield node.cron
    for child in _children(node):
        yield from cron_inputs(child)


def _name_of(node: pps_pb2.Input) -> str:
    """pachd's ``InputName``: the name a sorted input tree orders by (it has no case for cron)."""
    if node.HasField("pfs"):
        return node.pfs.name
    for kind in COMBINATIONS:
        children = getattr(node, kind)
        if len(children):
            return _name_of(children[0])
    return ""


def _clone(node: pps_pb2.Input) -> pps_pb2.Input:
    copy = pps_pb2.Input()
    copy.CopyFrom(node)
    return copy


def sorted_input(node: pps_pb2.Input) -> pps_pb2.Input:
    """A copy with every combination's children sorted by name, stably (pachd's ``SortInput``).

    Call it on a spec's input as given, before names are defaulted (``setInputDefaults``
    sorts first): sorting a defaulted tree would order unnamed inputs by repo.
    """
    copy = _clone(node)

    def visit(n: pps_pb2.Input) -> None:
        for kind in COMBINATIONS:
            children = getattr(n, kind)
            for child in children:
                visit(child)
            ordered = sorted((_clone(c) for c in children), key=_name_of)
            del children[:]
            children.extend(ordered)

    visit(copy)
    return copy


def input_from_dict(node: dict[str, Any]) -> pps_pb2.Input:
    """An input tree from its protojson form (snake_case or lowerCamelCase keys)."""
    message = pps_pb2.Input()
    try:
        json_format.ParseDict(node, message)
    except json_format.ParseError as err:
        raise InvalidArgument(f"invalid input spec: {str(err).splitlines()[0]}") from None
    return message
