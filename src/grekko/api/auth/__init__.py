"""Authentication: users, JWT sessions with rotating refresh tokens, TOTP MFA, API keys, SIWE.

`AuthService` (service.py) is the Authenticator the HTTP, WebSocket and GraphQL layers use;
`auth_router()` (routes.py) serves it under /api/v1; `get_principal` and `require(role)`
(dependencies.py) guard other routes. The store is passed in (grekko.bootstrap.auth wires the
SQL one), so nothing here picks a database.
"""

from grekko.api.auth.service import AuthService
from grekko.api.auth.tokens import TokenPair

__all__ = ["AuthService", "TokenPair"]
