"""Azure's naming rules for the names this project asks for, checked before Azure sees them.

Sources (Microsoft Learn; re-read them when Azure refuses a name these rules let through):
  - lengths and characters: "Naming rules and restrictions for Azure resources",
    https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules
  - reserved words: "Resolve errors for reserved resource names",
    https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-reserved-resource-name
  - a custom subdomain is a DNS label (`<name>.cognitiveservices.azure.com`): at most 63 characters (RFC 1035).

Global names (custom subdomains, storage accounts, key vaults) must also be free in all of Azure;
only Azure can say that (docs/deploy.md lists a check command for each).

Also a command, for the names docs/deploy.md creates by hand before Pulumi runs:
  python -m infra.naming --backend-url "azblob://pulumi-state?storage_account=cvopsstate" \
      --secrets-provider "azurekeyvault://cvops-kv.vault.azure.net/keys/pulumi"
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from typing import Sequence
from urllib.parse import parse_qs, urlparse


@dataclass(frozen=True)
class NameRule:
    """One kind of Azure name: its length, its characters (as a regex and in words) and its scope."""

    what: str
    min_length: int
    max_length: int
    pattern: str
    characters: str
    scope: str
    public_endpoint: bool = False  # reserved words apply to names that become host names

    def problem(self, name: str) -> str | None:
        """Why `name` breaks this rule, or None when it fits."""
        if not self.min_length <= len(name) <= self.max_length:
            return f"{len(name)} characters; {self.what} names take {self.min_length} to {self.max_length}"
        if not re.fullmatch(self.pattern, name):
            return f"{self.what} names take {self.characters}"
        if self.public_endpoint:
            return reserved_word(name)
        return None

    def check(self, name: str) -> str:
        """The name, or ValueError saying what to change."""
        problem = self.problem(name)
        if problem:
            raise ValueError(f"{self.what} name {name!r} is not valid: {problem}")
        return name


def _hyphenated(lowercase: bool = False, single_hyphens: bool = False, letter_first: bool = False) -> tuple[str, str]:
    """(pattern, characters) of the names Azure builds from letters, digits and hyphens, never a hyphen at
    either end: one place writes both, so a rule's regex and its words cannot drift apart."""
    inner = "a-z0-9" if lowercase else "A-Za-z0-9"
    first = inner.removesuffix("0-9") if letter_first else inner
    pattern = f"[{first}](?:-?[{inner}])*" if single_hyphens else f"[{first}](?:[{inner}-]*[{inner}])?"
    start = "starting with a letter and ending" if letter_first else "starting and ending"
    return pattern, (f"{'lowercase letters' if lowercase else 'letters'}, digits and "
                     f"{'single hyphens' if single_hyphens else 'hyphens'}, {start} with a letter or digit")


ACCOUNT = NameRule("Cognitive Services account", 2, 64, *_hyphenated(), "resource group")
CUSTOM_SUBDOMAIN = NameRule("custom subdomain", 2, 63, *_hyphenated(lowercase=True), "global", public_endpoint=True)
STORAGE_ACCOUNT = NameRule(
    "storage account", 3, 24, r"[a-z0-9]+", "lowercase letters and digits only", "global", public_endpoint=True)
BLOB_CONTAINER = NameRule("blob container", 3, 63, *_hyphenated(lowercase=True, single_hyphens=True),
                          "storage account")
KEY_VAULT = NameRule("key vault", 3, 24, *_hyphenated(single_hyphens=True, letter_first=True), "global",
                     public_endpoint=True)
# Self-hosted mode (infra/self_hosted/): same source, sections Microsoft.ContainerRegistry, Microsoft.App,
# Microsoft.DBforPostgreSQL.
CONTAINER_REGISTRY = NameRule(
    "container registry", 5, 50, r"[A-Za-z0-9]+", "letters and digits only", "global", public_endpoint=True)
POSTGRES_SERVER = NameRule("PostgreSQL flexible server", 3, 63, *_hyphenated(lowercase=True), "global",
                           public_endpoint=True)
CONTAINER_APP = NameRule("container app", 2, 32, *_hyphenated(lowercase=True, single_hyphens=True, letter_first=True),
                         "resource group")
RESOURCE_GROUP = NameRule(
    "resource group", 1, 90, r"[\w().-]*[\w()-]",
    "letters, digits, underscores, hyphens, periods and parentheses, not ending with a period", "subscription")

