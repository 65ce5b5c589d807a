"""Liveness for load balancers and process managers: the app answers and its database too."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from web.context import Context

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/healthz")
def healthz(context: Context) -> JSONResponse:
    if not _database_answers(context.factory):
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
    return JSONResponse({"status": "ok", "database": "ok"})


def _database_answers(factory: sessionmaker[Session]) -> bool:
    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        log.warning("health check: database unreachable (%s)", type(error).__name__)
        return False
    return True
