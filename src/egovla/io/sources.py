"""Where footage comes from: local files, folders, or s3:// prefixes (any S3-compatible endpoint).

Each source yields ``Source`` items; a source that cannot be reached becomes a ``SourceError``
item instead of an exception, so one bad uri never stops a batch.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

# Files beside footage that are plainly not media (sidecars, notes, tables): counted as ignored, not
# probed. Everything else is probed by content: what decodes as video is footage, whatever its name.
NON_MEDIA_SUFFIXES = {
    ".json",
    ".txt",
    ".md",
    ".csv",
    ".tsv",
    ".yaml",
    ".yml",
    ".npz",
    ".npy",
    ".parquet",
    ".pt",
    ".safetensors",
    ".log",
    ".xml",
    ".html",
    ".pdf",
}


def is_non_media(name: str) -> bool:
    """Sidecars and other obvious non-media (and hidden files such as .DS_Store)."""
    base = Path(name).name
    return base.startswith(".") or Path(base).suffix.lower() in NON_MEDIA_SUFFIXES


@dataclass(frozen=True)
class Source:
    uri: str
    local_path: Path | None = None  # set for local files
    bucket: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class SourceError:
    uri: str
    reason: str


@dataclass(frozen=True)
class S3Settings:
    endpoint_url: str | None = None  # None: boto3's own resolution (AWS_ENDPOINT_URL, config files)
    connect_timeout_s: float = 3.0
    attempts: int = 3


def s3_client(settings: S3Settings):
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=settings.connect_timeout_s, read_timeout=60, retries={"max_attempts": 1, "mode": "standard"}
    )
    return boto3.client("s3", endpoint_url=settings.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"), config=config)


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _is_transient(exc: BaseException) -> bool:
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import EndpointConnectionError

    return isinstance(exc, (EndpointConnectionError, BotoConnectionError, ConnectionError))


def _with_retries(settings: S3Settings):
    return retry(
        retry=retry_if_exception(_is_transient),
        stop=stop_after_attempt(settings.attempts),
        wait=wait_exponential(multiplier=0.2, max=2),
        reraise=True,
    )


def describe_s3_error(exc: Exception, uri: str) -> str:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in {"404", "NoSuchKey", "NotFound"}:
            return f"s3 object not found: {uri}"
        if code == "NoSuchBucket":
            return f"s3 bucket does not exist: {uri}"
        return f"s3 error {code} for {uri}: {exc}"
    if _is_transient(exc):
        return f"s3 endpoint unreachable for {uri}: {exc}"
    return f"s3 failure for {uri}: {type(exc).__name__}: {exc}"


def iter_sources(uris: list[str], s3: S3Settings | None = None) -> Iterator[Source | SourceError]:
    s3 = s3 or S3Settings()
    for uri in uris:
        if uri.startswith("s3://"):
            yield from _iter_s3(uri, s3)
            continue
        path = Path(uri)
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                yield Source(uri=str(file), local_path=file)
        elif path.is_file():
            yield Source(uri=str(path), local_path=path)
        else:
            yield SourceError(uri=uri, reason=f"file not found: {uri}")


def _iter_s3(uri: str, settings: S3Settings) -> Iterator[Source | SourceError]:
    bucket, prefix = split_s3_uri(uri)
    client = s3_client(settings)

    @_with_retries(settings)
    def list_keys() -> list[str]:
        keys: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [obj["Key"] for obj in page.get("Contents", [])]
        return keys

    try:
        keys = list_keys()
    except Exception as exc:
        yield SourceError(uri=uri, reason=describe_s3_error(exc, uri))
        return
    if not keys:
        yield SourceError(uri=uri, reason=f"s3 object not found: nothing under {uri}")
    for key in sorted(k for k in keys if not k.endswith("/")):
        yield Source(uri=f"s3://{bucket}/{key}", bucket=bucket, key=key)


class FetchError(Exception):
    pass


def fetch(source: Source, workdir: Path, s3: S3Settings | None = None) -> Path:
    """Returns a local path for the source (downloading s3 objects into ``workdir``)."""
    if source.local_path is not None:
        return source.local_path
    settings = s3 or S3Settings()
    client = s3_client(settings)
    fd, tmp = tempfile.mkstemp(dir=workdir, suffix=Path(source.key or "").suffix)
    os.close(fd)

    @_with_retries(settings)
    def download() -> None:
        client.download_file(source.bucket, source.key, tmp)

    try:
        download()
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        raise FetchError(describe_s3_error(exc, source.uri)) from exc
    return Path(tmp)


def fetch_sibling(source: Source, suffix: str, workdir: Path, s3: S3Settings | None = None) -> Path | None:
    """The file beside a source with its suffix replaced (``clip.mp4`` -> ``clip.json``), or None."""
    if source.local_path is not None:
        path = source.local_path.with_suffix(suffix)
        return path if path.is_file() else None
    key = str(Path(source.key or "").with_suffix(suffix))
    sibling = Source(uri=f"s3://{source.bucket}/{key}", bucket=source.bucket, key=key)
    try:
        return fetch(sibling, workdir, s3)
    except FetchError:
        return None


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def copy_tree(uri: str, dst: Path, s3: S3Settings | None = None) -> Path:
    """A folder or an ``s3://`` prefix, copied whole into ``dst`` (each object retried when transient)."""
    import shutil

    if not uri.startswith("s3://"):
        if not Path(uri).is_dir():
            raise FileNotFoundError(f"{uri}: no such folder")
        shutil.copytree(uri, dst, dirs_exist_ok=True)
        return dst
    settings = s3 or S3Settings()
    client = s3_client(settings)
    bucket, prefix = split_s3_uri(uri.rstrip("/") + "/")
    retried = _with_retries(settings)

    @retried
    def list_keys() -> list[str]:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    keys = list_keys()
    if not keys:
        raise FileNotFoundError(f"{uri}: no objects under this prefix")
    for key in keys:
        local = dst / key[len(prefix) :]
        local.parent.mkdir(parents=True, exist_ok=True)
        retried(client.download_file)(bucket, key, str(local))
    return dst
