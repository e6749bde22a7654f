"""Device profiles at edge start: from the cloud, else the last cached copy, else built in.

The cloud serves the profiles it validates commands against (DESIGN section
6), so the edge prefers them; it keeps the last good copy on disk so that it
starts with the same profiles when the cloud is unreachable.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Literal

import httpx

from ems.edge.config import EdgeConfig
from ems.edge.link.endpoints import PROFILES_PATH, cloud_endpoints
from ems.errors import ProfileError
from ems.profiles import DeviceProfile, builtin_profiles, load_profiles, parse_profile

__all__ = [
    "ProfileSource",
    "fetch_profiles",
    "load_profiles_for_start",
    "profile_cache_dir",
    "refresh_profile_cache",
]

log = logging.getLogger(__name__)

ProfileSource = Literal["cloud", "cache", "builtin"]

# A profile type becomes a file name: only lower_snake, never a path.
_TYPE_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


def profile_cache_dir(cache_dir: Path) -> Path:
    """Where the last profiles fetched from the cloud are kept."""
    return cache_dir / "profiles"


async def fetch_profiles(
    http_base: str,
    cache_dir: Path,
    client: httpx.AsyncClient,
    *,
    required: Collection[str] = (),
    timeout_s: float = 10.0,
) -> tuple[dict[str, DeviceProfile], ProfileSource]:
    """Fetch every profile from ``GET {http_base}/api/profiles`` and cache it.

    On any failure (cloud unreachable, HTTP error, an invalid profile, or a
    ``required`` type missing) the cached copy under ``cache_dir/profiles`` is
    used, and without a usable cache the built-in profiles, with a warning.
    A source is used whole or not at all: profiles from two sources could
    disagree with each other. Returns the profiles by type and their source.
    Never raises for network or cache trouble.
    """
    url = http_base.rstrip("/") + PROFILES_PATH
    directory = profile_cache_dir(cache_dir)
    try:
        documents, profiles = await _download(url, client, timeout_s)
        _require(profiles, required, url)
    except (httpx.HTTPError, ValueError, ProfileError) as exc:
        log.warning("cannot use profiles from %s: %s", url, _describe(exc))
    else:
        _save(directory, documents)
        log.info("profiles from the cloud: %s", ", ".join(sorted(profiles)))
        return profiles, "cloud"
    try:
        profiles = load_profiles(directory)
        _require(profiles, required, str(directory))
    except ProfileError as exc:
        log.warning("no usable cached profiles (%s); using the built-in profiles", exc)
        return dict(builtin_profiles()), "builtin"
    log.warning("cloud profiles unavailable: using the cached copy in %s", directory)
    return profiles, "cache"


async def load_profiles_for_start(
    config: EdgeConfig,
    cache_dir: Path,
    client: httpx.AsyncClient,
    *,
    url: str | None = None,
) -> tuple[dict[str, DeviceProfile], ProfileSource]:
    """The profiles to build the edge with, before the link connects.

    ``url`` (the ``--cloud`` flag) overrides ``config.cloud.url``; without
    either the edge runs standalone on the built-in profiles.
    """
    base = url or config.cloud.url
    if base is None:
        return dict(builtin_profiles()), "builtin"
    required = {device.profile for device in config.devices}
    return await fetch_profiles(
        cloud_endpoints(base).http_base, cache_dir, client, required=required
    )


async def refresh_profile_cache(
    http_base: str,
    cache_dir: Path,
    client: httpx.AsyncClient,
    *,
    timeout_s: float = 10.0,
) -> dict[str, DeviceProfile] | None:
    """Download the cloud's profiles into the cache (for the next start); ``None`` on failure.

    For a running edge, which cannot swap profiles: it only keeps the cache
    fresh, so a failure is logged at INFO and nothing falls back.
    """
    url = http_base.rstrip("/") + PROFILES_PATH
    try:
        documents, profiles = await _download(url, client, timeout_s)
    except (httpx.HTTPError, ValueError, ProfileError) as exc:
        log.info("profile cache not refreshed from %s: %s", url, _describe(exc))
        return None
    _save(profile_cache_dir(cache_dir), documents)
    return profiles


async def _download(
    url: str, client: httpx.AsyncClient, timeout_s: float
) -> tuple[dict[str, Any], dict[str, DeviceProfile]]:
    response = await client.get(url, timeout=timeout_s, headers={"Accept": "application/json"})
    response.raise_for_status()
    body = response.json()
    documents = body.get("profiles") if isinstance(body, dict) else None
    if not isinstance(documents, dict) or not documents:
        raise ProfileError(f"{url}: expected {{'profiles': {{type: profile, …}}}}")
    profiles: dict[str, DeviceProfile] = {}
    for name, document in documents.items():
        if not _TYPE_RE.fullmatch(name):
            raise ProfileError(f"{url}: invalid profile type {name[:40]!r}")
        profile = parse_profile(document, f"{url} profiles.{name}")
        if profile.type != name:
            raise ProfileError(f"{url}: profiles.{name} has type {profile.type!r}")
        profiles[name] = profile
    return documents, profiles


def _require(profiles: Mapping[str, DeviceProfile], required: Collection[str], where: str) -> None:
    missing = sorted(set(required) - set(profiles))
    if missing:
        raise ProfileError(f"{where}: no profile for {', '.join(missing)}")


def _save(directory: Path, documents: Mapping[str, Any]) -> None:
    """Replace the cache with ``documents``; a failed write keeps the edge running."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, document in documents.items():
            _write_atomic(directory / f"{name}.json", document)
        # Types the cloud no longer serves go too: the cache is the last copy, whole.
        for stale in directory.glob("*.json"):
            if stale.stem not in documents:
                stale.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("cannot cache profiles in %s: %s", directory, exc)


def _write_atomic(path: Path, document: object) -> None:
    """Write to a temporary file in the same directory, then rename over ``path``:
    a crash leaves either the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=2, ensure_ascii=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return str(exc)
