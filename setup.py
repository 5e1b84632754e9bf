"""tote-realtime: real-time Tote pool-betting data into Google Cloud.

One distribution: the Beam-free ``contract`` (message catalog, ingress contract, settings
parsing) that every service shares; the three services ``connector``, ``pipeline`` (the only
package that imports Beam) and ``webapp``; and the tools that are never in a production image:
``simulator`` (a Tote-compatible server), ``replay`` (capture files and backfills back onto the
ingress topic), ``devstack`` (the local system) and ``testsupport`` (test-only helpers).  ``pip install -e .[dev]`` is what ``make`` uses; Dataflow installs the same file on
its workers through ``--setup_file=./setup.py`` (Beam itself is already in the worker image, so
the base requirements stay small).
"""

from setuptools import find_packages, setup

BEAM = ["apache-beam[gcp]==2.77.*"]
CONNECTOR = ["websockets>=14,<18", "flask>=3.1,<4", "gunicorn>=23", "httpx>=0.27,<1"]
WEBAPP = [
    "flask>=3.1,<4",
    "gunicorn>=23",
    "PyJWT[crypto]>=2.10.1,<3",  # 2.10.0: CVE-2024-53861 (iss checked as a substring)
]  # access tokens (webapp/access.py)
# mypy is one of `make lint`'s gates; tqdm is the replay tool's progress bar (a developer tool,
# never in a production image); types-tqdm and types-jsonschema (typeshed's stubs) give mypy
# their annotations (jsonschema: the tests' schema checks, type-checked since tests/ is a gate).
REPLAY = ["tqdm>=4.66,<5"]
DEV = [
    "pytest>=8",
    "ruff>=0.8",
    "python-hcl2>=8,<9",
    "hypothesis>=6.100",
    "jsonschema>=4.23,<5",
    "mypy>=1.14",
    "types-tqdm",
    "types-jsonschema",
]

setup(
    name="tote-realtime",
    version="0.1.0",
    description="Tote racing API (UK pool betting) to Pub/Sub, BigQuery and Server-Sent Events.",
    python_requires=">=3.11",
    packages=find_packages(
        include=[
            "contract*",
            "connector*",
            "pipeline*",
            "webapp*",
            "simulator*",
            "replay*",
            "devstack*",
            "testsupport*",
        ]
    ),
    package_data={"webapp": ["static/*", "templates/*"]},
    include_package_data=True,
    install_requires=[
        "google-cloud-pubsub>=2.44,<3",
        "google-cloud-bigquery>=3.47,<4",
        "orjson>=3.10,<4",  # 3-10x faster JSON; the pipeline core encodes several docs per frame
    ],
    extras_require={
        "beam": BEAM,
        "connector": CONNECTOR,
        "webapp": WEBAPP,
        "replay": REPLAY,
        "dev": sorted(set(BEAM + CONNECTOR + WEBAPP + REPLAY + DEV)),
    },
)
