"""The OpenAPI document: public, valid, and in step with the routes Flask serves."""

from __future__ import annotations

import re

import requests
import schemathesis

from hub.api import create_app
from hub.services import Services
from tests.support import LiveServer

METHODS = {"get", "post", "put", "patch", "delete"}


def served_operations(services: Services) -> set[tuple[str, str]]:
    """(method, path) of every Flask route under /api/v1, path parameters as {}."""
    app = create_app(services.settings, services)
    out = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?[^>]+>", "{}", rule.rule)
        for method in rule.methods or ():
            if method.lower() in METHODS:
                out.add((method.lower(), path))
    return out


def documented_operations(doc: dict) -> set[tuple[str, str]]:
    """(method, path) of every operation in the document, path parameters as {}."""
    return {
        (method, re.sub(r"\{[^}]+\}", "{}", path))
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }


def test_every_route_is_documented_and_every_documented_path_is_served(
    live: LiveServer, services: Services
) -> None:
    doc = requests.get(f"{live.url}/api/v1/openapi.json", timeout=10).json()
    served, documented = served_operations(services), documented_operations(doc)
    assert served - documented == set(), "routes missing from the OpenAPI document"
    assert documented - served == set(), "documented operations nobody serves"
    assert ("post", "/api/v1/webhooks") in served
    assert ("put", "/api/v1/appointments/{}/book") in served


def test_document_is_public_valid_openapi_3(live: LiveServer) -> None:
    resp = requests.get(f"{live.url}/api/v1/openapi.json", timeout=10)  # no Authorization
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["openapi"].startswith("3.")
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearer"]["description"],
    }
    # schemathesis refuses a document that breaks the OpenAPI 3 meta-schema
    schema = schemathesis.openapi.from_dict(doc)
    ops = [r.ok() for r in schema.get_all_operations()]
    assert len(ops) == len(documented_operations(doc))
    writes = [
        op
        for item in doc["paths"].values()
        for m, op in item.items()
        if m in {"post", "put", "patch"}
    ]
    idem = {"$ref": "#/components/parameters/IdempotencyKey"}
    assert writes and all(idem in op["parameters"] for op in writes)
    assert doc["components"]["parameters"]["IdempotencyKey"]["name"] == "Idempotency-Key"
    body = doc["components"]["schemas"]["AppointmentRequest"]["properties"]
    assert {"rrule", "allOrNothing", "customer", "partySize"} <= set(body)
    assert "scope" in doc["components"]["schemas"]["CancelRequest"]["properties"]
    problem = doc["components"]["responses"]["E422"]["content"]
    assert "application/problem+json" in problem


def test_every_operation_documents_its_answers(live: LiveServer) -> None:
    doc = requests.get(f"{live.url}/api/v1/openapi.json", timeout=10).json()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            codes = set(op["responses"])
            assert codes & {"200", "201", "204"}, f"{method} {path} has no success answer"
            if path.endswith("/openapi.json"):
                continue
            assert "401" in codes, f"{method} {path} does not say a key is needed"
            if method in {"post", "put", "patch"}:
                assert {"413", "422"} <= codes, f"{method} {path} omits 413/422"
                assert "requestBody" in op, f"{method} {path} has no body schema"
            assert op["operationId"] and op["summary"]
    ids = [
        op["operationId"]
        for item in doc["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    ]
    assert len(ids) == len(set(ids))
