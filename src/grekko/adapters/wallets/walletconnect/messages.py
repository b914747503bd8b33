"""The Sign protocol's JSON-RPC payloads, as @walletconnect/sign-client exchanges them.

Field names, ids and defaults follow the SDK (types/sign-client/jsonrpc.d.ts, jsonrpc-utils'
payloadId) so a wallet built on it reads what Grekko sends. Everything a wallet sends is checked
against these types on arrival (CAIP-2 chains, CAIP-10 accounts, hex keys): a payload that does
not fit is refused with the path of the offending field, never half-used.
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any, Generic, NamedTuple, TypeVar

import msgspec

JSONRPC = "2.0"

PAIRING_DELETE = "wc_pairingDelete"
PAIRING_PING = "wc_pairingPing"
SESSION_PROPOSE = "wc_sessionPropose"
SESSION_SETTLE = "wc_sessionSettle"
SESSION_UPDATE = "wc_sessionUpdate"
SESSION_EXTEND = "wc_sessionExtend"
SESSION_REQUEST = "wc_sessionRequest"
SESSION_EVENT = "wc_sessionEvent"
SESSION_DELETE = "wc_sessionDelete"
SESSION_PING = "wc_sessionPing"

USER_DISCONNECTED = (6000, "User disconnected.")  # the SDK's getSdkError("USER_DISCONNECTED")

Caip2ChainId = Annotated[str, msgspec.Meta(pattern=r"^[-a-z0-9]{3,8}:[-_a-zA-Z0-9]{1,32}$")]
Caip10Account = Annotated[
    str, msgspec.Meta(pattern=r"^[-a-z0-9]{3,8}:[-_a-zA-Z0-9]{1,32}:[-.%a-zA-Z0-9]{1,128}$")
]
NamespaceKey = Annotated[str, msgspec.Meta(pattern=r"^[-a-z0-9]{3,8}(:[-_a-zA-Z0-9]{1,32})?$")]
PublicKeyHex = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
Address = Annotated[str, msgspec.Meta(pattern=r"^0x[0-9a-fA-F]{40}$")]
Quantity = Annotated[str, msgspec.Meta(pattern=r"^0x(0|[1-9a-fA-F][0-9a-fA-F]*)$")]
HexData = Annotated[str, msgspec.Meta(pattern=r"^0x([0-9a-fA-F]{2})*$")]
TxHash = Annotated[str, msgspec.Meta(pattern=r"^0x[0-9a-fA-F]{64}$")]
Signature = Annotated[str, msgspec.Meta(pattern=r"^0x[0-9a-fA-F]{130}$")]
Seconds = Annotated[int, msgspec.Meta(gt=0)]


class InvalidPayload(ValueError):
    """A message from the peer that is not a Sign protocol payload; the message says where."""


class PublishOptions(NamedTuple):
    """How long the relay keeps a message (seconds) and the tag that tells the kind apart."""

    ttl: int
    tag: int
    prompt: bool = False


# (request, response) per method, from the Sign specification's RPC methods table
PUBLISH_OPTIONS: dict[str, tuple[PublishOptions, PublishOptions]] = {
    PAIRING_DELETE: (PublishOptions(86400, 1000), PublishOptions(86400, 1001)),
    PAIRING_PING: (PublishOptions(30, 1002), PublishOptions(30, 1003)),
    SESSION_PROPOSE: (PublishOptions(300, 1100, prompt=True), PublishOptions(300, 1101)),
    SESSION_SETTLE: (PublishOptions(300, 1102), PublishOptions(300, 1103)),
    SESSION_UPDATE: (PublishOptions(86400, 1104), PublishOptions(86400, 1105)),
    SESSION_EXTEND: (PublishOptions(86400, 1106), PublishOptions(86400, 1107)),
    SESSION_REQUEST: (PublishOptions(300, 1108, prompt=True), PublishOptions(300, 1109)),
    SESSION_EVENT: (PublishOptions(300, 1110, prompt=True), PublishOptions(300, 1111)),
    SESSION_DELETE: (PublishOptions(86400, 1112), PublishOptions(86400, 1113)),
    SESSION_PING: (PublishOptions(30, 1114), PublishOptions(30, 1115)),
}


class _Payload(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    """camelCase on the wire; optional fields left out when unset, as the SDK leaves undefined."""


class Relay(_Payload, frozen=True):
    protocol: str  # no default: omit_defaults would drop it, and the SDK requires it
    data: str | None = None


class Redirect(_Payload, frozen=True):
    native: str | None = None
    universal: str | None = None
    link_mode: bool | None = None


class Metadata(_Payload, frozen=True):
    name: str
    description: str
    url: str
    icons: tuple[str, ...]
    verify_url: str | None = None
    redirect: Redirect | None = None


class Participant(_Payload, frozen=True):
    public_key: PublicKeyHex
    metadata: Metadata


class ProposalNamespace(_Payload, frozen=True):
    methods: tuple[str, ...]
    events: tuple[str, ...]
    chains: tuple[Caip2ChainId, ...] | None = None


class SessionNamespace(_Payload, frozen=True):
    accounts: tuple[Caip10Account, ...]
    methods: tuple[str, ...]
    events: tuple[str, ...]
    chains: tuple[Caip2ChainId, ...] | None = None


class SessionProposeParams(_Payload, frozen=True):
    relays: tuple[Relay, ...]
    required_namespaces: dict[NamespaceKey, ProposalNamespace]
    optional_namespaces: dict[NamespaceKey, ProposalNamespace]
    proposer: Participant
    session_properties: dict[str, str] | None = None
    expiry_timestamp: Seconds | None = None


class SessionProposeResult(_Payload, frozen=True):
    relay: Relay
    responder_public_key: PublicKeyHex


class SessionSettleParams(_Payload, frozen=True):
    relay: Relay
    namespaces: dict[NamespaceKey, SessionNamespace]
    controller: Participant
    expiry: Seconds
    session_properties: dict[str, str] | None = None
    scoped_properties: dict[str, Any] | None = None
    session_config: dict[str, Any] | None = None


class SessionUpdateParams(_Payload, frozen=True):
    namespaces: dict[NamespaceKey, SessionNamespace]


class SessionExtendParams(_Payload, frozen=True):
    expiry: Seconds | None = None


class RequestCall(_Payload, frozen=True):
    method: str
    params: Any
    expiry_timestamp: Seconds | None = None


class SessionRequestParams(_Payload, frozen=True):
    request: RequestCall
    chain_id: Caip2ChainId


class EventCall(_Payload, frozen=True):
    name: str
    data: Any


class SessionEventParams(_Payload, frozen=True):
    event: EventCall
    chain_id: Caip2ChainId


class ReasonParams(_Payload, frozen=True):
    """Why a session or pairing ends (wc_sessionDelete, wc_pairingDelete)."""

    code: int
    message: str


class PingParams(_Payload, frozen=True):
    pass


class EthTransaction(_Payload, frozen=True):
    """eth_sendTransaction's one parameter: quantities are 0x-hex strings, as EIP-1193 wants."""

    from_: Address = msgspec.field(name="from")
    to: Address | None = None
    data: HexData | None = None
    value: Quantity | None = None
    gas: Quantity | None = None
    gas_price: Quantity | None = None
    max_fee_per_gas: Quantity | None = None
    max_priority_fee_per_gas: Quantity | None = None
    nonce: Quantity | None = None


