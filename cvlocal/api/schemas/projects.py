"""Rows to Custom Vision's JSON models: camelCase keys, ISO-8601 datetimes, the fields clients read."""
from __future__ import annotations

import json
import sqlite3

from .domains import get_domain
from .links import Links


def project_json(row: sqlite3.Row) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "settings": {
            "domainId": row["domain_id"],
            "classificationType": row["classification_type"],
            "targetExportPlatforms": json.loads(row["target_export_platforms"]),
            "useNegativeSet": True,
            "detectionParameters": None,
            "imageProcessingSettings": {"augmentationMethods": {}},
            "exportModelContainerUri": None,
            "notificationQueueUri": None,
        },
        "created": row["created"],
        "lastModified": row["last_modified"],
        "thumbnailUri": None,
        "drModeEnabled": False,
        "status": "Succeeded",
    }


def tag_json(row: sqlite3.Row) -> dict:
    return {"id": row["id"], "name": row["name"], "description": row["description"], "type": row["type"],
            "imageCount": row["image_count"]}


def image_json(row: sqlite3.Row, tags: list[sqlite3.Row], links: Links, base: str) -> dict:
    return {
        "id": row["id"],
        "created": row["created"],
        "width": row["width"],
        "height": row["height"],
        "resizedImageUri": links.image_url(base, row["id"], "resized"),
        "thumbnailUri": links.image_url(base, row["id"], "thumbnail"),
        "originalImageUri": links.image_url(base, row["id"], "original"),
        "tags": [{"tagId": t["tag_id"], "tagName": t["name"], "created": t["created"]} for t in tags],
        "regions": [],
        "metadata": json.loads(row["metadata"]),
    }


def iteration_json(row: sqlite3.Row) -> dict:
    domain = get_domain(row["domain_id"])
    completed = row["status"] == "Completed"
    seconds = row["training_seconds"]
    return {
        "id": row["id"],
        "name": row["name"],
        "status": row["status"],
        "created": row["created"],
        "lastModified": row["last_modified"],
        "trainedAt": row["trained_at"],
        "projectId": row["project_id"],
        "exportable": completed and domain.exportable,
        "exportableTo": ["ONNX"] if completed and domain.exportable else [],
        "domainId": row["domain_id"],
        "classificationType": row["classification_type"],
        "trainingType": row["training_type"],
        "reservedBudgetInHours": row["reserved_budget_hours"],
        "trainingTimeInMinutes": int(round(seconds / 60)) if seconds is not None else 0,
        "publishName": row["publish_name"],
        "originalPublishResourceId": row["publish_resource_id"],
        "customBaseModelInfo": None,
        "trainingErrorDetails": row["error_details"],
    }


def export_json(row: sqlite3.Row, base: str) -> dict:
    return {
        "platform": row["platform"],
        "status": row["status"],
        "downloadUri": Links.export_url(base, row["token"], "model.zip") if row["status"] == "Done" else None,
        "flavor": row["flavor"],
        "newerVersionAvailable": False,
    }


def prediction_json(prediction_id: str, project_id: str, iteration_id: str, created: str,
                    predictions: list[dict]) -> dict:
    return {"id": prediction_id, "project": project_id, "iteration": iteration_id, "created": created,
            "predictions": predictions}
