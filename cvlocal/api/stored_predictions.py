"""Stored predictions of a project (what classify and quick test kept): query them, delete them.

Adding one to the training images is create_images_from_predictions, with the other uploads (api/images.py).
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from .deps import Svc, base_url
from .schemas.common import json_model
from .schemas.prediction_queries import (INVALID, PredictionDeleteQuery, PredictionQueryResult, PredictionQueryToken,
                                         StoredImagePrediction)

router = APIRouter(prefix="/training/projects/{project_id}/predictions", tags=["predictions"])


@router.post("/query")
def query_predictions(svc: Svc, project_id: str, request: Request,
                      token: PredictionQueryToken | None = json_model(PredictionQueryToken, code=INVALID)
                      ) -> PredictionQueryResult:
    token = token or PredictionQueryToken()
    page, next_token = token.next_page(svc.store.query_predictions(project_id, token.to_filter()))
    base = base_url(request)
    return PredictionQueryResult(token=next_token, results=[StoredImagePrediction.of(p, svc.links, base)
                                                            for p in page])


@router.delete("", status_code=204)
def delete_prediction(svc: Svc, project_id: str, q: Annotated[PredictionDeleteQuery, Query()]):
    svc.store.delete_predictions(project_id, q.ids)
    return Response(status_code=204)
