"""The database: typed SQLAlchemy models (`models`), engines and sessions for SQLite and
PostgreSQL (`db`), the Alembic migrations (`migrate`, `migrations/`), and the SQL audit store
that signs a checkpoint every CHECKPOINT_EVERY records (`audit_store`).

The bottom room of broker/: it imports only `audit` and SQLAlchemy; every room above may
import it.
"""

__all__: list[str] = []
