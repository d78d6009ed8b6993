"""The source layer: finding audit logs, reading them (plain, gzip, zstd) and following them as they grow.

It deals in byte chunks of complete lines and never imports polars or any UI library (a test checks it).

* ``discover.py``: ``discover()``, ``default_roots()``, ``SourceMissing`` — which files, in which order.
* ``lines.py``: ``LineSplitter`` — complete lines, the held partial line, offsets, line numbers, the cap.
* ``read.py``: ``FileReader``, ``read_all()``, ``read_span()`` — complete lines of one source from an offset.
* ``follow.py``: ``Follower`` and the ``SourceEvent`` dataclasses — tailing across appends, truncation and
  rotation.
* ``storage.py``: ``Storage``/``StoredFile``, the interface a storage backend implements (a file's state,
  its bytes by range), and ``LOCAL``, the local filesystem: how the engine looks at or opens an audit file.
* ``types.py``: the value types handed to the engine: ``SourceFile``, ``FileState``, ``Chunk``, ``Reject``,
  ``PartialLine``.
"""
