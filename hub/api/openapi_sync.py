"""OpenAPI descriptions of the integrations (issue 6) and feeds (issue 5) endpoints."""

from __future__ import annotations

from typing import Any

from hub.api.openapi_schemas import ID, Schema, nullable, obj, ref

PROVIDERS = ["google", "microsoft", "caldav", "zoho", "teamup"]
STAMP = nullable({"type": "string", "format": "date-time"})
NO_BODY = {
    "required": False,
    "content": {"application/json": {"schema": {"type": "object", "maxProperties": 0}}},
}


def integration_schemas() -> dict[str, Schema]:
    """Component schemas for integrations."""
    scope = {
        "oneOf": [
            obj({"resourceId": ID}, ["resourceId"], additionalProperties=False),
            obj({"locationId": ID}, ["locationId"], additionalProperties=False),
        ],
        "description": "a staff member (their reservations; blocks their time) or a location",
    }
    return {
        "Integration": obj(
            {
                "id": ID,
                "provider": {"type": "string", "enum": PROVIDERS},
                "name": {"type": "string"},
                "scope": {"type": "object"},
                "config": {"type": "object"},
                "status": {"type": "string", "enum": ["Active", "Error", "Disconnected"]},
                "statusMessage": nullable({"type": "string"}),
                "lastSuccessAt": STAMP,
                "lastErrorAt": STAMP,
                "hasCredentials": {"type": "boolean"},
                "pendingDeletions": nullable({"type": "integer"}),
                "channelExpiresAt": nullable({"type": "string"}),
                "connectUrl": {"type": "string", "description": "browser sign-in (OAuth 2)"},
                "deliveries": obj({"pending": {"type": "integer"}, "dead": {"type": "integer"}}),
                "version": {"type": "integer"},
                "createdAt": {"type": "string"},
                "updatedAt": {"type": "string"},
            },
            ["id", "provider", "name", "status"],
        ),
        "IntegrationCreate": obj(
            {
                "provider": {"type": "string", "enum": PROVIDERS},
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "scope": scope,
                "config": {
                    "type": "object",
                    "description": "provider settings, e.g. Google {calendarId, baseUrl?, tokenUrl?}",
                },
                "credentials": {
                    "type": "object",
                    "description": "e.g. Google {accessToken, refreshToken, expiresAt, clientId, "
                    "clientSecret}; stored encrypted, never shown again",
                },
            },
            ["provider", "name", "scope"],
        ),
        "IntegrationUpdate": obj(
            {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "config": {"type": "object"},
                "credentials": {"type": "object", "description": "new credentials reconnect it"},
                "status": {"type": "string", "enum": ["Active", "Disconnected"]},
            }
        ),
        "DeadLetter": obj(
            {
                "id": {"type": "integer"},
                "object": {"type": "string"},
                "event": {"type": "string"},
                "attempts": {"type": "integer"},
                "lastError": nullable({"type": "string"}),
                "createdAt": {"type": "string"},
                "failedAt": nullable({"type": "string"}),
            }
        ),
    }


