"""Batch tagging: detection -> masked crops -> classification over image folders.

- :mod:`.tagger` - :class:`Tagger`: models in memory, arrays in, garments out.
- :mod:`.folder` - :func:`tag_folder` / :func:`tag`: a folder in, JSON Lines out, resumable.
- :mod:`.sinks` - the CSV derived from the JSON Lines, overlay and crop images.
- :mod:`.record` - the run record (``<out>.run.json``) and what a resumed run skips.
- :mod:`.ray_engine` - :func:`tag_folder_ray`: the same run on Ray Data actors, one machine or a
  cluster (imported on use: Ray is the optional extra ``garmentparse[ray]``).

The ``garmentparse tag`` command is a thin layer over them.
"""

from garmentparse.tagging.folder import TagSummary, relative_path, tag, tag_folder
from garmentparse.tagging.record import ResumeError, file_sha256, read_done, run_record_path
from garmentparse.tagging.sinks import SCHEMA_PATH, csv_header, jsonl_to_csv
from garmentparse.tagging.tagger import TaggedImage, Tagger

__all__ = [
    "SCHEMA_PATH", "ResumeError", "TagSummary", "TaggedImage", "Tagger", "csv_header", "file_sha256",
    "jsonl_to_csv", "read_done", "relative_path", "run_record_path", "tag", "tag_folder",
]