class RpcError(_Payload, frozen=True):
    code: int
    message: str
    data: Any = None


ParamsT = TypeVar("ParamsT")


class Request(msgspec.Struct, Generic[ParamsT], frozen=True):
    id: int
    jsonrpc: str
    method: str
    params: ParamsT


class Result(msgspec.Struct, frozen=True):
    id: int
    jsonrpc: str
    result: Any


class Error(msgspec.Struct, frozen=True):
    id: int
    jsonrpc: str
    error: RpcError


PARAMS_TYPES: dict[str, type[_Payload]] = {
    PAIRING_DELETE: ReasonParams,
    PAIRING_PING: PingParams,
    SESSION_PROPOSE: SessionProposeParams,
    SESSION_SETTLE: SessionSettleParams,
    SESSION_UPDATE: SessionUpdateParams,
    SESSION_EXTEND: SessionExtendParams,
    SESSION_REQUEST: SessionRequestParams,
    SESSION_EVENT: SessionEventParams,
    SESSION_DELETE: ReasonParams,
    SESSION_PING: PingParams,
}

_PayloadT = TypeVar("_PayloadT", bound=_Payload)
_ValueT = TypeVar("_ValueT")
_ENCODER = msgspec.json.Encoder()


def payload_id(entropy: int = 3) -> int:
    """jsonrpc-utils' payloadId: milliseconds since the epoch times 10**entropy plus as many
    random digits, so ids grow with time and two in one millisecond rarely collide."""
    scale: int = 10**entropy
    return time.time_ns() // 1_000_000 * scale + secrets.randbelow(scale)


def request(method: str, params: _PayloadT, request_id: int | None = None) -> Request[_PayloadT]:
    expected = PARAMS_TYPES.get(method)
    if expected is None or not isinstance(params, expected):
        raise TypeError(f"{method} does not take {type(params).__name__}")
    return Request(request_id or payload_id(), JSONRPC, method, params)


def result(request_id: int, value: Any = True) -> Result:
    """A success answer; `true` is what every Sign method but propose and request returns."""
    return Result(request_id, JSONRPC, value)


def error(request_id: int, code: int, message: str, data: Any = None) -> Error:
    return Error(request_id, JSONRPC, RpcError(code, message, data))


