"""import_project: a token in, a whole new project out, or a refusal and nothing written.

Where the export lives decides how its images arrive:
- signed here (this service, or any replica of its cluster: they share the secret, the database and the
  blobs): the export's row is read from the store, and its images' blobs are already here;
- signed elsewhere: only from an exporter the operator allows (peers.py), which checks its own token and
  serves the exported project and each image's bytes. Every image is checked as an upload is (its bytes must
  have the SHA-256 the export names, and pass the image checks), then put in the blob store.
Then one store transaction writes the project, its tags and images (store.import_project), so an import that
is stopped at any point, kill -9 included, leaves nothing visible; blobs it had put are unnamed and garbage
collection takes them after its grace period.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from .. import errors
from ..net.images import ImageRejected, check_image
from ..store.blobs import sha256_hex
from ..store.gc import MIN_GRACE_S
from ..store.interface import Store
from ..store.records import ExportedImage, ExportedProject, ProjectExportRecord, ProjectRecord
from ..tiers import Tier
from ..training.domains import classification_domain
from ..training.platforms import AZURE_PLATFORMS
from .peers import PeerFailed, PeerRefused, Peers, normalised
from .tokens import ImportToken, TokenInvalid, TokenSigner

FETCHES_AT_ONCE = 4


class Importer:
    def __init__(self, store: Store, tokens: TokenSigner, peers: Peers, max_image_bytes: int, tier: Tier):
        self.store, self.tokens, self.peers = store, tokens, peers
        self.max_image_bytes, self.tier = max_image_bytes, tier

    def import_project(self, token: str, name: str | None, here: str) -> ProjectRecord:
        """`here`: this service's URL as the client reached it (a token naming it must be signed here)."""
        read = self._read(token, here)
        if name is not None and any(p.name == name for p in self.store.projects()):
            # told before any image is fetched; the transaction checks again
            raise errors.bad_request(f"A project named '{name}' already exists.", "BadRequestProjectNameNotUnique")
        if read.signed_here:
            own = self.store.project_export(read.export_id)
            if own is None:
                raise errors.invalid_import_token("its project was deleted since it was exported")
            self._check(own.project)  # made here: its settings are this service's already
            return self._write(own, name)
        try:
            exported = self.peers.exported(read.issuer, token)
        except PeerRefused as exc:
            raise errors.invalid_import_token(str(exc)) from None
        except PeerFailed as exc:
            raise errors.import_failed(str(exc)) from None
        exported = self._check(exported)
        return self._write(self._bring_images(read, token, exported), name)

    def _read(self, token: str, here: str) -> ImportToken:
        try:
            read = self.tokens.read(token)
        except TokenInvalid as exc:
            raise errors.invalid_import_token(str(exc)) from None
        if not read.signed_here and same_service(read.issuer, here):
            raise errors.invalid_import_token("it names this service, which did not sign it (altered or truncated)")
        if read.expired():
            raise errors.invalid_import_token("it has expired; export the project again")
        if not read.signed_here and not self.peers.allows(read.issuer):
            raise errors.invalid_import_token(f"this service did not sign it, and its exporter {read.issuer} is not "
                                              "a service this one imports from (the operator names those with "
                                              "--import-from)")
        return read

    def _check(self, exported: ExportedProject) -> ExportedProject:
        """What this service can hold, before any image is fetched: the domain, the platforms, the tier's
        numbers; the project with this service's id of its domain."""
        domain = classification_domain(exported.domain_id)  # NotFoundDomain, BadRequestUnsupportedDomain
        unknown = [p for p in exported.target_export_platforms if p not in AZURE_PLATFORMS]
        if unknown:
            raise errors.bad_request(f"Unknown export platform '{unknown[0]}'.",
                                     "BadRequestProjectUnsupportedExportPlatform")
        self.store.check_import_fits(exported, self.tier.tags_per_project, self.tier.images_per_project)
        return replace(exported, domain_id=domain.id)

    def _write(self, exported: ProjectExportRecord | ExportedProject, name: str | None) -> ProjectRecord:
        return self.store.import_project(exported, name, max_projects=self.tier.projects,
                                         max_tags=self.tier.tags_per_project,
                                         max_images=self.tier.images_per_project)

    def _bring_images(self, read: ImportToken, token: str, exported: ExportedProject) -> ExportedProject:
        """Every image of a foreign export fetched, checked and put here (before any row names it)."""
        def bring(image: ExportedImage) -> ExportedImage:
            try:
                data = self.peers.image(read.issuer, token, image.sha256, self.max_image_bytes)
            except PeerRefused as exc:
                raise errors.invalid_import_token(str(exc)) from None
            except PeerFailed as exc:
                raise errors.import_failed(str(exc)) from None
            if sha256_hex(data) != image.sha256:
                raise errors.import_failed(f"image {image.sha256} arrived with other bytes than the export names")
            try:
                checked = check_image(data, self.max_image_bytes)
            except ImageRejected as exc:
                raise errors.import_failed(f"image {image.sha256} is refused here: {exc.message}") from None
            self.store.blobs.put(data)
            return replace(image, width=checked.width, height=checked.height, size=len(data))

        started = time.monotonic()
        with ThreadPoolExecutor(FETCHES_AT_ONCE, thread_name_prefix="import") as pool:
            brought = []
            try:
                for image in pool.map(bring, exported.images):
                    brought.append(image)
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise
        if time.monotonic() - started > MIN_GRACE_S / 2:
            # The first images were put long ago: a garbage collection with a short grace period could take them
            # before the transaction names them. Freshened now, they are young again for the next minute.
            for image in brought:
                if not self.store.blobs.freshen(image.sha256):
                    raise errors.import_failed(f"image {image.sha256} was collected as garbage while the import "
                                               "ran; import again")
        return replace(exported, images=tuple(brought))


def same_service(a: str, b: str) -> bool:
    try:
        return normalised(a) == normalised(b)
    except ValueError:
        return False


def estimated_import_ms(exported: ExportedProject) -> int:
    """A rough figure, as Azure's is: the transaction, and each image fetched and checked (for an import from
    another service; one of this service's own exports copies rows only, and takes less)."""
    return int(200 + 5 * len(exported.images) + exported.image_bytes / 20_000)
