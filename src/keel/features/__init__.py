"""The feature store (issue 13)."""
