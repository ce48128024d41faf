"""Benchmark 1, prediction: the classify routes' throughput and latency against the in-process limit.

A service on loopback has the fruit set trained and published. Closed-loop clients (1, 2, 4, 8 threads, one
keep-alive HTTP connection each) post the fruit set's 1024x768 JPEGs to `/classify/iterations/{name}/image`
(the default route, which stores each image and its prediction) and to `.../image/nostore` for a fixed time.
Every request carries a distinct image (the JPEG with a unique trailer after its end marker: same pixels, new
content hash), so the stored route really writes a new blob and a prediction row each time, as real traffic
would.

The limit, measured in the same run and interleaved with the service runs: the same bytes decoded and
preprocessed (`decode_for_model`) and run through the same ONNX backbone in this process, batch 1, by as
many threads as there are clients. The limit takes the better of two session settings (the service's own
`Backbone()` and onnxruntime's defaults with an intra-op thread per core), so a session setting that only
suits the service cannot flatter it. The nostore route does exactly the limit's work, so it is compared with
the limit. The stored route also writes every image durably (a 170 KB file, fsynced, and a SQLite row);
on this machine that writing costs about as much CPU as the HTTP serving. So it is compared with the limit
plus the same writing in-process (cvlocal's own blob store and prediction table, in a scratch directory),
and its ratio to the bare limit is reported beside.

The fastest path: at the service's best concurrency, the nostore route is also set against every in-process way
of doing the same work found, each run by as many threads as there are clients, interleaved with the route: the
limit's two session settings, the images run in batches of 4 per backbone call (as a client holding many
images could), and, on a CPU with VNNI, the int8 Lite0 graph of `--precision int8` (model/quantised.py). The
headline ratio above keeps its definition; this one says how far the service is from the best a user could do.

The model is Regular's (Lite0, the squash preprocessing, which the limit uses too). Then the same project is
trained as Advanced (Lite0 and Lite2 per image, about 2.7 times the work) and its nostore route measured the
same way: reported beside Regular's, with no target.

Targets: at the service's best concurrency, throughput at least 0.85 of the limit of the same work (nostore:
the limit; stored: the limit plus storing); p99 latency at most 3x p50 at every concurrency, on both routes.
"""
from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cvlocal.store import utcnow

from bench.common import Check, Section, labelled_files, median, percentile, running_service, unique_variant

CONCURRENCY = (1, 2, 4, 8)
WARMUP_S = 0.5
RUN_S = 2.0
REPEATS = 4
TARGET_RATIO = 0.85
TARGET_TAIL = 3.0


@dataclass
class Run:
    throughput: float  # requests (images) a second
    p50_ms: float
    p99_ms: float
    count: int


def closed_loop(workers: int, job, warmup_s: float = WARMUP_S, run_s: float = RUN_S) -> Run:
    """`workers` threads call job(worker, n) back to back; what finished inside the measured window counts."""
    start = time.perf_counter()
    begin, end = start + warmup_s, start + warmup_s + run_s
    latencies: list[list[float]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []

    def loop(w: int) -> None:
        n = 0
        try:
            while True:
                t0 = time.perf_counter()
                if t0 >= end:
                    return
                job(w, n)
                t1 = time.perf_counter()
                if t0 >= begin and t1 <= end:
                    latencies[w].append(t1 - t0)
                n += 1
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(w,), daemon=True) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    done = [x for lat in latencies for x in lat]
    per_call = getattr(job, "images_per_call", 1)
    return Run(per_call * len(done) / run_s, percentile(done, 50) * 1000, percentile(done, 99) * 1000,
               per_call * len(done))


