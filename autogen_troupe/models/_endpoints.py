"""Endpoint presets layered into a resolved model: overrides, the scenario's reference, the user's profile
file, the built-in presets and the embedded default.

Resolution order, highest first: overrides (command-line flags, then TROUPE_* environment variables), the
scenario's (or agent's) model reference, the user's profile file, the built-in presets and the embedded
default. Resolving is pure: it reads the given environment mapping and the profile file, nothing else
(no network, no AutoGen import), so `troupe check` stays fast and tests need no real environment.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr, ValidationError

from .._redact import safe_url
from ..errors import ProfileError
from ..scenario._located import ENV_VAR, expand_env
from ..scenario._schema import ModelRef, ModelSpec
from ._presets import DEFAULT_MODEL, PRESETS, VLLM_ONLY
from ._profile_file import UserFile, available_profiles, read_user_file, user_profiles_path
from ._resolved import ResolvedModel, flat, resolved_from

__all__ = [
    "DEFAULT_MODEL",
    "PRESETS",
    "Overrides",
    "available_profiles",
    "normalize_base_url",
    "resolve_model",
    "user_profiles_path",
]

_MERGED_DICTS = ("headers", "extra_body", "engine_args", "model_info", "capabilities")


# --------------------------------------------------------------------------- overrides


def _clean(value: str | None) -> str | None:
    return value.strip() or None if isinstance(value, str) else value


@dataclass(frozen=True)
class Overrides:
    """Settings that win over every profile: command-line flags, else TROUPE_* environment variables.

    `profile` replaces the scenario's model reference (and every agent's); `base_url`, `model` and
    `api_key` are set on top of whatever was resolved.
    """

    profile: str | None = None
    base_url: str | None = None
    model: str | None = None
    api_key: SecretStr | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("profile", "base_url", "model"):
            object.__setattr__(self, name, _clean(getattr(self, name)))
        key = self.api_key
        if isinstance(key, str):
            key = SecretStr(key) if key.strip() else None
        elif isinstance(key, SecretStr) and not key.get_secret_value().strip():
            key = None
        object.__setattr__(self, "api_key", key)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Overrides:
        """Read TROUPE_PROFILE, TROUPE_BASE_URL, TROUPE_MODEL and TROUPE_API_KEY (empty means unset)."""
        env = os.environ if env is None else env
        return cls(
            profile=env.get("TROUPE_PROFILE"),
            base_url=env.get("TROUPE_BASE_URL"),
            model=env.get("TROUPE_MODEL"),
            api_key=env.get("TROUPE_API_KEY"),  # type: ignore[arg-type]
        )

    def merged(
        self,
        *,
        profile: str | None = None,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | SecretStr | None = None,
    ) -> Overrides:
        """These overrides with the given (flag) values on top; None leaves a value as it is."""
        flags = Overrides(profile=profile, base_url=base_url, model=model, api_key=api_key)  # type: ignore[arg-type]
        return self.under(flags)

    def under(self, other: Overrides) -> Overrides:
        """`other`'s values where set, else these."""
        return Overrides(
            profile=other.profile or self.profile,
            base_url=other.base_url or self.base_url,
            model=other.model or self.model,
            api_key=other.api_key or self.api_key,
        )

    @property
    def empty(self) -> bool:
        return not (self.profile or self.base_url or self.model or self.api_key)


# --------------------------------------------------------------------------- layering


