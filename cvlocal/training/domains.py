"""Custom Vision's domains with their real ids and names, and what each does here.

All classification domains share one backbone here (EfficientNet-Lite0, ImageNet weights); the domain only
decides what the project reports (exportable or not). Object detection domains are listed, so clients that
look them up find them, but marked `enabled: false` while this service cannot train detection projects.
A domain advertises exactly the export platforms `export_iteration` accepts here (training/platforms.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import bad_request, not_found_domain
from .platforms import available_exports

# The project types this service trains: a domain of another type is listed with `enabled: false`.
TRAINABLE_TYPES = frozenset({"Classification"})


@dataclass(frozen=True)
class Domain:
    id: str
    name: str
    type: str  # Classification | ObjectDetection
    exportable: bool
    description: str
    size_mb: int

    @property
    def enabled(self) -> bool:
        """Whether a project on this domain can be trained here (Azure's `enabled`)."""
        return self.type in TRAINABLE_TYPES

    @property
    def exportable_platforms(self) -> list[str]:
        """The platforms `export_iteration` accepts for this domain's iterations here, nothing more."""
        return list(available_exports()) if self.exportable and self.enabled else []


DOMAINS: list[Domain] = [
    Domain("ee85a74c-405e-4adc-bb47-ffa8ca0c9f31", "General", "Classification", False,
           "Optimized for a broad range of image classification tasks.", 0),
    Domain("a8e3c40f-fb4a-466f-832a-5e457ae4a344", "General [A1]", "Classification", False,
           "Optimized for better accuracy with comparable inference time as General domain.", 0),
    Domain("2e37d7fb-3a54-486a-b4d6-cfc369af0018", "General [A2]", "Classification", False,
           "Optimized for better accuracy with faster inference time than General[A1] and General domains.", 0),
    Domain("c151d5b5-dd07-472a-acc8-15d29dea8518", "Food", "Classification", False,
           "Optimized for photographs of dishes as you would see them on a restaurant menu.", 0),
    Domain("ca455789-012d-4b50-9fec-5bb63841c793", "Landmarks", "Classification", False,
           "Optimized for recognizable landmarks, both natural and artificial.", 0),
    Domain("b30a91ae-e3c1-4f73-a81e-c270bff27c39", "Retail", "Classification", False,
           "Optimized for images that are found in a shopping catalog or shopping website.", 0),
    Domain("0732100f-1a38-4e49-a514-c9b44c697ab5", "General (compact)", "Classification", True,
           "Optimized for the constraints of real-time classification on edge devices.", 19),
    Domain("a1db07ca-a19a-4830-bae8-e004a42dc863", "General (compact) [S1]", "Classification", True,
           "Optimized for the constraints of real-time classification on edge devices.", 19),
    Domain("8882951b-82cd-4c32-970b-d5f8cb8bf6d7", "Food (compact)", "Classification", True,
           "Optimized for photographs of dishes, exportable to edge devices.", 19),
    Domain("b5cfd229-2ac7-4b2b-8d0a-2b0661344894", "Landmarks (compact)", "Classification", True,
           "Optimized for recognizable landmarks, exportable to edge devices.", 19),
    Domain("6b4faeda-8396-481b-9f8b-177b9fa3097f", "Retail (compact)", "Classification", True,
           "Optimized for shopping catalog images, exportable to edge devices.", 19),
    Domain("da2e3a8a-40a5-4171-82f4-58522f70fbc1", "General", "ObjectDetection", False,
           "Optimized for a broad range of object detection tasks.", 0),
    Domain("1d8ffafe-ec40-4fb2-8f90-72b3b6cecea4", "Logo", "ObjectDetection", False,
           "Optimized for finding brand logos in images.", 0),
    Domain("a27d5ca5-bb19-49d8-a70a-fec086c47f5b", "General (compact)", "ObjectDetection", True,
           "Optimized for real-time object detection on edge devices.", 45),
    Domain("7ec2ac80-887b-48a6-8df9-8b1357765430", "General (compact) [S1]", "ObjectDetection", True,
           "Optimized for real-time object detection on edge devices, without post-processing.", 14),
]

DEFAULT_DOMAIN_ID = DOMAINS[0].id
_BY_ID = {d.id: d for d in DOMAINS}


def get_domain(domain_id: str) -> Domain:
    domain = _BY_ID.get((domain_id or "").lower())
    if domain is None:
        raise not_found_domain(domain_id)
    return domain


def classification_domain(domain_id: str | None) -> Domain:
    """The domain a new project asks for; this service trains classifiers only."""
    domain = get_domain(domain_id) if domain_id else _BY_ID[DEFAULT_DOMAIN_ID]
    if domain.type != "Classification":
        raise bad_request(f"Domain '{domain.name}' ({domain.type}) is not supported: this service trains "
                          "image classification projects only.", "BadRequestUnsupportedDomain")
    return domain