class InProcess:
    """The limit: decode + preprocess + ONNX backbone (batch 1) in this process, no HTTP, no storage."""

    def __init__(self, images: list[bytes], scratch_dir: Path):
        import onnxruntime as ort

        from cvlocal.model.backbone import Backbone, backbone_model_bytes
        from cvlocal.store import SqliteStore as Store

        self.images = images
        self.service_like = Backbone()
        defaults = ort.SessionOptions()  # onnxruntime's own defaults: an intra-op thread per core, spinning
        defaults.intra_op_num_threads = len(os.sched_getaffinity(0))
        defaults.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.other = ort.InferenceSession(backbone_model_bytes(), defaults, providers=["CPUExecutionProvider"])
        self.scratch = Store(scratch_dir)
        self.scratch.db.query("PRAGMA foreign_keys=OFF")  # no project or iteration rows here; same writes
        self.int8 = None  # set by `with_int8`: building it takes a while, and only the fastest-path figure uses it

    def with_int8(self) -> None:
        from cvlocal.model.backbone import Backbone

        from cvlocal.model.quantised import has_vnni, quantise, sample_crops

        if has_vnni():  # elsewhere `--precision int8` is refused, and int8 ran slower than float
            self.int8 = Backbone(quantise(Backbone().spec.name, sample_crops()))

    def close(self) -> None:
        self.scratch.close()

    def run(self, workers: int) -> tuple[Run, str]:
        a = closed_loop(workers, self._job(workers, "Backbone()", storing=False))
        b = closed_loop(workers, self._job(workers, "ort defaults", storing=False))
        return (a, "Backbone()") if a.throughput >= b.throughput else (b, "ort defaults")

    def run_paths(self, workers: int) -> dict[str, Run]:
        """Every in-process way of doing the nostore route's work found (see the module's docstring)."""
        runs = {"Backbone(), batch 1": closed_loop(workers, self._job(workers, "Backbone()", storing=False)),
                "ort defaults, batch 1": closed_loop(workers, self._job(workers, "ort defaults", storing=False)),
                "Backbone(), batches of 4": closed_loop(workers, self._batched(workers, 4))}
        if self.int8 is not None:
            runs["int8 Backbone(), batch 1"] = closed_loop(workers, self._job(workers, "int8", storing=False))
        return runs

    def _batched(self, workers: int, size: int):
        """A job that decodes `size` images and runs them through the backbone in one call; counted as `size`
        jobs' worth by dividing the loop's count afterwards (closed_loop counts calls)."""
        from cvlocal.model.preprocess import decode_for_model
        from cvlocal.model.training_types import REGULAR

        counter = iter(range(10**12))

        def job(w, n):
            x = np.stack([decode_for_model(unique_variant(self._next(w, n * size + i, workers), next(counter)),
                                           resize=REGULAR.resize) for i in range(size)])
            self.service_like.features(x)
        job.images_per_call = size
        return job

    def run_storing(self, workers: int, setting: str) -> Run:
        """The limit's work, then the image and its prediction row written as the stored route writes them."""
        return closed_loop(workers, self._job(workers, setting, storing=True))

    def _job(self, workers: int, setting: str, storing: bool):
        from cvlocal.model.preprocess import decode_for_model
        from cvlocal.model.training_types import REGULAR

        counter = iter(range(10**12))
        rows = [{"probability": 1.0, "tagId": "t", "tagName": "t", "tagType": "Regular", "boundingBox": None}]

        def job(w, n):
            data = unique_variant(self._next(w, n, workers), next(counter))
            x = decode_for_model(data, resize=REGULAR.resize)[np.newaxis]
            if setting == "Backbone()":
                self.service_like.features(x)
            elif setting == "int8":
                self.int8.features(x)
            else:
                self.other.run(["features"], {"image": x.transpose(0, 3, 1, 2).astype(np.float32)})
            if storing:
                digest = self.scratch.blobs.put(data)
                self.scratch.store_prediction(str(uuid.uuid4()), "project", "iteration", None, digest, rows,
                                              utcnow())
        return job

    def _next(self, w: int, n: int, workers: int) -> bytes:
        return self.images[(n * workers + w) % len(self.images)]


class Connection:
    """A minimal keep-alive HTTP/1.1 client on a raw socket: the clients share the service's cores, so they do
    as little as a client can (about a third of http.client's CPU per request)."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def post(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        self.sock.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        while b"\r\n\r\n" not in self.buffer:
            self._read()
        header, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = header.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = next(int(line.split(b":", 1)[1]) for line in lines[1:] if line.lower().startswith(b"content-length:"))
        while len(rest) < length:
            rest += self._recv()
        self.buffer = rest[length:]
        return status, rest[:length]

    def _read(self) -> None:
        self.buffer += self._recv()

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the service closed the connection")
        return chunk

    def close(self) -> None:
        self.sock.close()


class Clients:
    """`workers` HTTP clients, one keep-alive connection each, posting distinct images to a route."""

    def __init__(self, bench, project_id: str, name: str, images: list[bytes]):
        self.name = name
        self.port = bench.service.port
        self.key = bench.service.prediction_key
        self.path = f"/customvision/v3.0/Prediction/{project_id}/classify/iterations/{name}/image"
        self.images = images
        self._serial = iter(range(10**12))
        self._lock = threading.Lock()

    def run(self, workers: int, nostore: bool = False) -> Run:
        path = self.path + ("/nostore" if nostore else "")
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nPrediction-Key: {self.key}\r\n"
                "Content-Type: application/octet-stream\r\n").encode()
        connections = [Connection(self.port) for _ in range(workers)]

        def post(w, n):
            with self._lock:
                serial = next(self._serial)
            status, payload = connections[w].post(head, unique_variant(self.images[serial % len(self.images)],
                                                                       serial))
            if status != 200:
                raise RuntimeError(f"classify answered {status}: {payload[:300]!r}")

        try:
            return closed_loop(workers, post)
        finally:
            for conn in connections:
                conn.close()


def _cpu_s(pid: int, tid: int | None = None) -> float:
    """CPU seconds (user + system) of a process, or of one of its threads."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    fields = open(path).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Measured:
    run: Run
    cpu_ms: dict[str, float]  # CPU milliseconds per image, by who spent it


