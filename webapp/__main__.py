"""``python -m webapp``: serve the web app with gunicorn and ``webapp/gunicorn_conf.py``."""

from __future__ import annotations

import sys
from pathlib import Path

from gunicorn.app.wsgiapp import run


def main() -> None:
    conf = Path(__file__).with_name("gunicorn_conf.py")
    sys.argv = ["gunicorn", "-c", str(conf), *sys.argv[1:], "webapp.app:create_app()"]
    run()


if __name__ == "__main__":
    main()