def _deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def _merge(base: Mapping[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    """`layer` over `base` (the keys each sets); nested settings (headers, extra_body, ...) merge by key."""
    out = dict(base)
    if "api_key" in layer or "api_key_env" in layer:
        out.pop("api_key", None)  # a layer naming a key source replaces the whole key source
        out.pop("api_key_env", None)
    for k, v in layer.items():
        if k == "headers" and isinstance(out.get(k), Mapping) and isinstance(v, Mapping):
            lowered = {str(h).lower() for h in v}  # header names are case-insensitive
            out[k] = {h: x for h, x in out[k].items() if str(h).lower() not in lowered} | dict(v)
        elif k in _MERGED_DICTS and isinstance(out.get(k), Mapping) and isinstance(v, Mapping):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


@dataclass
class _Layers:
    """Raw settings merged so far, with which layer set each top-level key (for error messages)."""

    data: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    optional_keys: set[str] = field(default_factory=set)

    def add(self, layer: Mapping[str, Any], label: str) -> None:
        if "api_key" in layer or "api_key_env" in layer:
            self.origin.pop("api_key", None)
            self.origin.pop("api_key_env", None)
        self.data = _merge(self.data, layer)
        self.origin.update(dict.fromkeys(layer, label))


@dataclass
class _Resolver:
    user: UserFile

    def named(self, name: str, into: _Layers, stack: tuple[str, ...] = ()) -> None:
        """Add profile `name`'s layers, base first; `stack` holds the names being resolved."""
        if name in self.user.data and name not in stack:
            self._user(name, into, stack)
        elif name in PRESETS and (name not in stack or stack[-1] == name):
            # A user profile named like a preset may layer on it with `profile: <its own name>`.
            preset = PRESETS[name]
            into.add(preset.data, f"built-in profile {name!r}")
            if preset.optional_key_env:
                into.optional_keys.add(preset.optional_key_env)
        elif name in stack:
            chain = " -> ".join((*stack[stack.index(name) :], name))
            raise ProfileError(
                f"{self.user.where(stack[0])}: profiles refer to each other in a cycle: {chain}"
            )
        else:
            known = sorted(set(PRESETS) | {str(k) for k in self.user.data})
            hint = difflib.get_close_matches(name, known, n=1)
            did = f" (did you mean {hint[0]!r}?)" if hint else ""
            where = ""
            if self.user.path is not None:
                where = f"; profile file: {self.user.path}" + (
                    "" if self.user.data else " (missing or empty)"
                )
            raise ProfileError(f"unknown model profile {name!r}{did}; known: {', '.join(known)}{where}")

    def _user(self, name: str, into: _Layers, stack: tuple[str, ...]) -> None:
        raw = self.user.data[name]
        raw = {} if raw is None else raw
        if not isinstance(raw, dict):
            raise ProfileError(
                f"{self.user.where(name)}: profile {name!r} must be a mapping of settings "
                f"(provider, base_url, model, ...), got {type(raw).__name__}"
            )
        unknown = [k for k in raw if k not in ModelSpec.model_fields]
        if unknown:
            lines = []
            for k in unknown:
                close = difflib.get_close_matches(str(k), ModelSpec.model_fields, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                lines.append(f"{self.user.where(name, k)}: profile {name!r}: unknown setting {k!r}{hint}")
            raise ProfileError("bad profile file:\n" + "\n".join(lines))
        layer = dict(raw)
        if isinstance(layer.get("headers"), dict):  # `x-genos-user-id: 653` is a number in YAML
            layer["headers"] = {k: _header_text(v) for k, v in layer["headers"].items()}
        parent = layer.pop("profile", None)
        if parent is not None:
            if not isinstance(parent, str):
                raise ProfileError(
                    f"{self.user.where(name, 'profile')}: profile {name!r}: 'profile' must be a name"
                )
            self.named(parent, into, (*stack, name))
        into.add(layer, f"profile {name!r} ({self.user.where(name)})")


def _header_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else value


# --------------------------------------------------------------------------- resolving


def normalize_base_url(url: str) -> str:
    """Add `/v1` to a bare `scheme://host[:port]`, collapse doubled slashes, drop a trailing slash."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProfileError(f"base_url {safe_url(url)!r} must be an http:// or https:// URL")
    path = re.sub(r"/{2,}", "/", parts.path).rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, path or "/v1", parts.query, parts.fragment))


def _expand(value: Any, env: Mapping[str, str], missing: list[str]) -> Any:
    if isinstance(value, str) and "${" in value:
        lost = [
            m.group(1) for m in ENV_VAR.finditer(value) if m.group(2) is None and env.get(m.group(1)) is None
        ]
        if lost:
            missing.extend(lost)
            return ""
        return expand_env(value, env)
    if isinstance(value, Mapping):
        return {k: _expand(v, env, missing) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_expand(v, env, missing) for v in value]
    return value


def _blank(v: Any) -> bool:
    if isinstance(v, SecretStr):
        v = v.get_secret_value()
    return isinstance(v, str) and not v.strip()


def resolve_model(
    ref: ModelRef | None,
    *,
    overrides: Overrides | None = None,
    env: Mapping[str, str] | None = None,
    profiles_path: Path | None = None,
    parent: ModelRef | None = None,
    offline: bool = False,
) -> ResolvedModel:
    """A fully resolved, typed model (`OpenAIModel`, `VllmModel`, `ReplayModel`): variables expanded,
    layers merged, key looked up.

    `offline` resolves only what decides a model's answers (model, request settings, context length) for a
    replay: no key is looked up, and unset variables leave their settings out instead of failing.

    `ref` is a profile name or an inline spec. An inline spec naming none of `profile`, `provider`,
    `base_url` layers on `parent` (e.g. an agent's settings on the scenario's model), else on `default`.
    The API key is read from `env` here, so the result is self-contained; `redacted()` strips it.
    """
    env = os.environ if env is None else env
    overrides = overrides or Overrides()
    resolver = _Resolver(read_user_file(profiles_path or user_profiles_path(env)))
    layers = _Layers()
    ref = overrides.profile or ("default" if ref is None else ref)
    label = _layer_reference(
        ref, parent, resolver, layers, env=env, profiles_path=profiles_path, offline=offline
    )
    name = label or "inline"
    _layer_overrides(overrides, layers)
    data, missing = _expanded(layers, env, name)
    _set_provider(data, name, missing, offline=offline)
    if offline:
        missing.clear()
        data.pop("api_key", None)
    elif data.get("provider") == "openai":
        _look_up_key(data, env, layers, name, missing)
    if missing:
        listed = "; ".join(f"{var} ({why})" for var, why in missing.items())
        what = "variables" if len(missing) > 1 else "variable"
        raise ProfileError(
            f"model profile {name!r} needs the environment {what} {listed}. "
            f"Set {'them' if len(missing) > 1 else 'it'}, "
            "or choose another profile with --profile / TROUPE_PROFILE"
        )
    if data.get("provider") == "openai":
        if data.get("base_url"):
            data["base_url"] = normalize_base_url(str(data["base_url"]))
        elif not offline:
            raise ProfileError(f"model {name!r} uses provider 'openai' but has no base_url")
    data["profile"] = label
    return _checked(data, layers, name)


def _layer_reference(
    ref: ModelRef,
    parent: ModelRef | None,
    resolver: _Resolver,
    layers: _Layers,
    **parent_settings: Any,
) -> str | None:
    """Layer a profile name, or an inline spec on what it builds on; returns the profile's name."""
    if isinstance(ref, str):
        resolver.named(ref, layers)
        return ref
    inline = ref.model_dump(exclude_unset=True)
    label = inline.pop("profile", None)
    if label:
        resolver.named(label, layers)
    elif "provider" not in inline and "base_url" not in inline:
        if parent is not None:  # an agent's settings on the scenario's model
            base = resolve_model(parent, **parent_settings)
            label = base.profile
            inherited = flat(base)
            inherited.pop("profile", None)
            layers.add(inherited, f"model {label!r}")
            layers.optional_keys.add(inherited.get("api_key_env") or "")
        else:
            label = "default"
            resolver.named(label, layers)
    layers.add(inline, "the scenario's model settings")
    return label


def _layer_overrides(overrides: Overrides, layers: _Layers) -> None:
    data = layers.data
    if overrides.base_url:
        if data.get("provider") in (None, "vllm"):
            # Another server serves other models (discover them) and needs no engine settings; the
            # embedded default's sampling settings suit only its small model.
            for k in list(data):
                if k in (*VLLM_ONLY, "model") or layers.origin.get(k) == "built-in profile 'default'":
                    data.pop(k)
            data["provider"] = "openai"
        layers.add({"base_url": overrides.base_url}, "the base URL override (--base-url / TROUPE_BASE_URL)")
    if overrides.model:
        layers.add({"model": overrides.model}, "the model override (--model / TROUPE_MODEL)")
    if overrides.api_key:
        layers.add({"api_key": overrides.api_key}, "the API key override (TROUPE_API_KEY)")


def _expanded(layers: _Layers, env: Mapping[str, str], name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The layered data with ${VAR} expanded; `${VAR:-}` settings that came out empty count as unset, and
    variables that are unset where a value is needed are returned with the setting that needs them."""
    data = layers.data
    missing: dict[str, str] = {}
    for k in list(data):
        lost: list[str] = []
        data[k] = _expand(data[k], env, lost)
        for var in lost:
            missing.setdefault(var, f"{k}, from {layers.origin.get(k, name)}")
    data = {k: v for k, v in data.items() if not _blank(v)}
    if isinstance(data.get("headers"), Mapping):
        data["headers"] = {h: v for h, v in data["headers"].items() if not _blank(v)}
    return data, missing


def _set_provider(data: dict[str, Any], name: str, missing: Mapping[str, str], *, offline: bool) -> None:
    if data.get("provider"):
        return
    if data.get("base_url"):
        data["provider"] = "openai"
    elif data.get("cassette"):
        data["provider"] = "replay"
    elif not missing and not offline:
        raise ProfileError(f"model {name!r} has neither provider nor base_url; give one of them")
    else:  # offline, a variable unset: an endpoint whose URL this machine does not know
        data["provider"] = "openai"


def _look_up_key(
    data: dict[str, Any], env: Mapping[str, str], layers: _Layers, name: str, missing: dict[str, str]
) -> None:
    key_env = data.get("api_key_env")
    if data.get("api_key") is not None or not key_env:
        return
    value = env.get(key_env, "").strip()
    if value:
        data["api_key"] = SecretStr(value)
    elif key_env not in layers.optional_keys:
        missing.setdefault(key_env, f"the API key, from {layers.origin.get('api_key_env', name)}")


def _checked(data: dict[str, Any], layers: _Layers, name: str) -> ResolvedModel:
    """The file format's checks on the layered data, naming where each bad value came from; then typed."""
    try:
        checked = ModelSpec.model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            key = ".".join(str(p) for p in err["loc"])
            origin = layers.origin.get(str(err["loc"][0]), name) if err["loc"] else name
            lines.append(f"{key}: {err['msg']} (set by {origin})")
        raise ProfileError(f"model profile {name!r} is invalid:\n" + "\n".join(lines)) from None
    return resolved_from(checked.model_dump(exclude_unset=True))
