"""Reports and exports: ledger and run tables as the files stakeholders open (CSV, Excel, Parquet)."""

from quantdesk.reports.exports import EXPORT_KINDS, ExportFormat, export_frame, write_export

__all__ = ["EXPORT_KINDS", "ExportFormat", "export_frame", "write_export"]
