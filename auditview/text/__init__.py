"""Text shared by the CLI, the app and the writer: escaping untrusted text, the WHEN grammar, humanized
figures."""
