"""The travel server's data and lookups, with no MCP in sight so they test on their own.

The JSON files under `data/` are illustrative and dated (each carries `source` and `as_of`); names are
matched leniently (case, accents, ISO codes, aliases) because a model will spell them every which way.
"""

from __future__ import annotations

import difflib
import json
import math
import unicodedata
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

from ...scenario._base import Frozen

__all__ = [
    "TOPICS",
    "Conversion",
    "CountryFacts",
    "Currency",
    "NotFound",
    "Phrase",
    "PhraseBook",
    "TimeZone",
    "TravelData",
    "load_travel_data",
]

TOPICS = ("greetings", "thanks", "help", "prices", "directions")

_TOPIC_SYNONYMS = {
    "greeting": "greetings",
    "hello": "greetings",
    "hi": "greetings",
    "goodbye": "greetings",
    "thank": "thanks",
    "thank you": "thanks",
    "thankyou": "thanks",
    "gratitude": "thanks",
    "emergency": "help",
    "emergencies": "help",
    "price": "prices",
    "shopping": "prices",
    "money": "prices",
    "bargaining": "prices",
    "direction": "directions",
    "way": "directions",
    "getting around": "directions",
}


class NotFound(LookupError):
    """A country, language, currency or topic the data does not know; the message lists close matches."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.message,)


class Currency(Frozen):
    code: str
    name: str


class TimeZone(Frozen):
    zone: str
    utc_offset: str
    summer_time: bool = False


class CountryFacts(Frozen):
    name: str
    iso2: str
    iso3: str
    capital: str
    languages: tuple[str, ...]
    currency: Currency
    time_zones: tuple[TimeZone, ...]
    plug_types: tuple[str, ...]
    voltage: str
    emergency_numbers: dict[str, str]
    notes: str | None = None
    as_of: str
    source: str


class Conversion(Frozen):
    amount: float
    from_currency: Currency
    to_currency: Currency
    rate: float
    converted: float
    summary: str
    as_of: str
    source: str


class Phrase(Frozen):
    phrase: str
    romanization: str | None = None
    meaning: str


class PhraseBook(Frozen):
    language: str
    language_code: str
    script: str
    country: str | None = None
    other_languages: tuple[str, ...] = ()
    note: str | None = None
    topics: dict[str, tuple[Phrase, ...]]
    as_of: str
    source: str


def _norm(text: str) -> str:
    """Casefold, drop accents and punctuation noise, collapse spaces: 'Türkiye ' -> 'turkiye'."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = (
        plain.replace("\u2019", "'").replace(".", "").replace(",", " ").replace("-", " ").replace("_", " ")
    )
    plain = " ".join(plain.split())
    return plain[4:] if plain.startswith("the ") else plain


def _money(x: float) -> str:
    return f"{x:,.2f}" if x >= 1 or x == 0 else f"{x:.3g}"


def _suggest(query: str, choices: Mapping[str, str], what: str, *, show_all: Iterable[str] = ()) -> NotFound:
    """An error naming `query` and the closest entries of `choices` (normalised key -> display name)."""
    close = difflib.get_close_matches(_norm(query), list(choices), n=8, cutoff=0.6)
    names = list(dict.fromkeys(choices[k] for k in close))[:5]
    if names:
        hint = "Did you mean: " + ", ".join(names) + "?"
    else:
        known = sorted(set(show_all))
        hint = "Known: " + ", ".join(known) + "." if known else ""
    return NotFound(f"Unknown {what} {query!r}. {hint}".strip())


