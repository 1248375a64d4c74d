"""SMS through an HTTP gateway: Aliyun SendSms (signed, approved template + parameters) or a templated webhook."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import string
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlencode

import requests
from pydantic import BaseModel, ConfigDict, Field

from hub.channels.base import ChannelError, Notification

log = logging.getLogger(__name__)

# Aliyun business codes worth retrying (flow control, their side's trouble); all others are final.
ALIYUN_RETRY = {"isv.BUSINESS_LIMIT_CONTROL", "Throttling.User", "isp.SYSTEM_ERROR", "SignatureNonceUsed",
                "ServiceUnavailable", "InternalError"}  # fmt: skip


def secret(env: str | None, file: Path | None, what: str) -> str:
    """A secret named by an environment variable or a 0600 file; never written in config."""
    if env:
        value = os.environ.get(env)
        if not value:
            raise ChannelError(f"{what}: environment variable {env} is not set", recoverable=False)
        return value
    if file:
        if file.stat().st_mode & 0o077:
            raise ChannelError(f"{what}: {file} must not be readable by group or others", recoverable=False)
        return file.read_text().strip()
    raise ChannelError(f"{what}: no secret configured (set *_env or *_file)", recoverable=False)


def percent_encode(s: str) -> str:
    """RFC 3986 as Aliyun signs it: only A-Z a-z 0-9 - _ . ~ stay; space is %20, never +."""
    return quote(s, safe="-_.~")


def aliyun_signature(method: str, params: Mapping[str, str], secret_key: str) -> str:
    """Aliyun RPC signature v1.0: Base64(HMAC-SHA1(secret + "&", METHOD&%2F&encode(sorted query)))."""
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret_key}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _http_error(where: str, resp: requests.Response) -> ChannelError:
    # 5xx and 429: the gateway is in trouble, try again; other 4xx: this request will never pass, fail over.
    recoverable = resp.status_code >= 500 or resp.status_code == 429
    return ChannelError(f"{where}: HTTP {resp.status_code}: {resp.text[:200]}", recoverable=recoverable)


def _post(session: requests.Session, where: str, url: str, timeout: float, **kw: Any) -> requests.Response:
    try:
        resp = session.post(url, timeout=timeout, **kw)
    except requests.RequestException as exc:
        raise ChannelError(f"{where}: {exc.__class__.__name__}: {exc}", recoverable=True) from None
    if resp.status_code >= 300:
        raise _http_error(where, resp)
    return resp


class AliyunSmsConfig(BaseModel):
    """Aliyun SMS (dysmsapi SendSms). China requires an approved signature and templates per message type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["sms_aliyun"] = Field("sms_aliyun", description="Channel kind")
    endpoint: str = Field("https://dysmsapi.aliyuncs.com/", description="SendSms endpoint URL")
    region: str = Field("cn-hangzhou", description="RegionId")
    access_key_id_env: str = Field("ALIYUN_ACCESS_KEY_ID", description="Env var holding the AccessKey ID")
    access_key_secret_env: str | None = Field(
        "ALIYUN_ACCESS_KEY_SECRET", description="Env var holding the AccessKey secret"
    )
    access_key_secret_file: Path | None = Field(None, description="File (0600) holding the AccessKey secret")
    sign_name: str = Field("凤山预警", description="Approved SMS signature (签名), shown as 【...】")
    templates: dict[str, str] = Field(
        description="Notice kind (alert, down, clear, escalation, test, maintenance, default) -> template code"
    )
    params: dict[str, str] = Field(
        default_factory=lambda: {
            "site": "site_name",
            "level": "level_zh",
            "time": "time_local",
            "action": "action",
        },
        description="Template variable -> notification field (text, recipient or an extra key)",
    )
    param_max_len: int = Field(35, ge=1, description="Longest value of one template variable (Aliyun: 35)")
    timeout_s: float = Field(10.0, gt=0, description="HTTP timeout, seconds")

    def build(self) -> AliyunSms:
        return AliyunSms(self)


def field_of(n: Notification, name: str) -> str:
    if name == "text":
        return n.text
    if name == "recipient":
        return n.recipient
    if name == "level":
        return n.level
    return n.extra.get(name, "")


