"""Domains: Custom Vision's catalogue, with their real ids (training/domains.py)."""
from __future__ import annotations

from fastapi import APIRouter

from ..training.domains import DOMAINS, get_domain
from .schemas.projects import DomainPublic

router = APIRouter(prefix="/training/domains", tags=["domains"])


@router.get("")
def get_domains() -> list[DomainPublic]:
    return [DomainPublic.of(d) for d in DOMAINS]


@router.get("/{domain_id}")
def get_domain_by_id(domain_id: str) -> DomainPublic:
    return DomainPublic.of(get_domain(domain_id))
