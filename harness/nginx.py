"""nginx as the TLS reverse proxy of docs/examples/nginx.conf, on a free loopback port, in front of a service.

The example is used as written, with only what a reader replaces replaced: the host name (localhost, which a
test can resolve), the certificate (made here for localhost, with a CA of its own), the port nginx listens
on and the service's port. nginx runs in a folder of its own (`-p`), in the foreground, as a child process.
"""
from __future__ import annotations

import datetime
import os
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

from harness.engines import EngineMissing
from harness.process import ChildProcess, free_port

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "nginx.conf"
MAIN = """{user}worker_processes 1;
error_log {root}/error.log warn;
pid {root}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    include {root}/cvlocal.conf;
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                           if Path(p).exists()), None)
    if not found:
        raise EngineMissing("the reverse-proxy test needs nginx (Debian: apt-get install nginx)")
    return found


def make_certificate(folder: Path, host: str = "localhost") -> tuple[Path, Path]:
    """A self-signed certificate for `host` (also its own CA): (certificate, private key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def render_example(service_port: int, port: int, cert: Path, key: Path, host: str = "localhost") -> str:
    text = EXAMPLE.read_text()
    replaced = {"server 127.0.0.1:8400;": f"server 127.0.0.1:{service_port};",
                "listen 443 ssl;": f"listen 127.0.0.1:{port} ssl;",
                "listen 80;": f"listen 127.0.0.1:{free_port()};",
                "/etc/letsencrypt/live/cv.example.com/fullchain.pem": str(cert),
                "/etc/letsencrypt/live/cv.example.com/privkey.pem": str(key),
                "cv.example.com": host}
    for old, new in replaced.items():
        if old not in text:
            raise AssertionError(f"docs/examples/nginx.conf no longer has {old!r}; update harness/nginx.py")
        text = text.replace(old, new)
    return text


class Nginx(ChildProcess):
    """`with Nginx(folder, service.port) as proxy: httpx.get(proxy.url + "/health", verify=proxy.ca)`"""

    name = "nginx"

    def __init__(self, folder: Path, service_port: int):
        self.binary = nginx_binary()
        self.root = folder
        self.port = free_port()
        (folder / "tmp").mkdir(parents=True, exist_ok=True)
        self.ca, key = make_certificate(folder)
        (folder / "cvlocal.conf").write_text(render_example(service_port, self.port, self.ca, key))
        # as root, nginx's workers would drop to nobody, who cannot reach a test's private temporary folder
        user = "user root;\n" if os.geteuid() == 0 else ""
        (folder / "nginx.conf").write_text(MAIN.format(root=folder, user=user))
        self.log_path = folder / "nginx.log"

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def command(self) -> list[str]:
        return [self.binary, "-p", str(self.root), "-c", str(self.root / "nginx.conf"), "-e",
                str(self.root / "error.log"), "-g", "daemon off;"]

    def is_ready(self) -> bool:
        context = ssl.create_default_context(cafile=str(self.ca))
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as raw:
                with context.wrap_socket(raw, server_hostname="localhost"):
                    return True
        except OSError:
            return False

    def check(self) -> None:
        """`nginx -t` on the rendered example: the configuration is valid as written."""
        done = subprocess.run([*self.command()[:-2], "-t"], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise AssertionError(f"nginx -t refused docs/examples/nginx.conf:\n{done.stderr}")
