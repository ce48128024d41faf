"""Benchmark 6, cluster: what the shared engines cost a prediction, as ratios measured in one run.

Two services on loopback, each with the fruit set trained and published: one on SQLite and its data folder
(the default), one as a cluster replica on a throwaway PostgreSQL and an Azurite container (harness/postgres.py,
harness/azurite.py). The same closed-loop clients as the prediction benchmark (bench/prediction.py: one
keep-alive connection each, a distinct image per request) post to both routes, `.../image/nostore` (the
published iteration looked up in the database, then the model) and `.../image` (also the image written as a
blob and a prediction row: to Azurite and PostgreSQL on the replica), interleaved so both see the same machine.
CPU per image is counted for the service process and, on the replica, for the engines (PostgreSQL's backends
and Azurite's Node.js process), which a deployment runs elsewhere.

Serving is stateless: a prediction reads its project's published iteration from the database on every
request, so a publish or unpublish on one replica is seen by the next request on every replica (the model
itself is cached per iteration id, which never changes). The cost of that read is measured on its own, in
this process, against each engine: the price of seeing a publish at once instead of within a bounded time.
"""
from __future__ import annotations

import os
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench.common import Bench, Check, Section, cpu_seconds, labelled_files, median
from bench.prediction import Clients, measure_service
from harness.rest import Rest
from harness.service import RunningService

CONCURRENCY = (1, 4)
REPEATS = 3
LOOKUPS = 2000


def _replica(stack: ExitStack, workdir: Path) -> tuple[Bench, object, object]:
    from harness.azurite import ACCOUNT, Azurite
    from harness.postgres import PostgresCluster

    postgres = stack.enter_context(PostgresCluster())
    azurite = stack.enter_context(Azurite())
    service = RunningService(workdir / "replica", env={"CVLOCAL_SIGNING_SECRET": os.urandom(32).hex(),
                                                       "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string},
                             extra_args=["--database", postgres.create_database("bench"),
                                         "--blobs", f"azureblob://{ACCOUNT}/bench"])
    stack.enter_context(service)
    return Bench(service, Rest(service), workdir), postgres, azurite


def _engine_pids(postgres, azurite) -> list[int]:
    import psycopg

    with psycopg.connect(postgres.database_url("bench")) as conn:
        backends = [pid for (pid,) in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = 'bench' "
                                                   "AND pid != pg_backend_pid()")]
    return backends + [azurite.process.pid]


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except (OSError, IndexError):
            pass  # a backend that closed meanwhile
    return total


def _published_lookup_us(store, project_id: str, name: str) -> float:
    store.published(project_id, name)
    started = time.perf_counter()
    for _ in range(LOOKUPS):
        store.published(project_id, name)
    return (time.perf_counter() - started) / LOOKUPS * 1e6


def _lookups(single: Bench, postgres, project_ids: dict[str, str], scratch: Path) -> dict[str, float]:
    """Microseconds per `store.published` read, on a second store opened on each service's database (the read
    touches no blob: a scratch folder stands in for the container)."""
    from cvlocal.store import open_store

    sqlite = open_store(single.service.data_dir)
    shared = open_store(scratch, postgres.database_url("bench"))
    try:
        return {"sqlite": _published_lookup_us(sqlite, project_ids["sqlite"], "bench"),
                "postgres": _published_lookup_us(shared, project_ids["postgres"], "bench")}
    finally:
        sqlite.close()
        shared.close()


