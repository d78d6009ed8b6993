"""Plain-text renderings of core results shared by the CLI and the report: the waterfall, the diff summary."""
