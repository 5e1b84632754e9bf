"""``python -m connector``: run the control API under gunicorn (what the local system starts).

Replaces this process with gunicorn, so SIGTERM reaches gunicorn's master directly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    conf = Path(__file__).with_name("gunicorn_conf.py")
    argv = [sys.executable, "-m", "gunicorn", "-c", str(conf), "connector.api:create_app()"]
    os.execv(sys.executable, argv)


if __name__ == "__main__":
    main()
