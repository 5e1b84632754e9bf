"""``python -m pipeline``: start the streaming pipeline (see ``pipeline.main``)."""

from pipeline.main import main

main()