def integration_paths(
    json: Any, body: Any, errors: Any, path_id: Any, idempotency: Any, write_errors: tuple[str, ...]
) -> dict[str, Any]:
    """Paths under /api/v1/integrations, built with the main document's helpers."""
    one = [path_id()]
    post_params = [path_id(), idempotency]
    tag = ["integrations"]
    return {
        "/integrations": {
            "get": {
                "tags": tag,
                "operationId": "listIntegrations",
                "summary": "Every integration with its status",
                "responses": {
                    "200": json(
                        obj(
                            {
                                "data": {"type": "array", "items": ref("Integration")},
                                "count": {"type": "integer"},
                                "total": {"type": "integer"},
                            }
                        ),
                        "integrations",
                    ),
                    **errors("401"),
                },
            },
            "post": {
                "tags": tag,
                "operationId": "createIntegration",
                "summary": "Connect a calendar (API form for headless set-ups)",
                "parameters": [idempotency],
                "requestBody": body(ref("IntegrationCreate")),
                "responses": {"201": json(ref("Integration"), "created"), **errors(*write_errors)},
            },
        },
        "/integrations/{id}": {
            "get": {
                "tags": tag,
                "operationId": "getIntegration",
                "summary": "One integration",
                "parameters": one,
                "responses": {"200": json(ref("Integration"), "it"), **errors("401", "404")},
            },
            "patch": {
                "tags": tag,
                "operationId": "updateIntegration",
                "summary": "Rename, reconfigure or reconnect",
                "parameters": post_params,
                "requestBody": body(ref("IntegrationUpdate")),
                "responses": {"200": json(ref("Integration"), "updated"), **errors(*write_errors)},
            },
            "delete": {
                "tags": tag,
                "operationId": "deleteIntegration",
                "summary": "Disconnect and forget",
                "parameters": one,
                "responses": {"204": {"description": "deleted"}, **errors("401", "404", "409")},
            },
        },
        "/integrations/{id}/resync": {
            "post": {
                "tags": tag,
                "operationId": "resyncIntegration",
                "summary": "Full reconciliation: repair drift and remove duplicates",
                "parameters": post_params,
                "requestBody": NO_BODY,
                "responses": {"200": json({"type": "object"}, "done"), **errors(*write_errors)},
            }
        },
        "/integrations/{id}/confirm-deletions": {
            "post": {
                "tags": tag,
                "operationId": "confirmIntegrationDeletions",
                "summary": "Mirror a mass deletion the guard held back",
                "parameters": post_params,
                "requestBody": NO_BODY,
                "responses": {"200": json({"type": "object"}, "done"), **errors(*write_errors)},
            }
        },
        "/integrations/{id}/deadletters": {
            "get": {
                "tags": tag,
                "operationId": "listDeadLetters",
                "summary": "Deliveries that failed for good",
                "parameters": one,
                "responses": {
                    "200": json(
                        obj(
                            {
                                "data": {"type": "array", "items": ref("DeadLetter")},
                                "count": {"type": "integer"},
                            }
                        ),
                        "dead letters",
                    ),
                    **errors("401", "404"),
                },
            }
        },
        "/integrations/{id}/deadletters/retry": {
            "post": {
                "tags": tag,
                "operationId": "retryDeadLetters",
                "summary": "Queue dead letters again (one by id, or all)",
                "parameters": post_params,
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": obj({"id": {"type": "integer"}})}},
                },
                "responses": {
                    "200": json(obj({"retried": {"type": "integer"}}), "queued"),
                    **errors(*write_errors),
                },
            }
        },
    }


def feed_schemas() -> dict[str, Schema]:
    """Component schemas for secret .ics feeds (issue 5)."""
    feed = {
        "id": ID,
        "scope": {"type": "string", "enum": ["staff", "customer", "location"]},
        "targetId": {"type": "string"},
        "createdAt": {"type": "string"},
        "revoked": {"type": "boolean"},
        "revokedAt": {"type": "string"},
    }
    return {
        "Feed": obj(feed, ["id", "scope"]),
        "FeedCreated": obj(
            feed
            | {
                "url": {"type": "string", "description": "the secret URL, shown this once"},
                "webcalUrl": {"type": "string"},
            },
            ["id", "url"],
        ),
        "FeedCreate": obj(
            {"scope": {"type": "string", "enum": ["staff", "customer", "location"]}, "id": ID},
            ["scope", "id"],
            additionalProperties=False,
        ),
    }


def feed_paths(
    json: Any, body: Any, errors: Any, path_id: Any, idempotency: Any, write_errors: tuple[str, ...]
) -> dict[str, Any]:
    """Paths under /api/v1/feeds and /api/v1/mail/status."""
    tag = ["feeds"]
    return {
        "/feeds": {
            "get": {
                "tags": tag,
                "operationId": "listFeeds",
                "summary": "Feed tokens (never the secret URL itself)",
                "parameters": [
                    {
                        "name": "includeRevoked",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["true", "false"]},
                    }
                ],
                "responses": {
                    "200": json(
                        obj(
                            {
                                "data": {"type": "array", "items": ref("Feed")},
                                "count": {"type": "integer"},
                            }
                        ),
                        "feeds",
                    ),
                    **errors("401"),
                },
            },
            "post": {
                "tags": tag,
                "operationId": "createFeed",
                "summary": "A secret .ics feed URL for a staff member, customer or location",
                "parameters": [idempotency],
                "requestBody": body(ref("FeedCreate")),
                "responses": {"201": json(ref("FeedCreated"), "created"), **errors(*write_errors)},
            },
        },
        "/feeds/{id}": {
            "delete": {
                "tags": tag,
                "operationId": "revokeFeed",
                "summary": "Revoke: the URL answers 404 from now on",
                "parameters": [path_id()],
                "responses": {"204": {"description": "revoked"}, **errors("401", "404")},
            }
        },
        "/feeds/{id}/rotate": {
            "post": {
                "tags": tag,
                "operationId": "rotateFeed",
                "summary": "A new secret URL; the old one stops working",
                "parameters": [path_id(), idempotency],
                "requestBody": NO_BODY,
                "responses": {"200": json(ref("FeedCreated"), "rotated"), **errors(*write_errors)},
            }
        },
        "/mail/status": {
            "get": {
                "tags": ["mail"],
                "operationId": "getMailStatus",
                "summary": "Outgoing mail delivery: ok, retrying, failing or disabled",
                "responses": {"200": json({"type": "object"}, "status"), **errors("401")},
            }
        },
    }
