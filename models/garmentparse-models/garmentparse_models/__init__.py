"""garmentparse release weights: data files only; ``garmentparse models list`` shows them.

garmentparse finds this package through its ``garmentparse.models`` entry point and reads
``manifest.json`` beside this file (names, tasks, sha256 of each weights file, model cards).
"""

from pathlib import Path

MANIFEST = Path(__file__).with_name("manifest.json")
