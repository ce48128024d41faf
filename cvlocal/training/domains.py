"""Custom Vision's domains with their real ids and names, and what each does here.

A domain's type is its project's type: a project created on an object detection domain is an object detection
project (regions, detect_image), one on a classification domain a classification project (image tags,
classify_image). All classification domains share one model recipe here (model/training_types.py) and all
object detection domains another (model/detection/); the domain only decides what the project reports
(exportable or not). The ids and names are Microsoft's ("Select a domain for a Custom Vision project",
docs/self-hosted.md). A domain advertises exactly the export platforms `export_iteration` accepts for its
project type and has the converters for (training/platforms.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import bad_request, not_found_domain, wrong_project_type
from .platforms import available_exports

CLASSIFICATION = "Classification"
OBJECT_DETECTION = "ObjectDetection"
# The project types this service trains: a domain of another type would be listed with `enabled: false`.
TRAINABLE_TYPES = frozenset({CLASSIFICATION, OBJECT_DETECTION})


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
        """The platforms `export_iteration` accepts for this domain's iterations, nothing more."""
        return list(available_exports(self.type)) if self.exportable and self.enabled else []

    @property
    def detection(self) -> bool:
        return self.type == OBJECT_DETECTION


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
    Domain("da2e3a8a-40a5-4171-82f4-58522f70fbc1", "General", OBJECT_DETECTION, False,
           "Optimized for a broad range of object detection tasks.", 0),
    Domain("9c616dff-2e7d-ea11-af59-1866da359ce6", "General [A1]", OBJECT_DETECTION, False,
           "Optimized for better accuracy with comparable inference time as General domain.", 0),
    Domain("1d8ffafe-ec40-4fb2-8f90-72b3b6cecea4", "Logo", OBJECT_DETECTION, False,
           "Optimized for finding brand logos in images.", 0),
    Domain("3780a898-81c3-4516-81ae-3a139614e1f3", "Products on Shelves", OBJECT_DETECTION, False,
           "Optimized for detecting and classifying products on shelves.", 0),
    Domain("a27d5ca5-bb19-49d8-a70a-fec086c47f5b", "General (compact)", OBJECT_DETECTION, True,
           "Optimized for real-time object detection on edge devices.", 45),
    Domain("7ec2ac80-887b-48a6-8df9-8b1357765430", "General (compact) [S1]", OBJECT_DETECTION, True,
           "Optimized for real-time object detection on edge devices, without post-processing.", 14),
]

DEFAULT_DOMAIN_ID = DOMAINS[0].id
_BY_ID = {d.id: d for d in DOMAINS}


def get_domain(domain_id: str) -> Domain:
    domain = _BY_ID.get((domain_id or "").lower())
    if domain is None:
        raise not_found_domain(domain_id)
    return domain


def project_domain(domain_id: str | None) -> Domain:
    """The domain a project asks for (the default: General classification), of a type this service trains."""
    domain = get_domain(domain_id) if domain_id else _BY_ID[DEFAULT_DOMAIN_ID]
    if not domain.enabled:
        raise bad_request(f"Domain '{domain.name}' ({domain.type}) is not supported: this service trains "
                          f"{' and '.join(sorted(TRAINABLE_TYPES))} projects.", "BadRequestUnsupportedDomain")
    return domain


def is_detection(domain_id: str) -> bool:
    """Whether a project (or iteration) on this domain is an object detection one. An id that is not in the
    catalogue (none is stored: create_project checks) counts as classification, as every older project was."""
    found = _BY_ID.get((domain_id or "").lower())
    return found is not None and found.detection


def require_project_type(domain_id: str, detection: bool, operation: str) -> None:
    """Refuse `operation` on a project of the other type (classification-only calls on object detection
    projects, and the other way round)."""
    if is_detection(domain_id) != detection:
        need, have = ("object detection", "a classification") if detection else \
            ("classification", "an object detection")
        raise wrong_project_type(f"{operation} is for {need} projects; this is {have} project (its domain's type).")