def measure_service(clients: Clients, service_pid: int, workers: int, nostore: bool) -> Measured:
    me = os.getpid()
    before = (_cpu_s(service_pid, service_pid), _cpu_s(service_pid), _cpu_s(me))
    started = time.perf_counter()
    run = clients.run(workers, nostore)
    images = run.throughput * (time.perf_counter() - started)  # about what was sent, warm-up included
    loop, total, client = (_cpu_s(service_pid, service_pid) - before[0], _cpu_s(service_pid) - before[1],
                           _cpu_s(me) - before[2])
    return Measured(run, {"event loop": 1000 * loop / images, "workers": 1000 * (total - loop) / images,
                          "client": 1000 * client / images})


def measure_limit(limit: InProcess, workers: int) -> tuple[Measured, str, Measured]:
    """The bare limit (the better session setting) and, with that setting, the limit plus storing."""
    me = os.getpid()
    before, started = _cpu_s(me), time.perf_counter()
    run, setting = limit.run(workers)
    # Two session settings ran back to back; count the CPU of both over the images of both.
    images = run.throughput * (time.perf_counter() - started)
    bare = Measured(run, {"in-process": 1000 * (_cpu_s(me) - before) / images})
    before, started = _cpu_s(me), time.perf_counter()
    storing = limit.run_storing(workers, setting)
    images = storing.throughput * (time.perf_counter() - started)
    return bare, setting, Measured(storing, {"in-process": 1000 * (_cpu_s(me) - before) / images})


ROUTES = {"nostore": "limit", "store": "limit+storing"}  # each route against the limit of the same work


def run(quick: bool = False) -> Section:
    section = Section("prediction", "Prediction: classify routes vs the in-process limit",
                      __doc__.split("\n\n", 1)[1].rsplit("\n\nTargets:", 1)[0])
    files = labelled_files("fruit")
    images = [f.read_bytes() for f, _ in files]
    concurrency = (1, 4) if quick else CONCURRENCY
    repeats = 1 if quick else REPEATS
    results: dict[int, dict[str, list]] = {c: {"limit": [], "setting": [], "limit+storing": [], "store": [],
                                               "nostore": []} for c in concurrency}
    with running_service("prediction") as bench:
        pid = bench.project()
        bench.upload(pid, files)
        iteration_id, _ = bench.train(pid)
        bench.publish(pid, iteration_id, "bench")
        limit = InProcess(images, bench.workdir / "limit-scratch")
        clients = Clients(bench, pid, "bench", images)
        clients.run(2, nostore=True)  # warm the service's code paths and caches
        try:
            for c in concurrency:  # interleaved, so the limits and the service see the same machine
                for _ in range(repeats):
                    bare, setting, storing = measure_limit(limit, c)
                    results[c]["limit"].append(bare)
                    results[c]["setting"].append(setting)
                    results[c]["limit+storing"].append(storing)
                    results[c]["store"].append(measure_service(clients, bench.pid, c, nostore=False))
                    results[c]["nostore"].append(measure_service(clients, bench.pid, c, nostore=True))
            advanced = measure_advanced(bench, pid, images, clients, concurrency, repeats)
            best = max(concurrency, key=lambda c: median([m.run.throughput for m in results[c]["nostore"]]))
            limit.with_int8()
            paths = measure_paths(limit, clients, bench.pid, best, repeats)
        finally:
            limit.close()
    report(section, results, concurrency, repeats)
    report_advanced(section, advanced, results, concurrency)
    report_paths(section, paths, best)
    return section


