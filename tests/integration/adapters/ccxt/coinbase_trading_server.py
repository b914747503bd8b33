"""A local Coinbase Advanced Trade that checks CDP authentication and answers with recorded payloads.

Runs http.server on 127.0.0.1 in a thread, so ccxt's synchronous client (which blocks the test's
thread) can talk to it. Paths, query parameters and JSON are Coinbase's; every answer is a file
from tests/fixtures/coinbase/ (see its README), cut to the request's filters (order status, order
ids, product, limit) or with the request's own ids echoed back, as Coinbase does.

Candles: as recorded (their 2024 times, for a request whose window holds them), or, after
`serve_candles_live(anchor_s)`, the recorded candles (values unchanged, oldest first) as the
consecutive candles of the requested granularity that closed by `anchor_s`, the way a poller of
the present sees them; `release_candles(n)` serves only the oldest n, so a later one appears.
`answer_all(status)` makes every request fail until `answer_all(None)`; `stop()` and `restart()`
take the server off its port and back (connections refused meanwhile).

Every private request must carry `Authorization: Bearer <JWT>` made as Coinbase documents it:
ES256 signed by the key whose public half the server was given, header kid = key name and a nonce
never seen before, claims iss "cdp", sub = key name, exp = nbf + 120, nbf <= now < exp (PyJWT
checks both against the clock), and
uri = "<METHOD> api.coinbase.com<path>". Anything else is a 401 with the reason recorded in
`rejections`. Requests are recorded with their verified claims for the tests to inspect.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from recorded_exchange import FIXTURES, GRANULARITY_S

BROKERAGE = "/api/v3/brokerage"
MARKET = f"{BROKERAGE}/market"
SIGNING_HOST = "api.coinbase.com"


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    token: str | None
    jwt_header: dict[str, Any] | None
    claims: dict[str, Any] | None


@dataclass
class CoinbaseTradingServer:
    """Use as `with CoinbaseTradingServer(key_name, public_key) as server:`."""

    key_name: str
    public_key: ec.EllipticCurvePublicKey
    fixtures: Path = FIXTURES
    requests: list[SeenRequest] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)
    order_answers: deque[str] = field(default_factory=deque)
    order_ids: deque[str] = field(default_factory=deque)
    closed_orders: dict[str, str] = field(default_factory=dict)
    faults: deque[tuple[str, int, str]] = field(default_factory=deque)
    candle_anchor_s: int | None = None
    candles_released: int | None = None
    outage: int | None = None  # every request gets this status while set
    _port: int = 0
    _handler: type[BaseHTTPRequestHandler] | None = None
    _nonces: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _http: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def answer_next_orders(self, *fixture_names: str) -> None:
        """The next order creations get these files (default: http_create_order.json)."""
        self.order_answers.extend(fixture_names)

    def number_next_orders(self, *order_ids: str) -> None:
        """The next accepted orders get these ids instead of the recorded one."""
        self.order_ids.extend(order_ids)

    def fail_next(self, path: str, status: int, body: str) -> None:
        """The next request to `path` gets this status and raw body instead of its answer."""
        with self._lock:
            self.faults.append((path, status, body))

    def serve_candles_live(self, anchor_s: int, released: int | None = None) -> None:
        with self._lock:
            self.candle_anchor_s, self.candles_released = anchor_s, released

    def release_candles(self, count: int) -> None:
        with self._lock:
            self.candles_released = count

    def answer_all(self, status: int | None) -> None:
        with self._lock:
            self.outage = status

    def recorded_candles(self) -> list[dict[str, str]]:
        """The recording's candles, oldest first."""
        rows: list[dict[str, str]] = self.load("http_candles.json")["candles"]
        return sorted(rows, key=lambda r: int(r["start"]))

    def live_start_s(self, index: int, granularity_s: int) -> int:
        """Where `serve_candles_live` puts the index-th oldest recorded candle."""
        assert self.candle_anchor_s is not None
        newest = self.candle_anchor_s - self.candle_anchor_s % granularity_s - granularity_s
        return newest - (len(self.recorded_candles()) - 1 - index) * granularity_s

    def close_order(self, order_id: str, status: str) -> None:
        """From now on the recorded order has this status (CANCELLED, EXPIRED, ...)."""
        with self._lock:
            self.closed_orders[order_id] = status

    def seen(self, method: str, path: str) -> list[SeenRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    def load(self, name: str) -> Any:
        return json.loads((self.fixtures / name).read_text())

    def __enter__(self) -> CoinbaseTradingServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._serve(self, "GET")

            def do_POST(self) -> None:
                server._serve(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests read `requests` instead."""

        self._handler = Handler
        self._serve_on(0)
        return self

    def _serve_on(self, port: int) -> None:
        assert self._handler is not None
        self._http = ThreadingHTTPServer(("127.0.0.1", port), self._handler)
        self._port = self._http.server_address[1]
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    def restart(self) -> None:
        """Back on the same port."""
        self._serve_on(self._port)

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- one request -------------------------------------------------------------------------
    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        query = parse_qs(url.query)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        private = url.path.startswith(BROKERAGE) and not url.path.startswith(MARKET)
        header = claims = None
        token = None
        if private:
            token, header, claims, problem = self._verify(method, url.path, handler.headers)
            if problem is not None:
                with self._lock:
                    self.rejections.append(problem)
                    self.requests.append(
                        SeenRequest(method, url.path, query, body, token, None, None)
                    )
                _reply(handler, 401, "Unauthorized", "text/plain")
                return
        with self._lock:
            self.requests.append(SeenRequest(method, url.path, query, body, token, header, claims))
            fault = next((f for f in self.faults if f[0] == url.path), None)
            if fault is not None:
                self.faults.remove(fault)
            elif self.outage is not None:
                fault = (url.path, self.outage, "Service Unavailable")
        if fault is not None:
            _reply(handler, fault[1], fault[2], "text/plain")
            return
        status, payload = self._route(method, url.path, query, body)
        _reply(handler, status, json.dumps(payload), "application/json")

    def _verify(
        self, method: str, path: str, headers: Any
    ) -> tuple[str | None, dict[str, Any] | None, dict[str, Any] | None, str | None]:
        auth = headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return None, None, None, "no bearer token"
        token = auth.removeprefix("Bearer ")
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["ES256"],
                issuer="cdp",
                options={"require": ["iss", "sub", "nbf", "exp", "uri"], "verify_aud": False},
            )
        except jwt.InvalidTokenError as exc:
            return token, None, None, f"{type(exc).__name__}: {exc}"
        problem = self._check(method, path, header, claims)
        return token, header, claims, problem

    def _check(
        self, method: str, path: str, header: dict[str, Any], claims: dict[str, Any]
    ) -> str | None:
        expected_uri = f"{method} {SIGNING_HOST}{path}"
        nonce = str(header.get("nonce") or "")
        with self._lock:
            replayed = nonce in self._nonces
            self._nonces.add(nonce)
        checks = {
            "alg is not ES256": header.get("alg") != "ES256",
            "kid is not the key name": header.get("kid") != self.key_name,
            "no nonce": not nonce,
            "nonce replayed": replayed,
            "sub is not the key name": claims.get("sub") != self.key_name,
            "lifetime is not 120 s": claims["exp"] - claims["nbf"] != 120,
            f"uri {claims.get('uri')!r} is not {expected_uri!r}": claims.get("uri") != expected_uri,
        }
        failed = [name for name, bad in checks.items() if bad]
        return "; ".join(failed) if failed else None

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        one = {k: v[0] for k, v in query.items()}
        exact: dict[tuple[str, str], Callable[[], tuple[int, Any]]] = {
            ("GET", f"{MARKET}/products"): lambda: self._products(one),
            ("GET", f"{MARKET}/product_book"): lambda: self._book(one),
            ("GET", f"{BROKERAGE}/transaction_summary"): lambda: (
                200,
                self.load("http_transaction_summary.json"),
            ),
            ("GET", f"{BROKERAGE}/accounts"): lambda: (200, self.load("http_accounts.json")),
            ("GET", f"{BROKERAGE}/orders/historical/batch"): lambda: self._orders(query),
            ("GET", f"{BROKERAGE}/orders/historical/fills"): lambda: self._fills(query),
            ("POST", f"{BROKERAGE}/orders"): lambda: self._create(body),
            ("POST", f"{BROKERAGE}/orders/batch_cancel"): lambda: self._cancel(body),
        }
        handler = exact.get((method, path))
        if handler is not None:
            return handler()
        if method == "GET" and path.startswith(f"{MARKET}/products/") and path.endswith("/candles"):
            return self._candles(path.split("/")[-2], one)
        if method == "GET" and path.startswith(f"{BROKERAGE}/orders/historical/"):
            return self._order(path.rsplit("/", 1)[1])
        return 404, {"error": "NOT_FOUND", "message": f"no recording for {method} {path}"}

    def _products(self, query: dict[str, str]) -> tuple[int, Any]:
        future = query.get("product_type") == "FUTURE"
        return 200, self.load("http_products_future.json" if future else "http_products.json")

    def _book(self, query: dict[str, str]) -> tuple[int, Any]:
        payload = self.load("http_product_book.json")
        if query.get("product_id") != payload["pricebook"]["product_id"]:
            return 404, {"error": "NOT_FOUND", "message": "no recording of that product"}
        if "limit" in query:
            for side in ("bids", "asks"):
                payload["pricebook"][side] = payload["pricebook"][side][: int(query["limit"])]
        return 200, payload

    def _candles(self, product_id: str, query: dict[str, str]) -> tuple[int, Any]:
        if product_id != self.load("http_product.json")["product_id"]:
            return 404, {"error": "NOT_FOUND", "message": "no recording of that product"}
        start = int(query.get("start", "0"))
        end = int(query.get("end", str(2**62)))
        rows = self.recorded_candles()
        with self._lock:
            anchor, released = self.candle_anchor_s, self.candles_released
        if anchor is not None:
            granularity = GRANULARITY_S[query.get("granularity", "ONE_MINUTE")]
            rows = [
                {**r, "start": str(self.live_start_s(i, granularity))}
                for i, r in enumerate(rows[:released])
            ]
        rows = [r for r in rows if start <= int(r["start"]) < end]
        return 200, {"candles": sorted(rows, key=lambda r: int(r["start"]), reverse=True)}

    def _with_status(self, order: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            status = self.closed_orders.get(order["order_id"])
        if status is not None:
            order["status"] = status
        return order

    def _all_orders(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self.load("http_orders_list.json")["orders"]
        single = self.load("http_order.json")["order"]
        return [self._with_status(o) for o in [*listed, single]]

    def _orders(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        """The list recording, plus the single-order recording (same account), filtered."""
        payload = self.load("http_orders_list.json")
        statuses = set(query.get("order_status", []))
        products = set(query.get("product_ids", []) + query.get("product_id", []))
        payload["orders"] = [
            o
            for o in self._all_orders()
            if (not statuses or o["status"] in statuses)
            and (not products or o["product_id"] in products)
        ]
        return 200, payload

    def _order(self, order_id: str) -> tuple[int, Any]:
        for order in self._all_orders():
            if order["order_id"] == order_id:
                return 200, {"order": order}
        return 404, {"error": "NOT_FOUND", "message": "order not found"}

    def _fills(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        payload = self.load("http_fills.json")
        order_ids = set(query.get("order_ids", []))
        products = set(query.get("product_ids", []) + query.get("product_id", []))
        payload["fills"] = [
            f
            for f in payload["fills"]
            if (not order_ids or f["order_id"] in order_ids)
            and (not products or f["product_id"] in products)
        ]
        return 200, payload

    def _create(self, body: dict[str, Any]) -> tuple[int, Any]:
        with self._lock:
            name = self.order_answers.popleft() if self.order_answers else "http_create_order.json"
            payload = self.load(name)
            if payload["success"] and self.order_ids:
                payload["order_id"] = payload["success_response"]["order_id"] = (
                    self.order_ids.popleft()
                )
        payload["order_configuration"] = body["order_configuration"]
        if payload["success"]:
            payload["success_response"]["client_order_id"] = body["client_order_id"]
        return 200, payload

    def _cancel(self, body: dict[str, Any]) -> tuple[int, Any]:
        template = self.load("http_cancel_orders.json")["results"]
        done, refused = (next(r for r in template if r["success"] is ok) for ok in (True, False))
        open_ids = {o["order_id"] for o in self._all_orders() if o["status"] == "OPEN"}
        results = []
        for order_id in body["order_ids"]:
            result = copy.deepcopy(done if order_id in open_ids else refused)
            result["order_id"] = order_id
            results.append(result)
        return 200, {"results": results}


def _reply(handler: BaseHTTPRequestHandler, status: int, text: str, content_type: str) -> None:
    data = text.encode("utf-8")
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