# Reserved as the whole name, anywhere in it, and at its start (the troubleshooting page above).
RESERVED_NAMES = frozenset({
    "ACCESS", "APP_CODE", "APP_THEMES", "APP_DATA", "APP_GLOBALRESOURCES", "APP_LOCALRESOURCES",
    "APP_WEBREFERENCES", "APP_BROWSERS", "AZURE", "BING", "BIZSPARK", "BIZTALK", "CORTANA", "DIRECTX", "DOTNET",
    "DYNAMICS", "EXCEL", "EXCHANGE", "FOREFRONT", "GROOVE", "HOLOLENS", "HYPERV", "KINECT", "LYNC", "MSDN", "O365",
    "OFFICE", "OFFICE365", "ONEDRIVE", "ONENOTE", "OUTLOOK", "POWERPOINT", "SHAREPOINT", "SKYPE", "VISIO",
    "VISUALSTUDIO", "WEB.CONFIG", "XBOX",
})
RESERVED_ANYWHERE = ("MICROSOFT", "WINDOWS")
RESERVED_PREFIXES = ("LOGIN",)


def reserved_word(name: str) -> str | None:
    upper = name.upper()
    if upper in RESERVED_NAMES:
        return f"{name!r} is a reserved word in Azure (ReservedResourceName)"
    for word in RESERVED_ANYWHERE:
        if word in upper:
            return f"Azure reserves {word.lower()!r} anywhere in a name with a public endpoint"
    for word in RESERVED_PREFIXES:
        if upper.startswith(word):
            return f"Azure reserves {word.lower()!r} at the start of a name with a public endpoint"
    return None


def backend_names(url: str) -> tuple[str, str]:
    """(container, storage account) of a self-managed Azure Blob backend URL."""
    parsed = urlparse(url)
    if parsed.scheme != "azblob":
        raise ValueError(f"backend URL {url!r} is not azblob://CONTAINER?storage_account=ACCOUNT")
    account = parse_qs(parsed.query).get("storage_account", [""])[0]
    if not account:
        raise ValueError(f"backend URL {url!r} names no storage_account; add ?storage_account=ACCOUNT")
    return parsed.netloc, account


def key_vault_name(secrets_provider: str) -> str:
    """The vault of an `azurekeyvault://VAULT.vault.azure.net/keys/KEY` secrets provider."""
    parsed = urlparse(secrets_provider)
    host = parsed.netloc
    if parsed.scheme != "azurekeyvault" or not host.endswith(".vault.azure.net") or "/keys/" not in parsed.path + "/":
        raise ValueError(f"secrets provider {secrets_provider!r} is not azurekeyvault://VAULT.vault.azure.net/keys/KEY")
    return host.removesuffix(".vault.azure.net")


def problems(backend_url: str | None = None, secrets_provider: str | None = None,
             storage_account: str | None = None, key_vault: str | None = None) -> list[str]:
    """Everything wrong with the state backend's names (empty when they all fit Azure's rules)."""
    found: list[str] = []
    checks: list[tuple[NameRule, str]] = []
    if backend_url:
        try:
            container, account = backend_names(backend_url)
            checks += [(BLOB_CONTAINER, container), (STORAGE_ACCOUNT, account)]
        except ValueError as exc:
            found.append(str(exc))
    if secrets_provider:
        try:
            checks.append((KEY_VAULT, key_vault_name(secrets_provider)))
        except ValueError as exc:
            found.append(str(exc))
    checks += [(STORAGE_ACCOUNT, storage_account)] if storage_account else []
    checks += [(KEY_VAULT, key_vault)] if key_vault else []
    for rule, name in checks:
        try:
            rule.check(name)
        except ValueError as exc:
            found.append(str(exc))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.naming",
                                     description="Check the state backend's names against Azure's rules.")
    parser.add_argument("--backend-url", help="azblob://CONTAINER?storage_account=ACCOUNT")
    parser.add_argument("--secrets-provider", help="azurekeyvault://VAULT.vault.azure.net/keys/KEY")
    parser.add_argument("--storage-account")
    parser.add_argument("--key-vault")
    args = parser.parse_args(argv)
    found = problems(args.backend_url, args.secrets_provider, args.storage_account, args.key_vault)
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    if not found:
        print("names fit Azure's rules (whether a global name is free, only Azure can tell: see docs/deploy.md)")
    return 2 if found else 0


if __name__ == "__main__":
    sys.exit(main())
