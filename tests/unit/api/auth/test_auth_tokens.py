"""TokenCodec: HS256 only, expiry on the given clock, typed claims; garbage is always a 401."""

from __future__ import annotations

from collections import Counter

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grekko.api.auth.tokens import ACCESS, REFRESH, TokenCodec, TokenPair
from grekko.api.auth.views import ApiKeyInfo, MfaEnrolment, NewApiKey
from grekko.api.principal import Role
from grekko.api.problems import ApiProblem
from grekko.core.errors import ConfigError

SECRET = b"0123456789abcdef0123456789abcdef"
T0 = 1_767_225_600.0
CODEC = TokenCodec(SECRET)


def _token(typ: str = ACCESS, ttl_s: int = 60) -> str:
    encoded = CODEC.encode(
        typ, user_id=7, family_id="fam", mfa=True, now_s=T0, ttl_s=ttl_s, role=Role.TRADER
    )
    return CODEC.sign(encoded)


def _code(token: str, typ: str = ACCESS, now_s: float = T0) -> str:
    with pytest.raises(ApiProblem) as caught:
        CODEC.decode(token, typ, now_s)
    assert caught.value.status == 401
    return caught.value.code


def test_round_trip_keeps_every_claim() -> None:
    claims = CODEC.decode(_token(), ACCESS, T0 + 59.9)
    assert (claims.user_id, claims.family_id, claims.mfa, claims.role) == (
        7,
        "fam",
        True,
        Role.TRADER,
    )
    assert claims.exp - claims.iat == 60
    assert len(claims.jti) == 32


def test_expiry_and_type_are_enforced() -> None:
    assert _code(_token(), now_s=T0 + 60) == "token_expired"
    assert _code(_token(REFRESH), ACCESS) == "token_invalid"
    assert _code(_token(ACCESS), REFRESH) == "token_invalid"


def test_only_our_key_and_hs256_are_accepted() -> None:
    payload = jwt.decode(_token(), options={"verify_signature": False})
    assert _code(jwt.encode(payload, b"x" * 32, algorithm="HS256")) == "token_invalid"
    assert _code(jwt.encode(payload, SECRET + SECRET, algorithm="HS512")) == "token_invalid"
    assert _code(jwt.encode(payload, None, algorithm="none")) == "token_invalid"
    missing_mfa = {k: v for k, v in payload.items() if k != "mfa"}
    assert _code(jwt.encode(missing_mfa, SECRET, algorithm="HS256")) == "token_invalid"
    bad_role = {**payload, "role": "root"}
    assert _code(jwt.encode(bad_role, SECRET, algorithm="HS256")) == "token_invalid"
    bad_sub = {**payload, "sub": "-1"}
    assert _code(jwt.encode(bad_sub, SECRET, algorithm="HS256")) == "token_invalid"
    assert _code("x" * 5000) == "token_invalid"


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        TokenCodec(b"short")
    assert "0123" not in repr(CODEC)


def test_reprs_never_show_secrets() -> None:
    access, refresh, totp = "a" * 40, "r" * 40, "JBSWY3DPEHPK3PXP"
    pair = TokenPair(access_token=access, refresh_token=refresh, expires_in=900)
    enrolment = MfaEnrolment(secret=totp, otpauth_uri=f"otpauth://totp/Grekko:x?secret={totp}")
    info = ApiKeyInfo("0123456789abcdef", 1, "bot", Role.VIEWER, 0, None, None)
    key = NewApiKey(info=info, key="gk_0123456789abcdef_" + "s" * 43)
    assert access not in repr(pair)
    assert refresh not in repr(pair)
    assert totp not in repr(enrolment)
    assert "s" * 43 not in repr(key)
    assert "0123456789abcdef" in repr(key)  # the id is not secret


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=300),
        st.lists(
            st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789-_", max_size=60),
            min_size=3,
            max_size=3,
        ).map(".".join),
    )
)
def test_garbage_is_always_a_401(text: str) -> None:
    seen: Counter[str] = Counter()
    for typ in (ACCESS, REFRESH):
        try:
            CODEC.decode(text, typ, T0)
        except ApiProblem as problem:
            seen[(problem.status, problem.code)] += 1
    assert seen == Counter({(401, "token_invalid"): 2})
