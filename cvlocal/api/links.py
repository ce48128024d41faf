"""Unguessable download links, like Azure's SAS URLs: an image's (or a stored prediction's) link carries an HMAC of
its id."""
from __future__ import annotations

import hashlib
import hmac


class Links:
    def __init__(self, secret: bytes):
        self._secret = secret

    def image_signature(self, image_id: str) -> str:
        return hmac.new(self._secret, image_id.encode(), hashlib.sha256).hexdigest()[:40]

    def image_signature_ok(self, image_id: str, signature: str) -> bool:
        return hmac.compare_digest(self.image_signature(image_id), signature or "")

    def image_url(self, base: str, image_id: str, variant: str) -> str:
        return f"{base}/blobs/images/{image_id}/{variant}?sig={self.image_signature(image_id)}"

    def prediction_signature(self, prediction_id: str) -> str:
        # Signed apart from image ids, so no link of one kind ever opens the other.
        return self.image_signature("prediction/" + prediction_id)

    def prediction_signature_ok(self, prediction_id: str, signature: str) -> bool:
        return hmac.compare_digest(self.prediction_signature(prediction_id), signature or "")

    def prediction_url(self, base: str, prediction_id: str, variant: str) -> str:
        """A stored prediction's image (original, resized, thumbnail), as StoredImagePrediction links it."""
        return f"{base}/blobs/predictions/{prediction_id}/{variant}?sig={self.prediction_signature(prediction_id)}"

    @staticmethod
    def export_url(base: str, token: str, filename: str) -> str:
        return f"{base}/blobs/exports/{token}/{filename}"
