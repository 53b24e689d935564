"""History import: a store's past customers, orders and products from files (Shopify's own CSV
exports, afterorder's generic CSV, JSON lines of events), stored as events through the intake
pipeline flagged as history, so projections are filled and flows are never triggered."""

from afterorder.history.formats import FileFormatError, open_source
from afterorder.history.loader import ImportReport, import_file
from afterorder.history.records import Record, Rejected

__all__ = ["FileFormatError", "ImportReport", "Record", "Rejected", "import_file", "open_source"]
