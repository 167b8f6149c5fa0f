"""Radicale storage, auth and rights plugins over hub queries and commands.

The hub injects these as callables (``[storage] type = factory``), so no globals are needed;
see ``hub/wsgi.py`` and ``../shared/notes/radicale-plugin-api.md``. No booking rules live here.
"""
