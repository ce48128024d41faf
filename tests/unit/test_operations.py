"""One registration per operation: FastAPI and the gateway's direct endpoints read the same table."""
from __future__ import annotations

from cvlocal.api.prediction import OPERATIONS, router
from cvlocal.gateway.direct import DirectRoutes


def test_every_operation_is_a_fastapi_route_under_its_sdk_name():
    registered = {(route.name, next(iter(route.methods)), route.path) for route in router.routes}
    assert registered == {(op.name, op.method, op.path) for op in OPERATIONS}
    assert {op.name for op in OPERATIONS} >= {"classify_image", "classify_image_with_no_store", "classify_image_url",
                                              "classify_image_url_with_no_store"}


def test_the_gateway_serves_the_image_routes_of_the_table_itself_and_nothing_else():
    routes = DirectRoutes(OPERATIONS, context="predictor")
    image = routes.endpoint("POST", "/prediction/p1/classify/iterations/Iteration 1/image")
    nostore = routes.endpoint("POST", "/prediction/p1/classify/iterations/live/image/nostore/")
    for endpoint, name, store in ((image, "Iteration 1", True), (nostore, "live", False)):
        assert endpoint is not None
        assert endpoint.args == ("predictor",)
        assert endpoint.keywords == {"project_id": "p1", "published_name": name, "store": store}
    for method, path in (("POST", "/prediction/p1/classify/iterations/live/url"),
                         ("GET", "/prediction/p1/classify/iterations/live/image"),
                         ("POST", "/prediction/p1/classify/iterations/a/b/image"),
                         ("POST", "/training/projects/p1/quicktest/image")):
        assert routes.endpoint(method, path) is None, (method, path)
