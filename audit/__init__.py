"""account-audit: nightly audit of portal accounts and Mailgun events."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("account-audit")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
