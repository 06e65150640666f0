"""The package version, for the User-Agent (a test holds it equal to pyproject.toml's)."""

__version__ = "0.1.0"