def measure_paths(limit: InProcess, clients: Clients, service_pid: int, workers: int, repeats: int) -> dict:
    """Every in-process path and the nostore route at `workers` clients, interleaved."""
    out: dict[str, list[float]] = {"nostore route": []}
    for _ in range(repeats):
        for name, run_ in limit.run_paths(workers).items():
            out.setdefault(name, []).append(run_.throughput)
        out["nostore route"].append(measure_service(clients, service_pid, workers, nostore=True).run.throughput)
    return out


def report_paths(section: Section, paths: dict, workers: int) -> None:
    medians = {name: median(values) for name, values in paths.items()}
    route = medians.pop("nostore route")
    fastest = max(medians, key=medians.get)
    today = max(medians["Backbone(), batch 1"], medians["ort defaults, batch 1"])  # the limit's own definition
    section.table(f"The nostore route against every in-process path found, {workers} clients / threads: images a "
                  f"second, medians of {len(paths['nostore route'])} interleaved runs",
                  ["path", "img/s", "nostore route / path"],
                  [[name, value, route / value] for name, value in medians.items()])
    section.checks.append(Check("prediction throughput, nostore route / the fastest in-process path found",
                                f"{route / medians[fastest]:.2f} ({route:.1f} vs {medians[fastest]:.1f} img/s: "
                                f"{fastest}, {workers} clients); against today's limit {route / today:.2f}",
                                "reported (issue 26: the headline ratio's limit is no slower than a user's best)",
                                None))


def measure_advanced(bench, pid: str, images: list[bytes], regular: Clients, concurrency, repeats: int) -> dict:
    """The same project trained as Advanced and published beside Regular; its nostore route, interleaved with
    Regular's again so the two see the same machine."""
    iteration_id, _ = bench.train(pid, force=True, trainingType="Advanced", reservedBudgetInHours=1)
    bench.publish(pid, iteration_id, "bench-advanced")
    advanced = Clients(bench, pid, "bench-advanced", images)
    advanced.run(2, nostore=True)  # load its head and the Lite2 session
    out = {c: {"Advanced": [], "Regular": []} for c in concurrency}
    for c in concurrency:
        for _ in range(repeats):
            out[c]["Regular"].append(measure_service(regular, bench.pid, c, nostore=True))
            out[c]["Advanced"].append(measure_service(advanced, bench.pid, c, nostore=True))
    return out


def report_advanced(section: Section, advanced: dict, results: dict, concurrency) -> None:
    rows = []
    for c in concurrency:
        a, r = advanced[c]["Advanced"], advanced[c]["Regular"]
        rows.append([c, median([m.run.throughput for m in r]), median([m.run.throughput for m in a]),
                     median([x.run.throughput / y.run.throughput for x, y in zip(a, r)]),
                     median([m.run.p50_ms for m in a]), median([m.run.p99_ms for m in a]),
                     median([m.cpu_ms["workers"] for m in a])])
    section.table("Advanced training's model (Lite0 + Lite2) on the nostore route, interleaved with Regular's: "
                  "images a second, latency (ms) and the service workers' CPU ms per image",
                  ["clients", "Regular img/s", "Advanced img/s", "Advanced / Regular", "Advanced p50",
                   "Advanced p99", "Advanced workers CPU ms"], rows)
    best = max(rows, key=lambda row: row[2])
    section.checks.append(Check("Advanced model's prediction throughput, nostore, at its best concurrency",
                                f"{best[2]:.1f} img/s ({best[3]:.2f} of Regular's, {best[0]} clients)",
                                "reported (Advanced costs about 2.7 Regular predictions)", None))


def _paired(service: list[Measured], limit: list[Measured]) -> float:
    """Median of each service run's throughput over the limit run just before it."""
    return median([s.run.throughput / lim.run.throughput for s, lim in zip(service, limit)])


