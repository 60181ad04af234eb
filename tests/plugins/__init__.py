"""The plugins: one contract suite per kind, and each plugin's own tests."""
