"""Plain data and decisions: no I/O, no network library (checked by import-linter)."""
