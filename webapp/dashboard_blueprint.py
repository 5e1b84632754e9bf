"""``GET /``: the live dashboard (static HTML/CSS/JS shipped with the app, no CDN)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

__all__ = ["bp"]

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index() -> Response:
    response = current_app.send_static_file("index.html")
    response.headers["Cache-Control"] = "no-cache"
    return response
