"""The real shared engines the cluster and data-moving features run on start, answer and stop here."""
from __future__ import annotations

import uuid


def test_postgres_cluster_takes_queries(postgres):
    import psycopg

    url = postgres.create_database(f"engines_{uuid.uuid4().hex[:8]}")
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES (1)")
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)
        assert conn.execute("SHOW server_version").fetchone()[0].split(".")[0] >= "15"


def test_azurite_stores_and_lists_blobs(azurite):
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.create_container(f"engines-{uuid.uuid4().hex[:8]}")
    container.upload_blob("apple/one.jpg", b"\xff\xd8 not really a jpeg")
    assert [b.name for b in container.list_blobs(name_starts_with="apple/")] == ["apple/one.jpg"]
    assert container.download_blob("apple/one.jpg").readall() == b"\xff\xd8 not really a jpeg"
