"""Stream entries as msgpack: a registry maps each struct class name to its class.

An entry carries the class name next to the payload, so a consumer decodes exactly the type that
was published, without a tagged union of every message type on every stream. Names are the
registry's keys because they are what a person reads in `redis-cli XRANGE`; two classes with one
name would make entries ambiguous, so registering that is refused.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

import msgspec

from grekko.core.errors import ConfigError, DataError
from grekko.ports.streams import UnknownMessageType

TYPE_FIELD = b"type"
EVENT_ID_FIELD = b"event_id"
PAYLOAD_FIELD = b"payload"

# every struct these modules define travels on the bus without further registration
DEFAULT_MODULES = (
    "grekko.domain.events",
    "grekko.domain.commands",
    "grekko.domain.data",
    "grekko.domain.agents",
    "grekko.domain.news",
    "grekko.domain.order_book",
)

StructType = type[msgspec.Struct]


class MessageDecodeError(DataError):
    """An entry that is not a well-formed message: missing fields or a payload that fails its type."""


class MessageCodec:
    """Encodes registered msgspec structs to stream-entry fields and back."""

    def __init__(self, types: Iterable[StructType] = ()) -> None:
        self._types: dict[str, StructType] = {}
        self._decoders: dict[str, msgspec.msgpack.Decoder[Any]] = {}
        self._encoder = msgspec.msgpack.Encoder()
        for cls in types:
            self.register(cls)

    @classmethod
    def default(cls) -> MessageCodec:
        """The domain's events, commands, market data, agent and news messages."""
        return cls(_structs_of(importlib.import_module(name) for name in DEFAULT_MODULES))

    def register(self, cls: StructType) -> None:
        """Make `cls` publishable; plugins register their own message types here."""
        if not (isinstance(cls, type) and issubclass(cls, msgspec.Struct)):
            raise ConfigError(f"{cls!r} is not a msgspec Struct class")
        known = self._types.get(cls.__name__)
        if known is not None and known is not cls:
            raise ConfigError(
                f"message type name {cls.__name__!r} is taken by {known.__module__}; "
                f"{cls.__module__}.{cls.__name__} cannot share it"
            )
        self._types[cls.__name__] = cls
        self._decoders[cls.__name__] = msgspec.msgpack.Decoder(cls)

    def names(self) -> frozenset[str]:
        return frozenset(self._types)

    def encode(self, message: msgspec.Struct, event_id: str) -> dict[bytes, bytes]:
        """The entry's fields; raises UnknownMessageType for an unregistered class and DataError
        for a value msgpack cannot carry (an int beyond 64 bits)."""
        name = type(message).__name__
        if self._types.get(name) is not type(message):
            raise UnknownMessageType(
                f"{type(message).__module__}.{name} is not registered with the stream codec"
            )
        if not event_id:
            raise DataError("a published message needs a non-empty event_id")
        try:
            payload = self._encoder.encode(message)
        except (msgspec.EncodeError, OverflowError, TypeError) as exc:
            raise DataError(f"{name} cannot be encoded for the bus: {exc}") from None
        return {
            TYPE_FIELD: name.encode(),
            EVENT_ID_FIELD: event_id.encode(),
            PAYLOAD_FIELD: payload,
        }

    def decode(self, fields: Mapping[bytes, bytes]) -> tuple[str, str, msgspec.Struct]:
        """(type name, event id, message) of an entry.

        Raises UnknownMessageType for a type not registered here (a newer publisher, a typo) and
        MessageDecodeError for anything else malformed; neither is worth retrying.
        """
        try:
            name = fields[TYPE_FIELD].decode()
            event_id = fields[EVENT_ID_FIELD].decode()
            payload = fields[PAYLOAD_FIELD]
        except (KeyError, UnicodeDecodeError) as exc:
            raise MessageDecodeError(f"entry is not a bus message: {exc!r}") from None
        decoder = self._decoders.get(name)
        if decoder is None:
            raise UnknownMessageType(f"no message type {name!r} is registered with the codec")
        try:
            message = decoder.decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise MessageDecodeError(f"{name} payload does not decode: {exc}") from None
        return name, event_id, message


def _structs_of(modules: Iterable[ModuleType]) -> list[StructType]:
    return [
        value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, msgspec.Struct)
        and value.__module__ == module.__name__
    ]
