"""Report export (md/html/docx/xlsx) and charts."""
