"""Label Studio, CVAT and COCO interchange: garments out for review in another tool, the
reviewed annotations back into the catalogue as corrections (see docs/interop.md).

Pure converters (dicts in, dicts out): :mod:`.brush` (Label Studio's brush RLE),
:mod:`.labelstudio`, :mod:`.cvat`; the I/O shell: :mod:`.sources`, :mod:`.exporting`,
:mod:`.importing`.
"""

from garmentparse.store.interop.exporting import FORMATS as EXPORT_FORMATS
from garmentparse.store.interop.exporting import STATES as EXPORT_STATES
from garmentparse.store.interop.exporting import export_catalogue, export_tags
from garmentparse.store.interop.importing import FORMATS as IMPORT_FORMATS
from garmentparse.store.interop.importing import import_file

__all__ = ["EXPORT_FORMATS", "EXPORT_STATES", "IMPORT_FORMATS", "export_catalogue", "export_tags", "import_file"]