def report(section: Section, results: dict, concurrency, repeats: int) -> None:
    def med(runs, attr):
        return median([getattr(m.run, attr) for m in runs])

    def cpu(runs, key):
        return median([m.cpu_ms[key] for m in runs])

    rows, cpu_rows, tails = [], [], {route: [] for route in ROUTES}
    for c in concurrency:
        r = results[c]
        rows.append([c, med(r["limit"], "throughput"), "/".join(sorted(set(r["setting"]))),
                     med(r["nostore"], "throughput"), _paired(r["nostore"], r["limit"]),
                     med(r["limit+storing"], "throughput"), med(r["store"], "throughput"),
                     _paired(r["store"], r["limit+storing"]), _paired(r["store"], r["limit"])])
        for route in ROUTES:
            p50, p99 = med(r[route], "p50_ms"), med(r[route], "p99_ms")
            tails[route].append((p99 / p50, c, p50, p99))
        service_cpu = {route: sum(cpu(r[route], k) for k in ("workers", "event loop", "client")) for route in ROUTES}
        cpu_rows.append([c, cpu(r["limit"], "in-process"), service_cpu["nostore"], cpu(r["nostore"], "workers"),
                         cpu(r["nostore"], "event loop"), cpu(r["nostore"], "client"),
                         cpu(r["limit+storing"], "in-process"), service_cpu["store"], cpu(r["store"], "workers")])
    section.table(f"Images a second: medians of {repeats} interleaved runs of {RUN_S:g} s at each concurrency. "
                  "Each service / limit ratio pairs a service run with the limit run just before it",
                  ["clients", "limit", "limit session", "nostore route", "nostore / limit", "limit + storing",
                   "stored route", "stored / (limit + storing)", "stored / limit"], rows)
    section.table("Latency (ms), medians over the same runs",
                  ["clients", "nostore p50", "nostore p99", "nostore p99 / p50", "stored p50", "stored p99",
                   "stored p99 / p50"],
                  [[c, *_tail_cells(tails["nostore"][n]), *_tail_cells(tails["store"][n])]
                   for n, c in enumerate(concurrency)])
    section.table("CPU milliseconds per image (medians): where a request's cost goes. The limit is decode + "
                  "preprocess + backbone; the service's workers do that plus the head (and, stored, the writing); "
                  "the event loop receives the HTTP request and answers it; the client is this benchmark's own",
                  ["clients", "limit", "nostore: service + client", "nostore: workers", "nostore: event loop",
                   "nostore: client", "limit + storing", "stored: service + client", "stored: workers"], cpu_rows)

    for route, limit_name, label in (("nostore", "limit", "nostore route / limit (the same work)"),
                                     ("store", "limit+storing", "stored route / (limit + storing)")):
        column = 4 if route == "nostore" else 7
        best = max(rows, key=lambda row: row[3 if route == "nostore" else 6])
        c = best[0]
        service, lim = (best[3], best[1]) if route == "nostore" else (best[6], best[5])
        section.checks.append(Check(f"prediction throughput, {label}, at the service's best concurrency",
                                    f"{best[column]:.2f} ({service:.1f} vs {lim:.1f} img/s, {c} clients)",
                                    f">= {TARGET_RATIO}", best[column] >= TARGET_RATIO))
    best_store = max(rows, key=lambda row: row[6])
    section.checks.append(Check("prediction throughput, stored route / limit (storing not in the limit)",
                                f"{best_store[8]:.2f} ({best_store[6]:.1f} vs {best_store[1]:.1f} img/s, "
                                f"{best_store[0]} clients)", "reported (the cost of writing every image "
                                "durably; see the CPU table)", None))
    best_nostore = max(rows, key=lambda row: row[3])
    cpu_best = next(row for row in cpu_rows if row[0] == best_nostore[0])
    section.checks.append(Check("CPU per image, nostore: limit / (service + client), at that concurrency",
                                f"{cpu_best[1] / cpu_best[2]:.2f} ({cpu_best[1]:.1f} vs {cpu_best[2]:.1f} ms)",
                                "reported (what the throughput ratio tends to when the service is CPU-bound; "
                                "little moved by other load)", None))
    for route, name in (("nostore", "nostore"), ("store", "stored")):
        worst = max(tails[route])
        section.checks.append(Check(f"prediction p99 / p50, {name} route (worst concurrency)",
                                    f"{worst[0]:.2f} ({worst[1]} clients: p50 {worst[2]:.1f} ms, p99 "
                                    f"{worst[3]:.1f} ms)", f"<= {TARGET_TAIL:g} at every concurrency",
                                    worst[0] <= TARGET_TAIL))
    section.notes.append("The clients run in the benchmark process on the same cores as the service, as a "
                         "local client would; the limit has no client to feed.")


def _tail_cells(tail: tuple) -> list:
    ratio, _, p50, p99 = tail
    return [p50, p99, ratio]


if __name__ == "__main__":
    import sys

    from bench.report import print_section

    print_section(run(quick="--quick" in sys.argv))
