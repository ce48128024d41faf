"""The store on PostgreSQL, shared by any number of replicas: the tables of store/sql/ on a connection pool,
trainings handed out as leases (claims.py), blobs in a shared place (an Azure Blob Storage container)."""
from .store import PostgresStore

__all__ = ["PostgresStore"]
