"""The one place evalkit's version is written (setuptools reads it for the package metadata)."""

__version__ = "0.1.0"
