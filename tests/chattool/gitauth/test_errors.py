"""One error type, answered in the API's error shape by the route class and nowhere else."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from chattool.gitauth._errors import ExternalAuthError
from chattool.gitauth._router import ExternalAuthRoute

pytestmark = pytest.mark.anyio


def make_app() -> FastAPI:
    """An app with two routes of ExternalAuthRoute and one plain route of its own."""
    router = APIRouter(route_class=ExternalAuthRoute)

    @router.get("/refused")
    async def refused(detail: str | None = None) -> dict[str, str]:
        raise ExternalAuthError(403, "Not for you.", detail)

    @router.get("/broken")
    async def broken() -> dict[str, str]:
        raise LookupError("a bug, not a refusal")

    app = FastAPI()
    app.include_router(router)

    @app.get("/host")
    async def host() -> dict[str, str]:
        raise ExternalAuthError(401, "Raised outside the router.")

    return app


async def get(path: str, **params: str) -> httpx.Response:
    """One request to a fresh app."""
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://cp.test") as client:
        return await client.get(path, params=params)


async def test_the_route_answers_the_error_with_its_status_and_message() -> None:
    """Status and message come from the error; a missing detail is left out, not null."""
    response = await get("/refused")
    assert (response.status_code, response.content) == (403, b'{"message":"Not for you."}')
    assert response.headers["content-type"] == "application/json"


async def test_the_route_sends_the_detail_when_the_error_has_one() -> None:
    """The detail travels beside the message."""
    response = await get("/refused", detail="Ask the owner.")
    assert response.status_code == 403
    assert response.json() == {"message": "Not for you.", "detail": "Ask the owner."}


async def test_any_other_exception_is_not_swallowed_by_the_route() -> None:
    """Only ExternalAuthError is mapped; a bug still reaches the host app's own handling."""
    with pytest.raises(LookupError, match="a bug, not a refusal"):
        await get("/broken")


async def test_the_host_apps_own_routes_are_left_to_the_host() -> None:
    """The mapping belongs to the router's routes, not to the app that includes it."""
    with pytest.raises(ExternalAuthError):
        await get("/host")


def test_the_error_carries_status_message_and_detail() -> None:
    """Its fields are what the route answers with; str() is the message."""
    error = ExternalAuthError(404, "No provider.", "Configure one.")
    assert (error.status, error.message, error.detail, str(error)) == (
        404,
        "No provider.",
        "Configure one.",
        "No provider.",
    )
    assert ExternalAuthError(401, "Invalid agent token.").detail is None


@pytest.mark.parametrize("status", [200, 302, 399, 600])
def test_the_error_takes_only_an_error_status(status: int) -> None:
    """A refusal with a success or redirect status would be a contradiction."""
    with pytest.raises(ValueError, match="error status"):
        ExternalAuthError(status, "Nope.")
