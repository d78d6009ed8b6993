"""The Textual terminal app: live tail, filters, traces, record detail, rejects and export.

It sits on the engine (``auditview.core.index``, ``query``, ``slow``, ``traces``, ``timeline``, ``export``)
and
never opens a log file itself: thread workers call the engine and post messages. Start it with
``auditview.tui.app.run_app(AppOptions(...))``.
"""