def run(quick: bool = False) -> Section:
    section = Section("cluster", "Cluster: one replica on PostgreSQL + Azurite vs one service on SQLite + folder",
                      __doc__.split("\n\n", 1)[1])
    files = labelled_files("fruit")
    images = [f.read_bytes() for f, _ in files]
    repeats = 1 if quick else REPEATS
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cvbench-cluster-")))
        try:
            replica, postgres, azurite = _replica(stack, workdir)
        except Exception as exc:  # no PostgreSQL binaries or no Node.js here: say so, measure nothing
            section.notes.append(f"not measured: {exc}")
            return section
        single_service = stack.enter_context(RunningService(workdir / "single"))
        benches = {"sqlite": Bench(single_service, Rest(single_service), workdir), "postgres": replica}
        clients, project_ids = {}, {}
        for kind, bench in benches.items():
            bench.warm_up()
            pid = bench.project()
            bench.upload(pid, files)
            iteration_id, _ = bench.train(pid)
            bench.publish(pid, iteration_id, "bench")
            project_ids[kind] = pid
            clients[kind] = Clients(bench, pid, "bench", images)
            clients[kind].run(2, nostore=True)  # warm
        engines = _engine_pids(postgres, azurite)
        results = {(kind, route, c): [] for kind in benches for route in ("nostore", "store") for c in CONCURRENCY}
        for c in CONCURRENCY:
            for _ in range(repeats):
                for route in ("nostore", "store"):
                    for kind, bench in benches.items():  # interleaved: both see the same machine
                        before, started = _cpu(engines), time.perf_counter()
                        measured = measure_service(clients[kind], bench.pid, c, route == "nostore")
                        images_sent = measured.run.throughput * (time.perf_counter() - started)  # as measure_service
                        engine_ms = 1000 * (_cpu(engines) - before) / images_sent if kind == "postgres" else 0.0
                        results[(kind, route, c)].append((measured, engine_ms))
        lookups = _lookups(benches["sqlite"], postgres, project_ids, workdir / "lookups")
    report(section, results, lookups, repeats)
    return section


def report(section: Section, results: dict, lookups: dict[str, float], repeats: int) -> None:
    def throughput(kind, route, c):
        return median([m.run.throughput for m, _ in results[(kind, route, c)]])

    def service_cpu(kind, route, c):
        return median([m.cpu_ms["workers"] + m.cpu_ms["event loop"] for m, _ in results[(kind, route, c)]])

    def engine_cpu(route, c):
        return median([e for _, e in results[("postgres", route, c)]])

    rows, ratios = [], {}
    for route in ("nostore", "store"):
        for c in CONCURRENCY:
            single, shared = throughput("sqlite", route, c), throughput("postgres", route, c)
            cpu_single, cpu_shared = service_cpu("sqlite", route, c), service_cpu("postgres", route, c)
            ratios[(route, c)] = (shared / single, cpu_shared / cpu_single)
            rows.append([route, c, single, shared, shared / single, cpu_single, cpu_shared, cpu_shared / cpu_single,
                         engine_cpu(route, c)])
    section.table(f"Images a second and CPU ms per image (service process), medians of {repeats} interleaved runs",
                  ["route", "clients", "SQLite img/s", "replica img/s", "replica / SQLite", "SQLite CPU ms",
                   "replica CPU ms", "replica / SQLite CPU", "engines CPU ms (PostgreSQL + Azurite)"], rows)
    section.table(f"The published-iteration read every prediction makes ({LOOKUPS} reads, in this process)",
                  ["engine", "microseconds a read"], [[k, v] for k, v in lookups.items()])
    best = max(CONCURRENCY, key=lambda c: throughput("sqlite", "nostore", c))
    for route, name in (("nostore", "nostore"), ("store", "stored")):
        ratio, cpu_ratio = ratios[(route, best)]
        section.checks.append(Check(f"cluster replica / SQLite, {name} route throughput ({best} clients)",
                                    f"{ratio:.2f}", "reported (the shared engines' cost per request)", None))
        section.checks.append(Check(f"cluster replica / SQLite, {name} route CPU per image in the service",
                                    f"{cpu_ratio:.2f}", "reported", None))
    per_image_ms = service_cpu("postgres", "nostore", best)
    section.checks.append(Check("published read on PostgreSQL (wall time) / a prediction's CPU in the service",
                                f"{lookups['postgres'] / 1000 / per_image_ms:.3f} ({lookups['postgres']:.0f} us vs "
                                f"{per_image_ms:.1f} ms)", "reported (why every prediction reads it: a publish is "
                                "seen at once)", None))
    section.notes.append("PostgreSQL and Azurite run on the same cores here, so the replica's figures include "
                         "sharing the machine with its engines, which a deployment runs elsewhere.")


if __name__ == "__main__":
    import sys

    from bench.report import print_section

    print_section(run(quick="--quick" in sys.argv))
