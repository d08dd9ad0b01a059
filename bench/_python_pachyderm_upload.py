"""Run inside python-pachyderm 7.6's own virtualenv by ``bench/pfs.py``.

Usage: python _python_pachyderm_upload.py HOST:PORT COUNT SIZE. Puts COUNT
files of SIZE random bytes in one commit with python-pachyderm's fastest path
(one ``modify_file_client`` stream) and prints the seconds it took.
"""

import os
import sys
import time

import python_pachyderm

address, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
host, port = address.rsplit(":", 1)
client = python_pachyderm.Client(host=host, port=int(port))
files = [("/pp/f%05d" % i, os.urandom(size)) for i in range(count)]
start = time.perf_counter()
with client.commit("small", "python-pachyderm") as commit:
    with client.modify_file_client(commit) as mfc:
        for path, data in files:
            mfc.put_file_from_bytes(path, data)
print(time.perf_counter() - start)
