"""The app factory and the OS helpers it relies on, in isolation."""

from __future__ import annotations

import ctypes
import inspect
import logging
from collections.abc import Iterable, Iterator

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from agentproc import sessions
from agentproc.app import create_app


@pytest.mark.anyio
async def test_app_without_its_lifespan_says_so() -> None:
    """Served without its lifespan, the app fails with a message that says what to do."""
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
        with pytest.raises(RuntimeError, match="without its lifespan"):
            await client.get("/api/v0/processes/list")


def test_failing_to_become_a_subreaper_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Where prctl is missing, the agent says at error level that orphans may stay zombies."""

    def no_libc(*args: object, **kwargs: object) -> object:
        raise OSError("no libc here")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    with caplog.at_level(logging.ERROR, logger="agentproc.sessions"):
        assert sessions.become_subreaper() is False
    assert "orphans may stay zombies" in caplog.text


def _api_routes(routes: Iterable[object]) -> Iterator[APIRoute]:
    """Every API route, those of included routers too (which newer FastAPI keeps in a
    wrapper around the router, not copied into the app's list)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)


def _calls(dependant: Dependant) -> Iterator[object]:
    """Every function FastAPI calls for a route: its endpoint and each dependency, nested."""
    yield dependant.call
    for dependency in dependant.dependencies:
        yield from _calls(dependency)


def test_no_route_or_dependency_runs_in_a_worker_thread() -> None:
    """FastAPI runs a plain ``def`` in a worker thread, a hop that costs more than the call;
    every endpoint and dependency of the API is a coroutine (or an async callable)."""
    routes = list(_api_routes(create_app().routes))
    assert any(route.path.endswith("/start") for route in routes)
    for route in routes:
        for call in _calls(route.dependant):
            # A callable object (fastapi.security's schemes) is called through its class.
            function = call if inspect.isfunction(call) else type(call).__call__
            assert inspect.iscoroutinefunction(function), (
                f"{route.path}: {call!r} would run in a worker thread"
            )
