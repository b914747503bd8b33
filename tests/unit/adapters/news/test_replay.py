"""The bundled news set, replayed in time order: repairs, pacing by a clock, malformed files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from grekko.adapters.news.replay import (
    BUNDLED_NEWS,
    NewsReplay,
    parse_news_csv,
    read_news_file,
    repair_mojibake,
    repair_text,
    repair_url,
)
from grekko.core.errors import DataError
from grekko.core.time import NS_PER_S, iso_to_ns
from shared_data import shared_file

HEADER = "date,sentiment,source,subject,text,title,url,sentiment_class,polarity,subjectivity\n"


def test_the_bundled_file_is_the_shared_data_set() -> None:
    original = shared_file("news_sentiment", "cryptonews_sentiment.csv.gz")
    assert BUNDLED_NEWS.read_bytes() == original.read_bytes()


def test_the_bundled_set_replays_in_time_order_with_its_defects_repaired() -> None:
    replay = NewsReplay()
    assert len(replay) == replay.rows == 270
    assert not replay.rejected
    times = [raw.published for raw in replay]
    assert times == sorted(times)  # type: ignore[type-var]
    assert times[0] == iso_to_ns("2023-12-12T00:03:00Z")
    # the README's 21:10 end is a date inside one of the broken rows, not a row's own date
    assert times[-1] == iso_to_ns("2023-12-15T20:42:00Z")
    texts = [f"{raw.title} {raw.summary}" for raw in replay]
    assert not any("â€" in text or "\\xa0" in text or "\\r\\n" in text for text in texts)
    urls = [str(raw.url) for raw in replay]
    assert not any("comhttps" in url for url in urls)
    assert {raw.source for raw in replay} == {"CryptoNews", "CoinTelegraph", "CryptoPotato"}
    first = replay.items[0]
    assert first.title == "Crypto Exchange Listing and Delisting Announcements: December 11, 2023"
    assert first.url == (
        "https://cryptonews.com/news/crypto-exchange-listing-and-delisting-announcements-december-11-2023.htm"
    )


def test_pop_due_follows_a_clock() -> None:
    replay = NewsReplay()
    assert replay.pop_due(iso_to_ns("2023-12-11T23:59:00Z")) == []
    first_hour = replay.pop_due(iso_to_ns("2023-12-12T01:00:00Z"))
    assert [raw.title for raw in first_hour] == [
        "Crypto Exchange Listing and Delisting Announcements: December 11, 2023",
        "Russian Central Bank Tempers Talk of 2024 Digital Ruble Rollout",
    ]
    assert replay.pop_due(iso_to_ns("2023-12-12T01:00:00Z")) == []  # never handed out twice
    rest = replay.pop_due(iso_to_ns("2024-01-01T00:00:00Z"))
    assert len(rest) == 268
    assert replay.remaining == 0


def test_paced_replay_waits_the_real_gaps_divided_by_speed() -> None:
    replay = NewsReplay()
    waits: list[float] = []
    delivered = list(replay.paced(60.0, sleep=waits.append, max_wait_s=30.0))
    assert delivered == replay.items
    gaps = [
        (b.published - a.published) / NS_PER_S / 60.0  # type: ignore[operator]
        for a, b in zip(replay.items, replay.items[1:], strict=False)
        if b.published != a.published
    ]
    assert waits == [min(gap, 30.0) for gap in gaps]
    assert waits[0] == pytest.approx(27 * 60 / 60.0)  # 00:03 -> 00:30 at 60x
    with pytest.raises(DataError):
        next(replay.paced(0))


@pytest.mark.parametrize(
    ("broken", "repaired"),
    [
        (
            "https://cryptonews.comhttps://cryptonews.com/news/x.htm",
            "https://cryptonews.com/news/x.htm",
        ),
        ("https://cointelegraph.com/news/x", "https://cointelegraph.com/news/x"),
        (" Telegram", "Telegram"),
    ],
)
def test_repair_url(broken: str, repaired: str) -> None:
    assert repair_url(broken) == repaired


@pytest.mark.parametrize(
    ("broken", "repaired"),
    [  # all from the bundled set
        ("Avalanche was â€˜undervaluedâ€?before posting", "Avalanche was ‘undervalued’ before posting"),
        ("Russia-China CBDC Payments May Debut in 2024 â€?Moscow", "Russia-China CBDC Payments May Debut in 2024 — Moscow"),
        ("Coinbase's â€œsimple modeâ€?lets users", "Coinbase's “simple mode” lets users"),
        ("Sam Bankman-Friedâ€™s lawyer", "Sam Bankman-Fried’s lawyer"),
        ("â€œDone Dealâ€?Says Expert", "“Done Deal” Says Expert"),
        ("Ponzi scheme.â€\ufffd", "Ponzi scheme.—"),
    ],
)  # fmt: skip
def test_repair_mojibake(broken: str, repaired: str) -> None:
    assert repair_mojibake(broken) == repaired


def test_repair_text_turns_written_out_escapes_into_spaces() -> None:
    assert repair_text("Privacy\\xa0") == "Privacy "
    assert repair_text("scheme.\\r\\n\\r\\nCited") == "scheme.    Cited"


def _csv(*rows: str) -> bytes:
    return (HEADER + "".join(rows)).encode()


def test_bad_rows_are_counted_not_raised() -> None:
    good = "2023-12-12T00:30:00,{},CryptoNews,altcoin,Summary,Title,https://a.com/1,neutral,0,0\n"
    data = _csv(
        good,
        "not a date,{},CryptoNews,altcoin,Summary,Title,https://a.com/2,neutral,0,0\n",
        "2023-12-12T00:31:00,{},CryptoNews\n",  # cut short
        "2023-12-12T00:31:00,{},a,b,c,d,e,f,g,h,i,j\n",  # too long
        "\n",
        "2023-12-12T00:20:00,{},,altcoin,Summary,Earlier,https://a.com/3,neutral,0,0\n",
    )
    parsed = parse_news_csv(data)
    assert [raw.title for raw in parsed.items] == ["Earlier", "Title"]
    assert parsed.items[0].source == "replay"
    assert parsed.rows == 5
    assert parsed.rejected == {"bad_published": 1, "wrong_field_count": 2}


def test_gzip_and_plain_files_read_the_same(tmp_path: Path) -> None:
    plain = gzip.decompress(BUNDLED_NEWS.read_bytes())
    path = tmp_path / "news.csv"
    path.write_bytes(plain)
    assert read_news_file(path).items == read_news_file(BUNDLED_NEWS).items


@pytest.mark.parametrize(
    "data",
    [b"", b"title,url\nx,y\n", b"\x1f\x8bnot really gzip", b"\x00\x01\x02"],
)
def test_a_file_that_is_not_a_news_csv_is_a_data_error(data: bytes) -> None:
    with pytest.raises(DataError):
        parse_news_csv(data)


def test_a_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        NewsReplay(tmp_path / "missing.csv.gz")
