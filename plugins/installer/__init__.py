"""Installer plugins: what home-idp runs or installs beside itself (the local registry)."""
