"""calhub: a self-hosted calendar hub for reservation businesses."""

__version__ = "0.1.0"
