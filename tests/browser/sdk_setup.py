"""Projects made with the official SDK, for browser tests whose subject is not the making of them."""
from __future__ import annotations

import time
import uuid


def training_client_for(service):
    """The official SDK's training client for a running service."""
    from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
    from msrest.authentication import ApiKeyCredentials

    return CustomVisionTrainingClient(service.endpoint,
                                      ApiKeyCredentials(in_headers={"Training-key": service.training_key}))


class Setup:
    """Make projects through the SDK: tags, uploads in batches of 64, training until Completed."""

    def __init__(self, client):
        self.client = client

    def project(self, prefix: str, images: dict[str, list[bytes]] | None = None, *, untagged: list[bytes] = (),
                domain_id: str | None = None, classification_type: str = "Multiclass"):
        from azure.cognitiveservices.vision.customvision.training.models import (ImageFileCreateBatch,
                                                                                 ImageFileCreateEntry)

        project = self.client.create_project(f"{prefix} {uuid.uuid4().hex[:6]}", domain_id=domain_id,
                                             classification_type=classification_type)
        tags = {}
        for name, datas in (images or {}).items():
            tags[name] = self.client.create_tag(project.id, name)
            self._upload(project.id, datas, [tags[name].id], ImageFileCreateBatch, ImageFileCreateEntry)
        if untagged:
            self._upload(project.id, list(untagged), None, ImageFileCreateBatch, ImageFileCreateEntry)
        return project, tags

    def _upload(self, project_id, datas, tag_ids, batch_type, entry_type):
        for start in range(0, len(datas), 64):
            entries = [entry_type(name=f"image{start + i}.jpg", contents=data, tag_ids=tag_ids)
                       for i, data in enumerate(datas[start:start + 64])]
            summary = self.client.create_images_from_files(project_id, batch_type(images=entries))
            assert summary.is_batch_successful, [i.status for i in summary.images]

    def train(self, project_id: str, timeout: float = 600):
        iteration = self.client.train_project(project_id)
        deadline = time.monotonic() + timeout
        while iteration.status == "Training" and time.monotonic() < deadline:
            time.sleep(0.5)
            iteration = self.client.get_iteration(project_id, iteration.id)
        assert iteration.status == "Completed", iteration.training_error_details
        return iteration
