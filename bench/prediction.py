"""Benchmark 1, prediction: the classify route's throughput and latency against the in-process limit.

A service on loopback has the fruit set trained and published. Closed-loop clients (1, 2, 4, 8 threads, one
keep-alive HTTP connection each) post the fruit set's 1024x768 JPEGs to
`/classify/iterations/{name}/image` (stored, as the default route does) for a fixed time. Every request
carries a distinct image (the JPEG with a unique trailer after its end marker: same pixels, new content
hash), so the service really stores a new blob and a prediction row each time, as with real traffic.

The limit, measured in the same run and interleaved with the service runs: the same bytes decoded and
preprocessed (`decode_for_model`) and run through the same ONNX backbone in this process, batch 1, by as
many threads as there are clients. The limit takes the better of two session settings (the service's own
`Backbone()` and onnxruntime's defaults with an intra-op thread per core), so a session setting that only
suits the service cannot flatter it.

Targets: at the service's best concurrency, throughput at least 0.85 of the best limit; p99 latency at most
3x p50 at every concurrency.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass

import numpy as np

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
    return Run(len(done) / run_s, percentile(done, 50) * 1000, percentile(done, 99) * 1000, len(done))


class InProcess:
    """The limit: decode + preprocess + ONNX backbone (batch 1) in this process, no HTTP, no storage."""

    def __init__(self, images: list[bytes]):
        import onnxruntime as ort

        from cvlocal.model.backbone import Backbone, backbone_model_bytes

        self.images = images
        self.service_like = Backbone()
        defaults = ort.SessionOptions()  # onnxruntime's own defaults: an intra-op thread per core, spinning
        defaults.intra_op_num_threads = len(os.sched_getaffinity(0))
        defaults.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.other = ort.InferenceSession(backbone_model_bytes(), defaults, providers=["CPUExecutionProvider"])

    def run(self, workers: int) -> tuple[Run, str]:
        from cvlocal.model.preprocess import decode_for_model

        counter = iter(range(10**12))

        def with_backbone(w, n):
            self.service_like.features(decode_for_model(unique_variant(self._next(w, n, workers), next(counter)))
                                       [np.newaxis])

        def with_defaults(w, n):
            x = decode_for_model(unique_variant(self._next(w, n, workers), next(counter)))[np.newaxis]
            self.other.run(["features"], {"image": x.transpose(0, 3, 1, 2).astype(np.float32)})

        a = closed_loop(workers, with_backbone)
        b = closed_loop(workers, with_defaults)
        return (a, "Backbone()") if a.throughput >= b.throughput else (b, "ort defaults")

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


def measure_limit(limit: InProcess, workers: int) -> tuple[Measured, str]:
    me = os.getpid()
    before, started = _cpu_s(me), time.perf_counter()
    run, setting = limit.run(workers)
    # Two session settings ran back to back; count the CPU of both over the images of both.
    images = run.throughput * (time.perf_counter() - started)
    return Measured(run, {"in-process": 1000 * (_cpu_s(me) - before) / images}), setting


def run(quick: bool = False) -> Section:
    section = Section("prediction", "Prediction: classify route vs the in-process limit", __doc__.split("\n\n")[1])
    files = labelled_files("fruit")
    images = [f.read_bytes() for f, _ in files]
    concurrency = (1, 4) if quick else CONCURRENCY
    repeats = 1 if quick else REPEATS
    results: dict[int, dict[str, list]] = {c: {"limit": [], "setting": [], "store": [], "nostore": []}
                                           for c in concurrency}
    with running_service("prediction") as bench:
        pid = bench.project()
        bench.upload(pid, files)
        iteration_id, _ = bench.train(pid)
        bench.publish(pid, iteration_id, "bench")
        limit = InProcess(images)
        clients = Clients(bench, pid, "bench", images)
        clients.run(2, nostore=True)  # warm the service's code paths and caches
        for c in concurrency:  # interleaved, so the limit and the service see the same machine
            for _ in range(repeats):
                measured, setting = measure_limit(limit, c)
                results[c]["limit"].append(measured)
                results[c]["setting"].append(setting)
                results[c]["store"].append(measure_service(clients, bench.pid, c, nostore=False))
                results[c]["nostore"].append(measure_service(clients, bench.pid, c, nostore=True))

    def med(runs, attr):
        return median([getattr(m.run, attr) for m in runs])

    rows, cpu_rows, best = [], [], None
    tails_ok = True
    for c in concurrency:
        r = results[c]
        paired = median([s.run.throughput / lim.run.throughput for s, lim in zip(r["store"], r["limit"])])
        lim, thr = med(r["limit"], "throughput"), med(r["store"], "throughput")
        p50, p99 = med(r["store"], "p50_ms"), med(r["store"], "p99_ms")
        tails_ok &= p99 <= TARGET_TAIL * p50
        rows.append([c, lim, "/".join(sorted(set(r["setting"]))), thr, paired, p50, p99, p99 / p50,
                     med(r["nostore"], "throughput"), med(r["nostore"], "p50_ms"), med(r["nostore"], "p99_ms")])
        cpu = {k: median([m.cpu_ms[k] for m in r["store"]]) for k in r["store"][0].cpu_ms}
        nostore_cpu = median([m.cpu_ms["workers"] for m in r["nostore"]])
        cpu_rows.append([c, median([m.cpu_ms["in-process"] for m in r["limit"]]), cpu["workers"], nostore_cpu,
                         cpu["event loop"], cpu["client"], cpu["workers"] + cpu["event loop"] + cpu["client"]])
        if best is None or thr > best[1]:
            best = (c, thr, paired, lim)
    best_limit = max(r[1] for r in rows)
    section.table(f"Images a second and latency (ms): medians of {repeats} interleaved runs of {RUN_S:g} s at "
                  "each concurrency; service / limit pairs each service run with the limit run just before it",
                  ["clients", "limit img/s", "limit session", "service img/s", "service / limit",
                   "p50 ms", "p99 ms", "p99 / p50", "nostore img/s", "nostore p50", "nostore p99"], rows)
    section.table("CPU milliseconds per image (medians): where a request's cost goes. The limit's column is "
                  "decode + preprocess + backbone; the service's workers do that plus the head and storing; the "
                  "event loop parses HTTP and routes; the client is this benchmark's own",
                  ["clients", "limit", "service workers", "workers, nostore", "service event loop", "client",
                   "service + client"], cpu_rows)
    section.checks.append(Check("prediction throughput / limit, at the service's best concurrency",
                                f"{best[2]:.2f} ({best[1]:.1f} vs {best[3]:.1f} img/s, {best[0]} clients; "
                                f"best limit {best_limit:.1f})", f">= {TARGET_RATIO}", best[2] >= TARGET_RATIO))
    cpu_best = next(r for r in cpu_rows if r[0] == best[0])
    section.checks.append(Check("CPU per image: limit / (service + client), at that concurrency",
                                f"{cpu_best[1] / cpu_best[6]:.2f} ({cpu_best[1]:.1f} vs {cpu_best[6]:.1f} ms)",
                                "reported (what the throughput ratio tends to when the service is CPU-bound; "
                                "little moved by other load)", None))
    worst = max(rows, key=lambda r: r[7])
    section.checks.append(Check("prediction p99 / p50 (worst concurrency)",
                                f"{worst[7]:.2f} ({worst[0]} clients: p50 {worst[5]:.1f} ms, p99 {worst[6]:.1f} ms)",
                                f"<= {TARGET_TAIL:g} at every concurrency", tails_ok))
    section.notes.append("The clients run in the benchmark process on the same cores as the service, as a "
                         "local client would; the limit has no client to feed.")
    return section


if __name__ == "__main__":
    import sys

    from bench.report import print_section

    print_section(run(quick="--quick" in sys.argv))