class AliyunSms:
    """One SendSms call per notification; OutId carries the dispatcher's delivery id for tracing."""

    def __init__(self, cfg: AliyunSmsConfig, session: requests.Session | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:  # fmt: skip
        self.cfg = cfg
        self.session = session or requests.Session()
        self.clock = clock

    def request_params(self, n: Notification) -> dict[str, str]:
        kind = n.extra.get("kind", "alert")
        code = self.cfg.templates.get(kind) or self.cfg.templates.get("default")
        if not code:
            raise ChannelError(f"sms_aliyun: no template for notice kind {kind!r}", recoverable=False)
        values = {var: field_of(n, src) for var, src in self.cfg.params.items()}
        cut = self.cfg.param_max_len
        values = {k: v if len(v) <= cut else v[: cut - 1] + "…" for k, v in values.items()}
        key_id = os.environ.get(self.cfg.access_key_id_env, "")
        if not key_id:
            raise ChannelError(f"sms_aliyun: {self.cfg.access_key_id_env} is not set", recoverable=False)
        return {
            "AccessKeyId": key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": n.extra.get("delivery_id", ""),
            "PhoneNumbers": n.recipient,
            "RegionId": self.cfg.region,
            "SignName": self.cfg.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": code,
            "TemplateParam": json.dumps(values, ensure_ascii=False, separators=(",", ":")),
            "Timestamp": self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }

    def send(self, n: Notification) -> str:
        params = self.request_params(n)
        key = secret(self.cfg.access_key_secret_env, self.cfg.access_key_secret_file, "sms_aliyun")
        params["Signature"] = aliyun_signature("POST", params, key)
        body = urlencode(params, quote_via=quote)
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        resp = _post(
            self.session, "sms_aliyun", self.cfg.endpoint, self.cfg.timeout_s, data=body, headers=headers
        )
        try:
            doc = resp.json()
        except ValueError:
            raise ChannelError(
                f"sms_aliyun: reply is not JSON: {resp.text[:120]}", recoverable=True
            ) from None
        code = str(doc.get("Code", ""))
        if code != "OK":
            raise ChannelError(
                f"sms_aliyun: {code}: {doc.get('Message', '')}", recoverable=code in ALIYUN_RETRY
            )
        return f"aliyun BizId={doc.get('BizId', '')}"


class WebhookSmsConfig(BaseModel):
    """Any HTTP SMS gateway: a body template filled from the notification, secrets from env vars."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["sms_webhook"] = Field("sms_webhook", description="Channel kind")
    url: str = Field(description="Gateway URL")
    body: str = Field(
        '{"to":"${recipient}","text":"${text}","id":"${delivery_id}"}',
        description="Body template; ${name} is text, recipient, level, site, alert_id or any extra key",
    )
    content_type: str = Field("application/json; charset=utf-8", description="Content-Type of the body")
    headers_env: dict[str, str] = Field(
        default_factory=dict, description="Header name -> env var holding its value (e.g. Authorization)"
    )
    ok_field: str | None = Field(None, description="JSON field of the reply that must equal ok_value")
    ok_value: str = Field("0", description="Value of ok_field meaning accepted")
    timeout_s: float = Field(10.0, gt=0, description="HTTP timeout, seconds")

    def build(self) -> WebhookSms:
        return WebhookSms(self)


class WebhookSms:
    """POSTs the filled template; an Idempotency-Key header lets the gateway drop a resend after a crash."""

    def __init__(self, cfg: WebhookSmsConfig, session: requests.Session | None = None) -> None:
        self.cfg = cfg
        self.session = session or requests.Session()
        self.template = string.Template(cfg.body)

    def render(self, n: Notification) -> str:
        values = {**n.extra, "text": n.text, "recipient": n.recipient, "level": n.level, "site": n.site,
                  "alert_id": n.alert_id}  # fmt: skip
        if "json" in self.cfg.content_type:
            values = {k: json.dumps(v, ensure_ascii=False)[1:-1] for k, v in values.items()}
        try:
            return self.template.substitute(values)
        except (KeyError, ValueError) as exc:
            raise ChannelError(
                f"sms_webhook: body template: unknown field {exc}", recoverable=False
            ) from None

    def send(self, n: Notification) -> str:
        headers = {"Content-Type": self.cfg.content_type, "Idempotency-Key": n.extra.get("delivery_id", "")}
        for name, env in self.cfg.headers_env.items():
            headers[name] = secret(env, None, f"sms_webhook header {name}")
        resp = _post(self.session, "sms_webhook", self.cfg.url, self.cfg.timeout_s,
                     data=self.render(n).encode(), headers=headers)  # fmt: skip
        if self.cfg.ok_field:
            try:
                got = str(resp.json().get(self.cfg.ok_field))
            except (ValueError, AttributeError):
                raise ChannelError(f"sms_webhook: reply is not a JSON object: {resp.text[:120]}",
                                   recoverable=True) from None  # fmt: skip
            if got != self.cfg.ok_value:
                raise ChannelError(
                    f"sms_webhook: {self.cfg.ok_field}={got}: {resp.text[:160]}", recoverable=False
                )
        return f"webhook HTTP {resp.status_code} {resp.text[:60]}"
