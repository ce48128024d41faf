"""Access: keys in any accepted header and case, refused when missing or wrong on every route; the prediction key
never trains or reads training data; export links are unguessable and expire; image URLs are fetched only over
http(s), capped in size, time and redirects, never from private or loopback addresses unless allowed, and from
the address that was checked (no DNS rebinding)."""
from __future__ import annotations

import http.client
import http.server
import re
import socket
import threading
import time
from contextlib import contextmanager

import pytest

from cvlocal.net.fetch import UrlFetcher, UrlRejected, resolve
from harness.images import photo
from harness.rest import Rest
from harness.service import PREDICTION_ROOT, TRAINING_ROOT

GENERAL_COMPACT = "0732100f-1a38-4e49-a514-c9b44c697ab5"
IMAGE = photo("red", 77)
BIG = 7 * 1024 * 1024


@pytest.fixture(scope="module")
def rest(cvlocal_service):
    return Rest(cvlocal_service)


def routes(rest: Rest) -> list[tuple[str, str]]:
    """Every API route of the OpenAPI document, with made-up ids, under Custom Vision's roots."""
    out = []
    for path, methods in rest.http.get("/openapi.json").json()["paths"].items():
        if path.startswith(("/training", "/prediction")):
            concrete = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)
            kind, rest_of_path = concrete.split("/", 2)[1:]
            root = TRAINING_ROOT if kind == "training" else PREDICTION_ROOT
            out += [(method.upper(), f"{root}/{rest_of_path}") for method in methods]
    return out


