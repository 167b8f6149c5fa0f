"""Schemathesis against the running service: no 5xx, and every answer matches the document."""

from __future__ import annotations

from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support import Api, LiveServer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 7, schemathesis.GenerationMode.NEGATIVE: 4}


def _ids(api: Api, cafe: dict[str, Any]) -> dict[str, str]:
    """Real ids per path prefix, so generated requests also reach past the 404."""
    loc = cafe["location"]["id"]
    staff = api.post("/resources", json={"name": "Sam", "locationId": loc, "kind": "staff"}).json()
    shift = api.post(
        "/shifts",
        json={
            "resourceId": staff["id"],
            "start": "2030-01-07T09:00:00Z",
            "end": "2030-01-07T17:00:00Z",
        },
    ).json()
    blackout = api.post(
        "/blackouts",
        json={
            "locationId": loc,
            "kind": "closure",
            "start": "2030-02-01T00:00:00Z",
            "end": "2030-02-02T00:00:00Z",
        },
    ).json()
    event = api.post(
        "/events",
        json={
            "locationId": loc,
            "start": "2030-03-01T18:00:00Z",
            "end": "2030-03-01T22:00:00Z",
            "summary": "Cat yoga",
        },
    ).json()
    customer = api.post("/customers", json={"firstName": "Ida", "email": "ida@example.com"}).json()
    hook = api.post("/webhooks", json={"url": "http://127.0.0.1:9/h", "events": ["*"]}).json()
    appt = api.post(
        "/appointments/hold",
        json={
            "serviceId": cafe["service"]["id"],
            "resourceIds": [cafe["area"]["id"]],
            "start_time": "2030-01-08T10:00:00Z",
            "partySize": 2,
        },
    ).json()
    return {
        "/locations/": loc,
        "/services/": cafe["service"]["id"],
        "/resources/": cafe["table"]["id"],
        "/shifts/": shift["id"],
        "/blackouts/": blackout["id"],
        "/events/": event["id"],
        "/customers/": customer["id"],
        "/webhooks/": hook["id"],
        "/appointments/": appt["id"],
    }


def _fuzz(
    op: schemathesis.APIOperation,
    mode: schemathesis.GenerationMode,
    path_parameters: dict[str, Any] | None,
    call: Any,
) -> list[str]:
    """Run a bounded number of generated cases of one operation; return what broke."""
    failures: list[str] = []
    label = f"{op.method.upper()} {op.path} [{mode}]"

    @given(case=op.as_strategy(mode, path_parameters=path_parameters))
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: schemathesis.Case) -> None:
        try:
            call(case)
        except (Exception, BaseExceptionGroup) as e:  # collect every finding, report together
            failures.append(f"{label}: {e}"[:1500])

    run()
    return failures


def test_service_matches_its_openapi_document(
    live: LiveServer, api: Api, cafe: dict[str, Any]
) -> None:
    schema = schemathesis.openapi.from_url(f"{live.url}/api/v1/openapi.json")
    ids = _ids(api, cafe)
    auth = {"Authorization": api.session.headers["Authorization"]}
    base = live.url
    http = requests.Session()
    calls = 0

    def call(case: schemathesis.Case) -> None:
        # Our own requests session: schemathesis' transport trips over the urllib3-future
        # that another test dependency installs.
        nonlocal calls
        calls += 1
        kwargs = case.as_transport_kwargs(base_url=base, headers=auth)
        resp = http.request(**{**kwargs, "timeout": 30})
        case.validate_response(resp, checks=CHECKS, headers=auth)

    failures: list[str] = []
    for result in schema.get_all_operations():
        op = result.ok()
        path = op.path.removeprefix("/api/v1")
        real = next((v for k, v in ids.items() if path.startswith(k)), None)
        for mode in EXAMPLES:
            variants: list[dict[str, Any] | None] = [None]
            if real is not None and "{id}" in op.path:
                # a made-up id only meets the 404 (negative cases still make some up)
                variants = [{"id": real}]
            for path_parameters in variants:
                failures += _fuzz(op, mode, path_parameters, call)
    assert calls > 100, f"only {calls} requests were generated"
    assert not failures, f"{len(failures)} of {calls} calls broke the contract:\n" + "\n\n".join(
        failures[:15]
    )
