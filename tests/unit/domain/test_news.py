"""News identity, asset tags and the checking of raw entries, on real headlines of the bundled set."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grekko.core.errors import DataError
from grekko.domain.news import (
    NewsItem,
    NewsQuery,
    NewsRejected,
    RawNews,
    check_raw,
    news_id_for,
    normalise_title,
    normalise_url,
    parse_published,
    sentiment_label,
    tag_assets,
)

DEC_12_0240 = 1_702_348_800_000_000_000  # 2023-12-12T02:40:00Z
VOLCANO_URL = "https://cointelegraph.com/news/el-salvador-volcano-bond-regulatory-approval-targets-launch-q1-2024"


class TestIdentity:
    def test_links_to_one_article_share_an_id(self) -> None:
        variants = [
            VOLCANO_URL,
            VOLCANO_URL + "?utm_source=rss_feed&utm_medium=rss&utm_campaign=rss_partner_inbound",
            VOLCANO_URL + "/#comments",
            VOLCANO_URL.replace("https://cointelegraph.com", "HTTPS://WWW.CoinTelegraph.COM:443"),
            VOLCANO_URL.replace("https://", "http://") + "?fbclid=IwAR0abc",
        ]
        ids = {news_id_for(url, "any title") for url in variants}
        assert len(ids) == 1
        assert len(ids.pop()) == 64

    def test_meaningful_query_parameters_and_paths_are_kept(self) -> None:
        base = "https://example.com/article"
        assert news_id_for(base + "?id=1", "t") != news_id_for(base + "?id=2", "t")
        assert news_id_for(base + "?b=2&a=1", "t") == news_id_for(base + "?a=1&b=2", "t")
        assert news_id_for(base, "t") != news_id_for(base + "-2", "t")

    def test_the_title_is_the_key_only_without_a_usable_url(self) -> None:
        title = "Ledger attacker drained at least $484K"
        assert news_id_for("", title) == news_id_for(
            "", "  LEDGER attacker, drained at least $484K! "
        )
        assert news_id_for("not a url", title) == news_id_for("", title)
        assert news_id_for(VOLCANO_URL, title) != news_id_for("", title)
        with pytest.raises(DataError):
            news_id_for("", " ?! ")

    @pytest.mark.parametrize(
        "url",
        [
            "ftp://example.com/a",
            "javascript:alert(1)",
            "https://localhost/x",
            "https://exa mple.com/",
            "https://example.com:99999/",
            "//example.com/a",
            "example.com/a",
            "",
        ],
    )
    def test_non_http_urls_have_no_normal_form(self, url: str) -> None:
        assert normalise_url(url) is None

    def test_title_normalisation_folds_case_accents_and_punctuation(self) -> None:
        assert (
            normalise_title("Micapass CEO Gintarė Košubienė: AML!")
            == "micapass ceo gintare kosubiene aml"
        )


# (headline from the bundled set, tags)
REAL_HEADLINES = [
    (
        "Ether Supply Hits Lowest Level Since Shanghai Upgrade, Decreasing by Over 309,500 Coins",
        ("ETH",),
    ),
    ("Avalanche was ‘undervalued’ before posting 79% weekly gain: Analysts", ("AVAX",)),
    (
        "Price analysis 12/13: BTC, ETH, BNB, XRP, SOL, ADA, DOGE, AVAX, DOT, MATIC",
        ("ADA", "AVAX", "BNB", "BTC", "DOGE", "DOT", "ETH", "MATIC", "SOL", "XRP"),
    ),
    (
        "Cardano (ADA), Solana (SOL) and Polkadot (DOT) soar — Is it altseason?",
        ("ADA", "DOT", "SOL"),
    ),
    ("Solana-Based Meme Coin BONK Surges 45% after Coinbase Listing", ("BONK", "SOL")),
    ("‘I’m a big fan’ Cantor Fitzgerald CEO praises Tether and Bitcoin", ("BTC", "USDT")),
    ("Celestia to integrate with Polygon CDK for data availability in 2024", ("MATIC", "TIA")),
    (
        "Ripple Releases Framework on the Future of CBDCs Highlights Benefits and Challenges",
        ("XRP",),
    ),
    ("BONK, PEPE and SHIB are a menace to crypto", ("BONK", "PEPE", "SHIB")),
    (
        "Active Addresses on Litecoin Hit New All-Time High 4 Months After LTC Halving: Report",
        ("LTC",),
    ),
    ("Bitcoin ‘Cash Creates’ Model ETFs are a “Done Deal” Says Expert", ("BTC",)),
    ("Red Bull Formula 1 Team Launches NFT Collection on Sui Blockchain", ("SUI",)),
    (
        "Aptos (APT) Token Defies Gravity: Hits June-Level Highs Despite Recent Token Unlock",
        ("APT",),
    ),
    ("Yearn.finance pleads arb traders to return funds after $1.4M multisig mishap", ()),
    ("FOMC Optimism & Spot ETF Buzz Lift BTC to $42,750", ("BTC",)),
    ("Dubai Grants Climate-based AYA Platform Conditional VARA License", ()),
    ("KuCoin to Exit New York and Pay $22 Million in Settlement Deal: Report", ()),
]

TRICKY = [
    ("Whether or not the rally holds, traders moved together", ()),
    ("The ether is full of rumours; Ethereal art sells", ("ETH",)),  # "ether" itself is a name
    ("A new solution for consolidated payments", ()),
    ("Canada’s regulator warns on stablecoins; CANADA ADOPTS RULES", ()),
    ("Protocol bug has a ripple effect across DeFi", ()),
    ("An avalanche of liquidations hit longs overnight", ()),
    ("Avalanche of Liquidations Hits Longs", ()),  # title case: the idiom still guards
    ("Stellar gains for Solana as SOL tops $70", ("SOL",)),
    ("Bitcoin Cash jumps 20% as BCH miners rejoice", ("BCH",)),
    ("Ethereum Classic network stalls", ("ETC",)),
    ("$btc is not a ticker, $BTC and XBT/USD are", ("BTC",)),
    ("BTC/USDT and ETHUSDT order books thin out", ("BTC", "USDT")),
    ("CLICK THIS LINK TO WIN: NEAR THE DOT OF MIDNIGHT", ()),
    ("WHALES BUY $LINK AND (DOT) AS BTC RALLIES", ("BTC", "DOT", "LINK")),
    ("Solanas, solar panels and soldiers", ()),
    ("ADAPT or die: SOLID gains for ETHICS funds", ()),
]


class TestAssetTags:
    @pytest.mark.parametrize(("headline", "tags"), REAL_HEADLINES)
    def test_real_headlines(self, headline: str, tags: tuple[str, ...]) -> None:
        assert tag_assets(headline) == tags

    @pytest.mark.parametrize(("text", "tags"), TRICKY)
    def test_ordinary_words_are_not_tickers(self, text: str, tags: tuple[str, ...]) -> None:
        assert tag_assets(text) == tags

    @given(st.text(max_size=300))
    def test_any_text_gives_sorted_unique_tickers(self, text: str) -> None:
        tags = tag_assets(text)
        assert list(tags) == sorted(set(tags))
        assert all(tag.isupper() and tag.isalnum() for tag in tags)


class TestCheckRaw:
    def raw(self, **changes: object) -> RawNews:
        fields: dict[str, object] = {
            "source": "CoinTelegraph",
            "title": "El Salvador's Volcano Bond gets regulatory approval, targets Q1 launch",
            "summary": "The Volcano Bond was approved by the country's Digital Assets Commission.",
            "url": VOLCANO_URL,
            "published": "2023-12-12T02:40:00",
        }
        fields.update(changes)
        return RawNews(**fields)

    def test_a_good_entry_is_cleaned(self) -> None:
        fields = check_raw(self.raw(title="  El Salvador's\n Volcano   Bond ", summary=None))
        assert fields.title == "El Salvador's Volcano Bond"
        assert fields.summary == ""
        assert fields.published_at == DEC_12_0240
        assert fields.news_id == news_id_for(VOLCANO_URL, "")

    @pytest.mark.parametrize(
        ("changes", "reason"),
        [
            ({"title": None}, "missing_title"),
            ({"title": math.nan}, "missing_title"),
            ({"title": "   "}, "missing_title"),
            ({"title": 42}, "bad_title"),
            ({"title": "bad\x00title"}, "bad_title"),
            ({"title": "x" * 1001}, "title_too_long"),
            # real defects of the source CSV: a row's URL in its title, a stray cell as its URL
            (
                {"title": "https://cryptonews.comhttps://cryptonews.com/news/imf-head.htm"},
                "title_is_url",
            ),
            ({"url": " Telegram"}, "bad_url"),
            ({"url": " 'subjectivity': 0.0}\""}, "bad_url"),
            ({"url": 3.5}, "bad_url"),
            ({"published": "yesterday-ish"}, "bad_published"),
            ({"published": math.nan}, "bad_published"),
            ({"published": math.inf}, "bad_published"),
            ({"published": True}, "bad_published"),
            ({"published": None}, "bad_published"),
            ({"published": [2023]}, "bad_published"),
            ({"published": 0}, "published_out_of_range"),
            ({"published": "2200-01-01T00:00:00Z"}, "published_out_of_range"),
            ({"source": ""}, "bad_source"),
            ({"source": None}, "bad_source"),
            ({"source": "s" * 201}, "bad_source"),
        ],
    )
    def test_bad_entries_are_rejected_with_a_reason(
        self, changes: dict[str, object], reason: str
    ) -> None:
        with pytest.raises(NewsRejected) as caught:
            check_raw(self.raw(**changes))
        assert caught.value.reason == reason

    def test_control_characters_vanish_from_summaries(self) -> None:
        assert check_raw(self.raw(summary="a\x00b\x1bc\ud800")).summary == "a b c"

    @pytest.mark.parametrize(
        "value",
        [
            "2023-12-12T02:40:00Z",
            "2023-12-12T04:40:00+02:00",
            "Tue, 12 Dec 2023 02:40:00 +0000",
            "Tue, 12 Dec 2023 02:40:00 GMT",
            1_702_348_800,
            1_702_348_800_000,
            1_702_348_800_000_000,
            DEC_12_0240,
            1_702_348_800.0,
        ],
    )
    def test_published_time_forms(self, value: object) -> None:
        assert parse_published(value) == DEC_12_0240


class TestItemAndQuery:
    def item(self, **changes: object) -> NewsItem:
        fields: dict[str, object] = {
            "news_id": news_id_for(VOLCANO_URL, ""),
            "published_at": DEC_12_0240,
            "source": "CoinTelegraph",
            "title": "t",
            "summary": "",
            "url": VOLCANO_URL,
            "assets": ("BTC",),
            "sentiment": 0.5,
            "sentiment_label": "positive",
        }
        fields.update(changes)
        return NewsItem(**fields)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "changes",
        [
            {"sentiment": 1.5},
            {"sentiment": math.nan},
            {"sentiment_label": "bullish"},
            {"news_id": "abc"},
            {"assets": ("btc",)},
            {"published_at": -1},
            {"title": ""},
        ],
    )
    def test_an_item_checks_itself(self, changes: dict[str, object]) -> None:
        with pytest.raises(DataError):
            self.item(**changes)

    @pytest.mark.parametrize(
        "changes",
        [
            {"limit": 0},
            {"limit": 10_001},
            {"assets": ("bitcoin",)},
            {"sentiment_label": "meh"},
            {"since": 10, "until": 5},
        ],
    )
    def test_a_query_checks_itself(self, changes: dict[str, object]) -> None:
        with pytest.raises(DataError):
            NewsQuery(**changes)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("compound", "label"),
        [(0.05, "positive"), (0.0499, "neutral"), (-0.0499, "neutral"), (-0.05, "negative")],
    )
    def test_label_thresholds(self, compound: float, label: str) -> None:
        assert sentiment_label(compound) == label
