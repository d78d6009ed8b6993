"""Widgets of the main screen: records table, filter bar, volume strip, status bar, record detail."""
