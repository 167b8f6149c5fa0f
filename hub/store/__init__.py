"""SQLAlchemy models, engine and sessions, Alembic migrations and read queries."""
