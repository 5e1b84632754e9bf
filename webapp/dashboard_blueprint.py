"""``GET /``: the live dashboard (HTML/CSS/JS shipped with the app, no CDN).

The page learns the stream names from the message catalog (rendered into the page), so a new
typed topic shows up in the feed without touching the JavaScript.
"""

from __future__ import annotations

from flask import Blueprint, Response, make_response, render_template

from contract import catalog

__all__ = ["bp"]

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index() -> Response:
    streams = [{"name": t.stream, "description": t.description} for t in catalog.TOPICS]
    response = make_response(render_template("index.html", streams=streams))
    response.headers["Cache-Control"] = "no-cache"
    return response
