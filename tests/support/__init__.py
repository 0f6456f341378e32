"""Helpers the tests share: importable, typed, and the only code one test module may take from another place in
tests/ (conftests declare fixtures built from these; tests/test_suite_layout.py holds the rule)."""