def session_propose(
    proposer: Participant,
    required_namespaces: dict[str, ProposalNamespace],
    optional_namespaces: dict[str, ProposalNamespace] | None = None,
    *,
    relays: tuple[Relay, ...] = (Relay("irn"),),
    session_properties: dict[str, str] | None = None,
    expiry_timestamp: int | None = None,
) -> Request[SessionProposeParams]:
    params = SessionProposeParams(
        relays=relays,
        required_namespaces=required_namespaces,
        optional_namespaces=optional_namespaces or {},
        proposer=proposer,
        session_properties=session_properties,
        expiry_timestamp=expiry_timestamp,
    )
    return request(SESSION_PROPOSE, _checked(params))


def session_request(
    chain_id: str, method: str, params: Any, *, expiry_timestamp: int | None = None
) -> Request[SessionRequestParams]:
    call = RequestCall(method, params, expiry_timestamp)
    return request(SESSION_REQUEST, _checked(SessionRequestParams(call, chain_id)))


def eth_send_transaction(chain_id: str, tx: EthTransaction) -> Request[SessionRequestParams]:
    return session_request(chain_id, "eth_sendTransaction", [_checked(tx)])


def personal_sign(
    chain_id: str, message: str | bytes, address: str
) -> Request[SessionRequestParams]:
    """personal_sign's parameters are [message as 0x-hex of its bytes, address], as wallets and
    the SDK's examples send them."""
    raw = message.encode("utf-8") if isinstance(message, str) else message
    _convert(address, Address, "personal_sign address")
    return session_request(chain_id, "personal_sign", [f"0x{raw.hex()}", address])


def session_delete(
    code: int = USER_DISCONNECTED[0], message: str = USER_DISCONNECTED[1]
) -> Request[ReasonParams]:
    return request(SESSION_DELETE, ReasonParams(code, message))


def encode(payload: Request[Any] | Result | Error) -> str:
    return _ENCODER.encode(payload).decode("utf-8")


def decode(text: str | bytes) -> Request[Any] | Result | Error:
    """Read one message from the peer: a request with its params typed by method, a result (read
    its value with `result_as`, knowing which request it answers), or an error."""
    try:
        raw = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise InvalidPayload(f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidPayload(f"a JSON-RPC message is an object, not {type(raw).__name__}")
    if raw.get("jsonrpc") != JSONRPC:
        raise InvalidPayload(f"jsonrpc must be '2.0', got {raw.get('jsonrpc')!r}")
    message_id = raw.get("id")
    if type(message_id) is not int or message_id <= 0:
        raise InvalidPayload(f"id must be a positive integer, got {message_id!r}")
    if "method" in raw:
        return _decode_request(message_id, raw)
    if ("result" in raw) == ("error" in raw):
        raise InvalidPayload(f"message {message_id} has neither a method, nor one of result/error")
    if "result" in raw:
        return Result(message_id, JSONRPC, raw["result"])
    return Error(message_id, JSONRPC, _convert(raw["error"], RpcError, f"error of {message_id}"))


def result_as(response: Result | Error, expected: type[_ValueT]) -> _ValueT:
    """The result typed as the answered request promises; an error answer raises with it."""
    value: _ValueT = _result_value(response, expected)
    return value


def transaction_hash(response: Result | Error) -> str:
    """eth_sendTransaction's answer: the hash of the transaction the wallet sent."""
    value: str = _result_value(response, TxHash)
    return value


def signature(response: Result | Error) -> str:
    """personal_sign's answer: a 65-byte signature in 0x-hex."""
    value: str = _result_value(response, Signature)
    return value


def _result_value(response: Result | Error, expected: Any) -> Any:
    if isinstance(response, Error):
        raise InvalidPayload(
            f"request {response.id} failed: {response.error.message} ({response.error.code})"
        )
    return _convert(response.result, expected, f"result of {response.id}")


def _decode_request(message_id: int, raw: dict[str, Any]) -> Request[Any]:
    method = raw["method"]
    params_type = PARAMS_TYPES.get(method) if isinstance(method, str) else None
    if params_type is None:
        raise InvalidPayload(f"request {message_id}: method {method!r} is not a Sign method")
    params = _convert(raw.get("params", {}), params_type, f"{method} params")
    return Request(message_id, JSONRPC, method, params)


def _convert(value: Any, expected: Any, what: str) -> Any:
    try:
        return msgspec.convert(value, expected)
    except msgspec.ValidationError as exc:
        raise InvalidPayload(f"{what}: {exc}") from None


def _checked(payload: _PayloadT) -> _PayloadT:
    """Outgoing payloads pass the same checks as incoming ones: a bad chain id or address fails
    here, not in the wallet."""
    checked: _PayloadT = _convert(
        msgspec.to_builtins(payload), type(payload), type(payload).__name__
    )
    return checked
