"""Screens of the app: detail, rejects, help, export and time-range dialogs (traces and timeline by
tui-traces)."""
