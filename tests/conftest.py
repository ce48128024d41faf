"""Shared fixtures: the real self-hosted service over HTTP, the official SDK clients, the shared datasets.

A test (or module) marked `also_on_cluster` runs twice: against one service (SQLite and a folder) and against
three replicas sharing one PostgreSQL database and one Azurite container behind a round-robin balancer
(harness/cluster.py): `cvlocal_service` and `fresh_service` are then the cluster.

The parallel layout (`make test` runs `pytest -n N --dist loadgroup`, pytest-xdist; `pytest` alone runs serially):
- A test module is one unit of work: its tests run in order on one worker, so a module-scoped fixture (a trained
  project, a service of its own) is built once (`pytest_xdist_make_scheduler` below).
- Session fixtures (the services above, PostgreSQL, Azurite, the portal's service) start once per worker that
  uses them. So a test may rely on what its own module did on a session service, never on what another module
  did or did not do there (use unique project names; never count everything a shared service holds).
- Modules that must share one worker (one expensive fixture built once for several files) name the same group:
  `pytestmark = [pytest.mark.xdist_group("name"), ...]`.
- `LONGEST_FIRST` starts the longest units first: add a module there when it takes a minute or more.

Every service the session starts shares one feature folder (`cvlocal serve --feature-cache`, set here as
CVLOCAL_FEATURE_CACHE for the whole run, workers included): a photo featurised by one test's service trains in the
next one's without running the backbone again. A test that needs featurisation to take its real time (to kill a
service mid-training) gives its service `env={FEATURE_CACHE_VARIABLE: ""}`.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `tests.` imports from any working directory
    sys.path.insert(0, str(ROOT))

from harness.datasets import find_datasets  # noqa: E402
from harness.service import RunningService  # noqa: E402
from cvlocal.cli import FEATURE_CACHE_VARIABLE  # noqa: E402

_made_feature_folder: str | None = None


def pytest_configure(config):
    """One feature folder for the run, made by the controlling process before its workers start (they inherit
    the variable); one the caller set is used as it is."""
    global _made_feature_folder
    if not os.environ.get("PYTEST_XDIST_WORKER") and FEATURE_CACHE_VARIABLE not in os.environ:
        _made_feature_folder = tempfile.mkdtemp(prefix="cvlocal-features-")
        os.environ[FEATURE_CACHE_VARIABLE] = _made_feature_folder


def pytest_unconfigure(config):
    if _made_feature_folder is not None:
        shutil.rmtree(_made_feature_folder, ignore_errors=True)
        os.environ.pop(FEATURE_CACHE_VARIABLE, None)


@pytest.fixture(scope="session")
def datasets() -> Path:
    found = find_datasets()
    if found is None:
        pytest.skip("shared datasets not found: set CVOPS_DATASETS to the folder holding fruit/, fruit-extra/, trees/")
    return found


# The longest units of work (modules, or groups), started first under xdist so that no worker is left running a
# long one alone at the end; the rest follow in collection order. The seconds each took in a full `make test`
# (three workers on two cores, 2026-12-04), longest first.
LONGEST_FIRST: tuple[str, ...] = (
    "exports",                                              # 1,180 s before its two modules shared one worker
    "tests/integration/test_pipeline_run.py",               # 193
    "tests/integration/test_sdk_detection_walkthrough.py",  # 163
    "tests/reliability/test_faults.py",                     # 160
    "export-runtimes",  # after the others' first trainings have filled the run's feature folder
    "tests/integration/test_migrate.py",                    # 133
    "tests/integration/test_pipeline_detection.py",         # 120
    "tests/reliability/test_cluster.py",                    # 112
    "tests/reliability/test_soak.py",                       # 105
    "tests/integration/test_pipeline_requests.py",          # 79
    "tests/browser/test_iterations.py",                     # 78
    "tests/integration/test_pipeline_insight.py",           # 77
    "tests/integration/test_dataset_container.py",          # 77
    "tests/browser/test_detection.py",                      # 73
)


def _unit(item) -> str:
    """The unit of work a test belongs to: its `xdist_group`, else its module's path."""
    marker = item.get_closest_marker("xdist_group")
    if marker is not None:
        return str(marker.args[0] if marker.args else marker.kwargs.get("name", "default"))
    return item.nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config, items):
    if os.environ.get("PYTEST_XDIST_WORKER"):  # a serial run keeps pytest's order
        rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
        items.sort(key=lambda item: rank.get(_unit(item), len(rank)))  # stable: the rest keep their order


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadgroup`, with a module as the unit of work wherever its tests name no `xdist_group` (xdist's own
    loadgroup would hand out such tests one by one, building a module's fixtures on every worker)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    config.option.loadscopereorder = False  # hand the units out in collection order (LONGEST_FIRST), not by size

    class ModuleOrGroup(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)  # the group after "@", or the test id itself
            return nodeid.split("::", 1)[0] if scope == nodeid else scope

    return ModuleOrGroup(config, log)


def pytest_generate_tests(metafunc):
    if "service_kind" in metafunc.fixturenames:
        kinds = ["single", "cluster"] if metafunc.definition.get_closest_marker("also_on_cluster") else ["single"]
        metafunc.parametrize("service_kind", kinds, indirect=True, scope="session")


@pytest.fixture(scope="session")
def service_kind(request) -> str:
    """single: one `cvlocal serve`; cluster: three replicas on PostgreSQL and Azurite behind a balancer."""
    return request.param


def _cluster(request, folder: Path):
    from harness.cluster import Cluster

    return Cluster.on(request.getfixturevalue("postgres"), request.getfixturevalue("azurite"), folder)


@pytest.fixture(scope="session")
def cvlocal_service(request, service_kind, tmp_path_factory):
    """One service (or cluster) for the whole session (tests use unique project names)."""
    folder = tmp_path_factory.mktemp("cvlocal")
    if service_kind == "cluster":
        service = _cluster(request, folder)
        service.extra_args = ["--allow-private-urls"]
    else:
        service = RunningService(folder / "data", extra_args=["--allow-private-urls"])
    with service:
        yield service


@pytest.fixture(scope="session")
def pipeline_service(tmp_path_factory) -> RunningService:
    """The service the pipeline's tests run against: Azure's S0 quotas and request rates, as the pipeline meets
    them on Azure (`cvlocal_service` stays unlimited for the tests that call the API as fast as they can)."""
    with RunningService(tmp_path_factory.mktemp("cvlocal-s0") / "data", tier="S0",
                        extra_args=["--allow-private-urls"]) as service:
        yield service


@pytest.fixture
def service_env(pipeline_service, datasets) -> dict[str, str]:
    """The CUSTOM_VISION_* variables of the pipeline's service (S0), and where the datasets are."""
    return {**pipeline_service.environment(), "CVOPS_DATASETS": str(datasets)}


@pytest.fixture
def fresh_service(request, service_kind, tmp_path):
    """A service (or cluster) of the test's own, on its own data (for restarts, kills, faults); not started."""
    service = _cluster(request, tmp_path / "cluster") if service_kind == "cluster" else RunningService(tmp_path / "data")
    yield service
    service.stop()


@pytest.fixture(scope="session")
def trainer(cvlocal_service):
    from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
    from msrest.authentication import ApiKeyCredentials

    creds = ApiKeyCredentials(in_headers={"Training-key": cvlocal_service.training_key})
    return CustomVisionTrainingClient(cvlocal_service.endpoint, creds)


@pytest.fixture(scope="session")
def predictor(cvlocal_service):
    from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
    from msrest.authentication import ApiKeyCredentials

    creds = ApiKeyCredentials(in_headers={"Prediction-key": cvlocal_service.prediction_key})
    return CustomVisionPredictionClient(cvlocal_service.endpoint, creds)


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL cluster for the session (skipped where the binaries are missing, failed under CI)."""
    from harness.engines import EngineMissing, skip_or_fail
    from harness.postgres import PostgresCluster

    try:
        cluster = PostgresCluster().start()
    except EngineMissing as exc:
        skip_or_fail(exc)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def azurite():
    """Azurite's blob service for the session (installed with npm on first use; skipped without Node.js)."""
    from harness.azurite import Azurite
    from harness.engines import EngineMissing, skip_or_fail

    try:
        emulator = Azurite().start()
    except (EngineMissing, RuntimeError, TimeoutError) as exc:
        skip_or_fail(EngineMissing(str(exc)))
    yield emulator
    emulator.stop()
