"""The UI-free engine: parsing, the index and its cache, the filter language, selection, trace analysis,
exporters."""
