"""The DataStreamer's operations: list, create, destroy, pause, resume, publish, recent messages."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Query, Request

from grekko.api.auth.dependencies import require
from grekko.api.principal import Principal, Role
from grekko.api.problems import ApiProblem
from grekko.api.schemas import StreamIn, StreamMessageOut, StreamOut, StreamPublishIn, problems
from grekko.api.services import ApiServices, audit, services
from grekko.core.errors import ConfigError
from grekko.core.time import ns_to_iso
from grekko.domain.streams import StreamDataType, StreamSpec

router = APIRouter(prefix="/api/v1/streams", tags=["streams"])
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Services = Annotated[ApiServices, Depends(services)]
StreamId = Annotated[str, Query(min_length=1, max_length=200)]


def _streamer(svc: ApiServices) -> Any:
    if svc.streamer is None:
        raise ApiProblem(404, "no_streamer", "This server runs no data streamer")
    return svc.streamer


def _out(info: Any) -> StreamOut:
    spec = info.spec
    return StreamOut(
        stream_id=spec.stream_id,
        data_type=str(spec.data_type),
        source=spec.source,
        update_frequency_ms=spec.update_frequency_ms,
        buffer_size=spec.buffer_size,
        paused=info.paused,
        sequence_number=info.sequence_number,
        buffered=info.buffered,
        subscribers=info.subscribers,
    )


def _one(svc: ApiServices, stream_id: str) -> StreamOut:
    for info in _streamer(svc).list_streams():
        if info.spec.stream_id == stream_id:
            return _out(info)
    raise ApiProblem(404, "unknown_stream", "Unknown stream", stream_id)


@router.get("", response_model=list[StreamOut], responses=problems(404))
async def list_streams(_: Viewer, svc: Services) -> list[StreamOut]:
    return [_out(info) for info in _streamer(svc).list_streams()]


@router.post("", response_model=StreamOut, status_code=201, responses=problems(404, 409))
async def create_stream(body: StreamIn, who: Admin, svc: Services, request: Request) -> StreamOut:
    spec = StreamSpec(
        body.stream_id,
        StreamDataType(body.data_type),
        body.source,
        body.update_frequency_ms,
        body.buffer_size,
    )
    try:
        _streamer(svc).create_stream(spec)
    except ConfigError as exc:
        raise ApiProblem(409, "stream_exists", "The stream exists", str(exc)) from None
    audit(request, who.username, "stream.create", body.stream_id)
    return _one(svc, body.stream_id)


def _act(svc: ApiServices, stream_id: str, action: str) -> None:
    try:
        getattr(_streamer(svc), action)(stream_id)
    except ConfigError as exc:
        raise ApiProblem(404, "unknown_stream", "Unknown stream", str(exc)) from None


@router.delete("/{stream_id}", status_code=204, responses=problems(404))
async def destroy_stream(stream_id: str, who: Admin, svc: Services, request: Request) -> None:
    _act(svc, stream_id, "destroy_stream")
    audit(request, who.username, "stream.destroy", stream_id)


@router.post("/{stream_id}/pause", response_model=StreamOut, responses=problems(404))
async def pause(stream_id: str, who: Admin, svc: Services, request: Request) -> StreamOut:
    _act(svc, stream_id, "pause")
    audit(request, who.username, "stream.pause", stream_id)
    return _one(svc, stream_id)


@router.post("/{stream_id}/resume", response_model=StreamOut, responses=problems(404))
async def resume(stream_id: str, who: Admin, svc: Services, request: Request) -> StreamOut:
    _act(svc, stream_id, "resume")
    audit(request, who.username, "stream.resume", stream_id)
    return _one(svc, stream_id)


@router.post(
    "/{stream_id}/messages", response_model=StreamMessageOut | None, responses=problems(404)
)
async def publish(
    stream_id: str, body: StreamPublishIn, who: Admin, svc: Services
) -> StreamMessageOut | None:
    _one(svc, stream_id)
    message = _streamer(svc).publish(stream_id, body.payload)
    return None if message is None else _message(message)


@router.get("/{stream_id}/messages", response_model=list[StreamMessageOut], responses=problems(404))
async def recent(
    stream_id: str, _: Viewer, svc: Services, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[StreamMessageOut]:
    try:
        messages = _streamer(svc).recent(stream_id, limit)
    except ConfigError as exc:
        raise ApiProblem(404, "unknown_stream", "Unknown stream", str(exc)) from None
    return [_message(m) for m in messages]


def _message(message: Any) -> StreamMessageOut:
    return StreamMessageOut(
        stream_id=message.stream_id,
        timestamp=ns_to_iso(message.timestamp),
        sequence_number=message.sequence_number,
        data_type=str(message.data_type),
        payload=msgspec.to_builtins(message.payload),
    )
