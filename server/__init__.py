"""home-idp server: the gateway and the managers behind it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("home-idp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