def raw_status(service, method: str, path: str, headers: dict[str, str]) -> int:
    """The status of a request sent with exactly these header names (http.client keeps their case)."""
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
    try:
        connection.request(method, path, headers={**headers, "Content-Length": "0"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


# ---- keys

def test_every_route_refuses_wrong_keys_in_every_key_header(rest):
    service = rest.service
    wrong = [service.training_key + "x", service.training_key[:-1], service.training_key.upper(), "",
             service.prediction_key + service.training_key, "ünïcode-kéy"]
    for method, path in routes(rest):
        for key in wrong:
            for header in ("Training-Key", "Prediction-Key", "Ocp-Apim-Subscription-Key"):
                r = rest.http.request(method, path, headers={header: key.encode("utf-8")})
                assert r.status_code == 401 and r.json()["code"] == "Unauthorized", (method, path, header, key)


@pytest.mark.parametrize("header", ["Training-Key", "training-key", "TRAINING-KEY", "tRaInInG-kEy",
                                    "Ocp-Apim-Subscription-Key", "OCP-APIM-SUBSCRIPTION-KEY"])
def test_the_training_key_works_in_any_accepted_header_in_any_case(rest, header):
    assert raw_status(rest.service, "GET", f"{TRAINING_ROOT}/projects", {header: rest.service.training_key}) == 200


@pytest.mark.parametrize("header", ["Prediction-Key", "PREDICTION-KEY", "prediction-key",
                                    "Ocp-Apim-Subscription-Key", "ocp-apim-subscription-key"])
def test_the_prediction_key_works_in_any_accepted_header_in_any_case(rest, header):
    status = raw_status(rest.service, "POST", f"{PREDICTION_ROOT}/00000000-0000-0000-0000-000000000000/classify/"
                        "iterations/x/image", {header: rest.service.prediction_key})
    assert status == 404  # past the key check: the project does not exist


def test_the_prediction_key_never_trains_or_reads_training_data(rest):
    service = rest.service
    for method, path in routes(rest):
        if path.startswith(TRAINING_ROOT):
            for header in ("Training-Key", "Prediction-Key", "Ocp-Apim-Subscription-Key"):
                r = rest.http.request(method, path, headers={header: service.prediction_key})
                assert r.status_code == 401, (method, path, header)
    pid, _, iid = rest.trained_project()
    rest.training("POST", f"/projects/{pid}/iterations/{iid}/publish",
                  params={"publishName": "p", "predictionId": service.prediction_resource_id})
    r = rest.prediction("POST", f"/{pid}/classify/iterations/p/image", content=IMAGE,
                        headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200 and "uri" not in r.text.lower() and "blobs" not in r.text  # no links to images


# ---- export links

@pytest.fixture(scope="module")
def short_lived(tmp_path_factory):
    """A service whose export links live 3 s and whose URL fetches may take 1 s, allowed to fetch loopback."""
    from harness.service import RunningService
    with RunningService(tmp_path_factory.mktemp("short") / "data",
                        extra_args=["--export-link-lifetime", "3", "--url-timeout", "1",
                                    "--allow-private-urls"]) as service:
        yield service


def test_export_links_are_unguessable_and_expire(short_lived):
    rest = Rest(short_lived)
    pid = rest.project(domain_id=GENERAL_COMPACT)
    for colour in ("red", "blue"):
        rest.upload(pid, rest.tag(pid, colour), [photo(colour, i) for i in range(5)])
    iid = rest.train(pid)
    links = []
    for _ in range(2):
        links.append(rest.export(pid, iid, "ONNX")["downloadUri"])
    made = time.monotonic()
    tokens = [link.rsplit("/", 2)[1] for link in links]
    assert tokens[0] != tokens[1] and all(len(t) >= 43 for t in tokens)  # 256 random bits each
    assert rest.http.get(links[0]).status_code == 404  # exporting again replaced the first link
    assert rest.http.get(links[1]).status_code == 200
    for forged in (links[1].replace(tokens[1], tokens[1][:-1]), links[1].replace(tokens[1], "x" * 43),
                   links[1].replace(tokens[1], tokens[1].upper())):
        assert rest.http.get(forged).status_code == 404
    time.sleep(max(0.0, made + 3.2 - time.monotonic()))
    r = rest.http.get(links[1])
    assert r.status_code == 404 and "expired" in r.json()["message"]


# ---- image URLs

class Site:
    """A loopback web server with the answers an image URL can give: images, big bodies, redirects, silence."""

    def __init__(self):
        site = self
        self.stop = threading.Event()
        self.requests: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                site.requests.append(self.path)
                path = self.path
                if path == "/img":
                    return self._send(200, IMAGE)
                if path == "/big":
                    return self._send(200, b"\0" * BIG)
                if path == "/big-chunked":
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"\0" * 65536
                    for _ in range(BIG // len(chunk) + 2):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if path.startswith("/hops/"):  # /hops/N: N redirects, then the image
                    left = int(path.rsplit("/", 1)[1])
                    return self._redirect("/img" if left <= 1 else f"/hops/{left - 1}")
                if path == "/loop":
                    return self._redirect("/loop")
                if path.startswith("/to?"):
                    return self._redirect(path[4:])
                if path == "/drip":  # headers, then a byte now and then, for ever
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    while not site.stop.wait(0.1):
                        self.wfile.write(b"\0")
                        self.wfile.flush()
                    return
                if path == "/silent":  # reads the request, never answers
                    site.stop.wait(15)
                    return
                return self._send(404, b"")

            def _send(self, status, body):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _redirect(self, location):
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # clients that hang up are the point here
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    served = Site()
    yield served
    served.close()


def url_upload(rest: Rest, urls: list[str]) -> list[dict]:
    pid = rest.project()
    r = rest.training("POST", f"/projects/{pid}/images/urls", json={"images": [{"url": u} for u in urls]}, timeout=60)
    assert r.status_code in (200, 207), r.text
    return r.json()["images"]


def test_only_http_and_https_urls_are_fetched(rest, site):
    results = url_upload(rest, [f"{site.base}/img", "file:///etc/passwd", f"ftp://127.0.0.1:{site.port}/img",
                                f"gopher://127.0.0.1:{site.port}/img", "data:image/jpeg;base64,/9j/4AAQ",
                                "javascript:alert(1)", "//127.0.0.1/img", "http:///img", "http://[::1/x",
                                f"{site.base}/to?file:///etc/passwd"])
    assert results[0]["status"] == "OK"
    for result in results[1:]:
        assert result["status"] == "ErrorSource" and result["message"], result


def test_url_fetches_are_capped_in_size_and_redirects(rest, site):
    results = url_upload(rest, [f"{site.base}/big", f"{site.base}/big-chunked", f"{site.base}/hops/3",
                                f"{site.base}/hops/4", f"{site.base}/loop", f"{site.base}/missing"])
    statuses = [(r["status"], r.get("message", "")) for r in results]
    assert statuses[0][0] == statuses[1][0] == "ErrorSource" and "larger than" in statuses[1][1]
    assert statuses[2][0] == "OK"  # three redirects are fine
    assert statuses[3] == statuses[4] == ("ErrorSource", "More than 3 redirects.")
    assert statuses[5] == ("ErrorSource", "The image URL answered HTTP 404.")


def test_silent_and_dripping_servers_time_out(short_lived, site):
    rest = Rest(short_lived)
    for path in ("/silent", "/drip"):
        started = time.monotonic()
        result = url_upload(rest, [f"{site.base}{path}"])[0]
        assert result["status"] == "ErrorSource" and "did not answer within 1 s" in result["message"], result
        assert time.monotonic() - started < 5, path
    pid, _, iid = rest.trained_project()
    started = time.monotonic()
    r = rest.training("POST", f"/projects/{pid}/quicktest/url", params={"iterationId": iid},
                      json={"url": f"{site.base}/silent"})
    assert r.status_code == 400 and r.json()["code"] == "BadRequestImageUrl" and time.monotonic() - started < 5


@contextmanager
def fake_dns(site: Site, names: dict[str, list[list[str]]]):
    """A fetcher whose resolver answers `names` (one answer per lookup, the last one repeated) and whose
    connections to the public address 93.184.216.34 go to the loopback site instead (no traffic leaves the
    machine); `lookups` and `connected` record what it resolved and where it connected."""
    lookups: list[str] = []
    connected: list[str] = []

    def resolver(host, port):
        lookups.append(host)
        if host not in names:  # address literals
            return resolve(host, port)
        answers = names[host]
        return answers[min(len(answers) - 1, lookups.count(host) - 1)]

    fetcher = UrlFetcher(allow_private=False, timeout_s=2, resolver=resolver)

    def open_socket(address, port, timeout):
        connected.append(address)
        target = "127.0.0.1" if address == "93.184.216.34" else address
        return socket.create_connection((target, site.port if target == "127.0.0.1" else port), timeout=timeout)

    fetcher.open_socket = open_socket
    yield fetcher, lookups, connected


def test_the_connection_goes_to_the_checked_address_so_dns_rebinding_fails(site):
    # First lookup: a public address; any later lookup (urllib's, at connect time): loopback.
    with fake_dns(site, {"rebind.test": [["93.184.216.34"], ["127.0.0.1"]]}) as (fetcher, lookups, connected):
        assert fetcher.fetch(f"http://rebind.test:{site.port}/img", 1 << 20) == IMAGE
    assert lookups == ["rebind.test"] and connected == ["93.184.216.34"]


def test_a_redirect_to_a_private_address_is_refused(site):
    names = {"public.test": [["93.184.216.34"]], "inside.test": [["10.0.0.5"]]}
    for location in (f"http://127.0.0.1:{site.port}/img", "http://inside.test/img", "http://[::1]/img"):
        with fake_dns(site, names) as (fetcher, lookups, connected):
            with pytest.raises(UrlRejected, match="private"):
                fetcher.fetch(f"http://public.test/to?{location}", 1 << 20)
        assert connected == ["93.184.216.34"], location  # only the public hop was connected to
    assert site.requests.count("/img") == 0
