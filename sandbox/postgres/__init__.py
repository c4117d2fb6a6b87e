"""A throwaway local PostgreSQL server configured for logical replication."""

from sandbox.postgres.server import PostgresSandbox, seed_tables, start_logical_postgres

__all__ = ["PostgresSandbox", "seed_tables", "start_logical_postgres"]
