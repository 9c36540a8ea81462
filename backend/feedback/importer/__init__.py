"""Importing feedback from a file (CSV or NDJSON) into one workspace, for ``waypost
import-feedback``: the file read (``files``), the run and its transactions
(``runner``), its checkpoint and its report."""

from backend.feedback.importer.files import InputFile, Row
from backend.feedback.importer.report import Report, RowError
from backend.feedback.importer.runner import CHUNK_ROWS, import_file

__all__ = ["CHUNK_ROWS", "InputFile", "Report", "Row", "RowError", "import_file"]
