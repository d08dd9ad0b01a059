"""Tree nodes kept in the metadata database (see ``tree.py`` for what a node is)."""

from __future__ import annotations

import hashlib

from ...errors import DataLoss
from .db import Database

__all__ = ["SqliteNodeStore"]


class SqliteNodeStore:
    """A ``tree.NodeStore`` over the ``nodes`` table.

    ``put_nodes`` joins the caller's open transaction, so new nodes become
    visible together with the commit root that references them.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def get_node(self, node_id: bytes) -> bytes:
        row = self.db.one("SELECT data FROM nodes WHERE id = ?", (node_id,))
        if row is None:
            raise DataLoss(f"tree node {node_id.hex()} is missing from the store")
        data: bytes = row[0]
        # Verified on every read (the cache keeps decoded nodes, so this is once per miss).
        if hashlib.sha256(data).digest() != node_id:
            raise DataLoss(f"tree node {node_id.hex()} failed verification")
        return data

    def put_nodes(self, nodes: dict[bytes, bytes]) -> None:
        with self.db.transaction():
            self.db.executemany("INSERT OR IGNORE INTO nodes(id, data) VALUES (?, ?)", nodes.items())
