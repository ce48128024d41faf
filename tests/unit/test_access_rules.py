"""The service's access rules without a service: keys compare in constant time whatever their lengths and
characters; private, loopback and reserved addresses are refused before any connection (the same rules over
HTTP are tests/reliability/test_access.py)."""
from __future__ import annotations

import pytest

from cvlocal.gateway.keys import keys_match as _equal
from cvlocal.net.fetch import UrlFetcher, UrlRejected, is_public


def test_key_comparison_takes_any_lengths_and_characters():
    assert _equal("key", "key") and not _equal("key", "key2") and not _equal("", "key")
    assert not _equal("ünïcode", "unicode") and _equal("ünïcode", "ünïcode")


PRIVATE = ["http://127.0.0.1/", "http://localhost/", "http://[::1]/", "http://0.0.0.0/", "http://10.1.2.3/",
           "http://172.16.0.1/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/",
           "http://[::ffff:127.0.0.1]/", "http://2130706433/", "http://0x7f000001/", "http://127.1/",
           "http://[fe80::1]/", "http://[fc00::1]/", "http://100.64.0.1/", "http://224.0.0.1/",
           "https://127.0.0.1:8443/"]


@pytest.mark.parametrize("url", PRIVATE)
def test_private_loopback_and_reserved_addresses_are_refused_unless_allowed(url):
    fetcher = UrlFetcher(allow_private=False, timeout_s=1)
    fetcher.open_socket = lambda *a: pytest.fail(f"{url} was connected to")  # refused before any connection
    with pytest.raises(UrlRejected, match="private, loopback or reserved"):
        fetcher.fetch(url, 1024)


def test_public_addresses_pass_the_check():
    assert is_public("93.184.216.34") and is_public("2606:2800:220:1:248:1893:25c8:1946")
    assert not is_public("::ffff:10.0.0.1") and not is_public("127.0.0.1")
