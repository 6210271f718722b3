"""Agent-based simulator of China's small-loan market, 2024-2030."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("microlending-abm")
except PackageNotFoundError:  # running from a checkout that is not installed
    __version__ = "0+unknown"
