"""Export an instance into one archive and import (merge) an archive into an instance.

`roost.portability.archive` (the format, its writer and its checking reader),
`exporter`, `importer`, `exports` (exports started from /settings), `commands` (the CLI).
"""

from roost.portability.errors import ArchiveRejected, ExportNotFound
from roost.portability.exporter import ExportFailed, export_instance
from roost.portability.importer import ImportReport, import_archive

__all__ = [
    "ArchiveRejected",
    "ExportFailed",
    "ExportNotFound",
    "ImportReport",
    "export_instance",
    "import_archive",
]
