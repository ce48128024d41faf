"""The service as a cluster on one machine: N `cvlocal serve` replicas sharing one PostgreSQL database and one
Azure Blob Storage container (Azurite), behind a round-robin balancer on loopback. A `Cluster` stands where a
`RunningService` stands (endpoint, keys, `environment()`, start/stop), so the same tests run against either.

    with Cluster.on(postgres, azurite, folder) as cluster:   # a new database and container of its own
        cluster.endpoint                                      # the balancer
        cluster.kill(cluster.training_replica(iteration_id))  # kill -9 the replica that trains it
"""
from __future__ import annotations

import secrets
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from harness.azurite import ACCOUNT
from harness.proxy import Balancer
from harness.service import RunningService, ServiceAddress

CONNECTION_STRING = "AZURE_STORAGE_CONNECTION_STRING"


@dataclass
class Cluster(ServiceAddress):
    folder: Path
    database_url: str
    blobs_url: str                         # azureblob://ACCOUNT/CONTAINER
    blob_connection_string: str
    size: int = 3
    lease_s: float = 4.0                   # short: a killed replica's training is taken over within seconds
    extra_args: list[str] = field(default_factory=list)  # added to every replica's `cvlocal serve`
    tier: str = "unlimited"                # every replica's --tier (its request rates are each replica's own)
    training_key: str = field(default_factory=lambda: secrets.token_hex(16))
    prediction_key: str = field(default_factory=lambda: secrets.token_hex(16))
    training_key2: str = field(default_factory=lambda: secrets.token_hex(16))  # $CVLOCAL_TRAINING_KEY2
    prediction_key2: str = field(default_factory=lambda: secrets.token_hex(16))
    signing_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    replicas: list[RunningService] = field(default_factory=list)
    balancer: Balancer | None = None

    name = "cvlocal cluster"

    @classmethod
    def on(cls, postgres, azurite, folder: Path, size: int = 3, **options) -> "Cluster":
        """A cluster with a database and a container of its own on these engines (not started)."""
        suffix = uuid.uuid4().hex[:12]
        return cls(Path(folder), postgres.create_database(f"cvlocal_{suffix}"),
                   f"azureblob://{ACCOUNT}/cvlocal-{suffix}", azurite.connection_string, size,
                   **options)

    @property
    def endpoint(self) -> str:
        """The balancer's address: where clients (and `environment()`) send every request."""
        return self.balancer.endpoint

    def replica(self, number: int) -> RunningService:
        return RunningService(self.folder / f"replica{number}", self.training_key, self.prediction_key,
                              env={"CVLOCAL_SIGNING_SECRET": self.signing_secret,
                                   "CVLOCAL_TRAINING_KEY2": self.training_key2,
                                   "CVLOCAL_PREDICTION_KEY2": self.prediction_key2,
                                   CONNECTION_STRING: self.blob_connection_string},
                              extra_args=["--database", self.database_url, "--blobs", self.blobs_url,
                                          "--training-lease", str(self.lease_s), *self.extra_args],
                              tier=self.tier)

    def start(self, timeout: float = 120.0) -> "Cluster":
        """Every replica at once (so their migrations meet), then the balancer in front of them."""
        if not self.replicas:
            self.replicas = [self.replica(n) for n in range(self.size)]
        failures = _each(self.replicas, lambda replica: replica.start(timeout))
        if failures:
            self.stop()
            raise failures[0]
        if self.balancer is None:
            self.balancer = Balancer([r.endpoint for r in self.replicas]).__enter__()
        return self

    def stop(self) -> None:
        if self.balancer is not None:
            self.balancer.__exit__(None, None, None)
            self.balancer = None
        _each(self.replicas, RunningService.stop)  # SIGTERM to all, then wait: they hand their leases back

    def kill(self, number: int) -> None:
        """kill -9 one replica; the balancer sends its share of requests to the others."""
        self.replicas[number].kill()

    @property
    def pids(self) -> list[int]:
        return [r.process.pid for r in self.replicas if r.process and r.process.poll() is None]

    def log(self) -> str:
        return "\n".join(f"---- replica {n}\n{r.log()}" for n, r in enumerate(self.replicas))

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Read the shared database directly (as an operator would with psql)."""
        import psycopg

        with psycopg.connect(self.database_url) as conn:
            return conn.execute(sql, params).fetchall()

    def training_replica(self, iteration_id: str) -> int | None:
        """The replica holding the training's lease (None: not claimed, or by no replica of this cluster)."""
        rows = self.query("SELECT lease_owner FROM iterations WHERE id = %s AND status = 'Training'", (iteration_id,))
        if not rows or not rows[0][0]:
            return None
        pid = int(rows[0][0].split("/")[1])
        return next((n for n, r in enumerate(self.replicas) if r.process and r.process.pid == pid), None)

    def integrity_check(self) -> str:
        """"ok" when every blob the database names is in the container and no content is stored twice."""
        from azure.storage.blob import ContainerClient

        container = self.blobs_url.split("/", 3)[3]
        client = ContainerClient.from_connection_string(self.blob_connection_string, container)
        stored = {blob.name.rsplit("/", 1)[-1] for blob in client.list_blobs()}
        named = self.query("SELECT sha256 FROM images UNION SELECT model_digest FROM iterations WHERE model_digest "
                           "IS NOT NULL UNION SELECT heldout_digest FROM iterations WHERE heldout_digest IS NOT NULL "
                           "UNION SELECT blob_digest FROM exports UNION SELECT sha256 FROM predictions")
        missing = [digest for (digest,) in named if digest not in stored]
        twice = self.query("SELECT project_id, sha256 FROM images GROUP BY project_id, sha256 HAVING COUNT(*) > 1")
        if missing or twice:
            return f"{len(missing)} blob(s) named but missing, {len(twice)} content(s) stored twice"
        return "ok"

    def __enter__(self) -> "Cluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _each(replicas: list[RunningService], action) -> list[BaseException]:
    """`action` on every replica at once; what each raised."""
    failures: list[BaseException] = []

    def run(replica: RunningService) -> None:
        try:
            action(replica)
        except BaseException as exc:  # noqa: BLE001 - returned, with the replica's log in it
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures
