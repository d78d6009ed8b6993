"""Everything that writes a slice of the index: byte-exact JSONL with its manifest, OTLP, the report."""
