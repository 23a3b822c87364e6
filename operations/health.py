"""What "ready" means for every process (web, worker, reconciler): the database answers and
every migration this code knows is applied. Nothing here says why a connection failed: the
answers are public to whoever can reach a probe."""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

logger = logging.getLogger(__name__)

# Once applied, migrations stay applied for the life of the process: check them until then.
_migrations_applied = False


def readiness_problems() -> dict[str, str]:
    """Empty when ready; otherwise {"database" or "migrations": what is wrong, in words}."""
    global _migrations_applied
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        logger.warning("Readiness: the database did not answer (%s).", type(error).__name__)
        connection.close()
        return {"database": "unavailable"}
    if _migrations_applied:
        return {}
    executor = MigrationExecutor(connection)
    unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if unapplied:
        return {"migrations": f"{len(unapplied)} not applied yet"}
    _migrations_applied = True
    return {}


def forget_migrations_check() -> None:
    """For tests: check the migrations again on the next call."""
    global _migrations_applied
    _migrations_applied = False