class TravelData:
    """Countries, exchange rates and phrases loaded from the package's JSON files."""

    def __init__(
        self, countries: Mapping[str, Any], rates: Mapping[str, Any], phrases: Mapping[str, Any]
    ) -> None:
        self.countries_doc = countries
        self.rates_doc = rates
        self.phrases_doc = phrases
        self._countries: dict[str, dict[str, Any]] = {c["iso2"]: c for c in countries["countries"]}
        self._currencies: dict[str, dict[str, Any]] = dict(rates["currencies"])
        self._languages: dict[str, dict[str, Any]] = dict(phrases["languages"])

        self._country_keys: dict[str, str] = {}  # normalised name/alias/code -> iso2
        for iso2, c in self._countries.items():
            for key in (c["name"], iso2, c["iso3"], *c.get("aliases", ())):
                self._country_keys.setdefault(_norm(key), iso2)

        self._language_keys: dict[str, str] = {}  # normalised name/alias/code -> language code
        for code, lang in self._languages.items():
            for key in (code, lang["name"], *lang.get("aliases", ())):
                self._language_keys.setdefault(_norm(key), code)

        self._currency_keys: dict[str, str] = {}  # normalised code/name/unique last word -> ISO code
        self._ambiguous: dict[str, list[str]] = {}  # 'dollar' -> several codes
        last_words: dict[str, set[str]] = {}
        for code, cur in self._currencies.items():
            self._currency_keys[_norm(code)] = code
            self._currency_keys[_norm(cur["name"])] = code
            last_words.setdefault(_norm(cur["name"]).split()[-1], set()).add(code)
        for word, codes in last_words.items():
            if len(codes) == 1:
                self._currency_keys.setdefault(word, next(iter(codes)))
            else:
                self._ambiguous[word] = sorted(codes)

    # ------------------------------------------------------------------ lookups

    def country_names(self) -> list[str]:
        return sorted(c["name"] for c in self._countries.values())

    def find_country(self, query: str) -> dict[str, Any]:
        """The country record for a name, alias, or ISO 3166 alpha-2/alpha-3 code."""
        iso2 = self._country_keys.get(_norm(query))
        if iso2 is None:
            display = {k: self._countries[v]["name"] for k, v in self._country_keys.items()}
            raise _suggest(query, display, "country", show_all=self.country_names())
        return self._countries[iso2]

    def find_currency(self, query: str) -> str:
        """An ISO 4217 code for a code, a currency name, or a country (its currency)."""
        key = _norm(query)
        code = self._currency_keys.get(key) or self._currency_keys.get(key.removesuffix("s"))
        if code is None and key in self._country_keys:
            code = self._countries[self._country_keys[key]]["currency"]
        if code is None and (key in self._ambiguous or key.removesuffix("s") in self._ambiguous):
            codes = self._ambiguous.get(key) or self._ambiguous[key.removesuffix("s")]
            named = ", ".join(f"{c} ({self._currencies[c]['name']})" for c in codes)
            raise NotFound(f"Currency {query!r} is ambiguous; use an ISO code: {named}.")
        if code is None:
            display = {k: f"{v} ({self._currencies[v]['name']})" for k, v in self._currency_keys.items()}
            raise _suggest(query, display, "currency", show_all=self._currencies)
        return code

    def find_language(self, query: str) -> tuple[str, dict[str, Any] | None]:
        """A phrase-language code for a language name or code, or for a country (its main language)."""
        key = _norm(query)
        if key in self._language_keys:
            return self._language_keys[key], None
        if key in self._country_keys:
            country = self._countries[self._country_keys[key]]
            return country["phrase_language"], country
        display = {k: self._languages[v]["name"] for k, v in self._language_keys.items()}
        display |= {k: self._countries[v]["name"] for k, v in self._country_keys.items()}
        languages = (x["name"] for x in self._languages.values())
        err = _suggest(query, display, "country or language", show_all=languages)
        raise NotFound(f"{err.message} Countries work too (see country_facts).")

    # ------------------------------------------------------------------ answers

    def country_facts(self, country: str) -> CountryFacts:
        c = self.find_country(country)
        code = c["currency"]
        return CountryFacts(
            name=c["name"],
            iso2=c["iso2"],
            iso3=c["iso3"],
            capital=c["capital"],
            languages=tuple(c["languages"]),
            currency=Currency(code=code, name=self._currencies[code]["name"]),
            time_zones=tuple(TimeZone.model_validate(z) for z in c["time_zones"]),
            plug_types=tuple(c["plug_types"]),
            voltage=c["voltage"],
            emergency_numbers=dict(c["emergency_numbers"]),
            notes=c.get("notes"),
            as_of=self.countries_doc["as_of"],
            source=self.countries_doc["source"],
        )

    def convert(self, amount: float, from_currency: str, to_currency: str) -> Conversion:
        if not math.isfinite(amount) or amount < 0:
            raise NotFound(f"Amount must be a finite number of zero or more, got {amount!r}.")
        src, dst = self.find_currency(from_currency), self.find_currency(to_currency)
        rate = self._currencies[dst]["per_usd"] / self._currencies[src]["per_usd"]
        exact = amount * rate
        converted = round(exact, 2) if exact >= 1 or exact == 0 else float(f"{exact:.3g}")
        rate = float(f"{rate:.6g}")
        as_of = self.rates_doc["as_of"]
        return Conversion(
            amount=amount,
            from_currency=Currency(code=src, name=self._currencies[src]["name"]),
            to_currency=Currency(code=dst, name=self._currencies[dst]["name"]),
            rate=rate,
            converted=converted,
            summary=f"{_money(amount)} {src} = {_money(converted)} {dst} (1 {src} = {rate:g} {dst}; "
            f"illustrative rate as of {as_of})",
            as_of=as_of,
            source=self.rates_doc["source"],
        )

    def phrases(self, country_or_language: str, topic: str = "all") -> PhraseBook:
        code, country = self.find_language(country_or_language)
        wanted = self._topics(topic)
        lang = self._languages[code]
        others: tuple[str, ...] = ()
        if country is not None:
            others = tuple(x for x in country["languages"] if x != lang["name"])
        return PhraseBook(
            language=lang["name"],
            language_code=code,
            script=lang["script"],
            country=country["name"] if country is not None else None,
            other_languages=others,
            note=lang.get("note"),
            topics={t: tuple(Phrase.model_validate(p) for p in lang["topics"][t]) for t in wanted},
            as_of=self.phrases_doc["as_of"],
            source=self.phrases_doc["source"],
        )

    @staticmethod
    def _topics(topic: str) -> tuple[str, ...]:
        key = _norm(topic)
        if key in ("", "all", "any", "everything"):
            return TOPICS
        key = _TOPIC_SYNONYMS.get(key, key)
        if key in TOPICS:
            return (key,)
        choices = {t: t for t in TOPICS} | {k: v for k, v in _TOPIC_SYNONYMS.items()}
        err = _suggest(topic, choices, "topic")
        raise NotFound(f"{err.message} Topics: {', '.join(TOPICS)}, or 'all'.")


def _read(name: str) -> dict[str, Any]:
    data = resources.files(__package__) / "data" / name  # Traversable.joinpath takes one name on 3.10
    return json.loads(data.read_text(encoding="utf-8"))


@cache
def load_travel_data() -> TravelData:
    """The data shipped in the package, read once per process."""
    return TravelData(_read("countries.json"), _read("rates.json"), _read("phrases.json"))
