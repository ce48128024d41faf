"""Benchmark 5, memory: the service's peak resident memory with 1 and with 10 published models.

A fresh service (nothing warmed). Phases, in order: start; upload the fruit set (45 1024x768 JPEGs, the SDK's
base64 JSON batches); train it and publish it; 200 predictions from 8 concurrent clients (1 published model);
then 9 more projects with the same photos (features cached), each trained, published and predicted 40 times
from 8 clients (10 published models). After each phase: the peak resident set size so far (VmHWM) and the
resident size now (VmRSS) of the service process.

Targets: peak RSS under 400 MB with 1 and with 10 published models, and the 9 extra models adding under 50 MB.
"""
from __future__ import annotations

import http.client
import threading

from bench.common import Check, Section, labelled_files, peak_rss_mb, rss_mb, running_service, unique_variant

PEAK_MB = 400.0
EXTRA_MODELS_MB = 50.0


def predict(bench, project_id: str, name: str, images: list[bytes], count: int, clients: int = 8) -> None:
    serial = iter(range(count))
    lock = threading.Lock()
    failures: list[str] = []
    path = f"/customvision/v3.0/Prediction/{project_id}/classify/iterations/{name}/image"
    headers = {"Prediction-Key": bench.service.prediction_key, "Content-Type": "application/octet-stream"}

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", bench.service.port, timeout=60)
        try:
            while True:
                with lock:
                    n = next(serial, None)
                if n is None:
                    return
                conn.request("POST", path, body=unique_variant(images[n % len(images)], n), headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200:
                    failures.append(f"{resp.status} {body[:200]!r}")
        finally:
            conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError(f"predictions failed: {failures[:3]}")


def run(quick: bool = False) -> Section:
    section = Section("memory", "Memory: the service's peak RSS", __doc__.split("\n\n")[1])
    files = labelled_files("fruit")
    images = [f.read_bytes() for f, _ in files]
    rows = []
    models = 3 if quick else 10
    with running_service("memory", warm=False) as bench:
        pid = bench.pid

        def phase(name: str) -> None:
            rows.append([name, peak_rss_mb(pid), rss_mb(pid)])

        phase("started")
        first = bench.project()
        bench.upload(first, files)
        phase("fruit uploaded")
        iteration_id, _ = bench.train(first)
        bench.publish(first, iteration_id, "bench")
        phase("trained and published")
        predict(bench, first, "bench", images, 200)
        phase("200 predictions: 1 published model")
        one_model = peak_rss_mb(pid)
        projects = [first]
        for _ in range(models - 1):
            project_id = bench.project()
            bench.upload(project_id, files)
            iteration_id, _ = bench.train(project_id)
            bench.publish(project_id, iteration_id, "bench")
            projects.append(project_id)
        phase(f"{models} trained and published")
        for project_id in projects:
            predict(bench, project_id, "bench", images, 40)
        phase(f"40 predictions each: {models} published models")
        ten_models = peak_rss_mb(pid)
    section.table("Service process memory after each phase (MB)", ["phase", "peak RSS (VmHWM)", "RSS now"], rows)
    section.checks.append(Check("peak RSS, 1 published model", f"{one_model:.0f} MB", f"< {PEAK_MB:g} MB",
                                one_model < PEAK_MB))
    section.checks.append(Check(f"peak RSS, {models} published models", f"{ten_models:.0f} MB",
                                f"< {PEAK_MB:g} MB", ten_models < PEAK_MB))
    section.checks.append(Check(f"what {models - 1} more models add to the peak", f"{ten_models - one_model:.0f} MB",
                                f"< {EXTRA_MODELS_MB:g} MB", ten_models - one_model < EXTRA_MODELS_MB))
    return section


if __name__ == "__main__":
    import sys

    from bench.report import print_section

    print_section(run(quick="--quick" in sys.argv))
