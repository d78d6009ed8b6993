"""The source layer: finding audit logs, reading them (plain, gzip, zstd) and following them as they grow.

It deals in byte chunks of complete lines and never imports polars or any UI library.
"""
