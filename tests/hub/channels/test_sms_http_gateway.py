"""HTTP SMS gateways on a real loopback HTTP server (pytest-httpserver): request shape, Aliyun's signature
checked by the test's own implementation of the documented algorithm, 5xx -> retry, 4xx -> fail over."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from hub.alerts.config import load
from hub.alerts.directory import Directory
from hub.alerts.dispatcher import Dispatcher
from hub.alerts.settings import DispatchSettings
from hub.alerts.state import StateStore
from hub.channels.base import ChannelError, Notification
from hub.channels.console import ConsoleChannel
from hub.channels.sms_http import AliyunSms, AliyunSmsConfig, WebhookSms, WebhookSmsConfig, aliyun_signature
from hub.rules.model import AlertState, Level, Transition

SECRET = "fengshan-test-secret"
EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "fengshan" / "alerts.yaml"


@pytest.fixture
def fengshan_directory() -> Directory:
    return load(EXAMPLE).directory


@pytest.fixture(autouse=True)
def aliyun_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIYUN_ACCESS_KEY_ID", "LTAI-test-id")
    monkeypatch.setenv("ALIYUN_ACCESS_KEY_SECRET", SECRET)


def independent_signature(method: str, params: dict[str, str], secret: str) -> str:
    """Aliyun's documented RPC v1 signing, written out again here so the test does not trust the code."""

    def enc(s: str) -> str:
        return urllib.parse.quote_plus(s).replace("+", "%20").replace("*", "%2A").replace("%7E", "~")

    query = "&".join(enc(k) + "=" + enc(params[k]) for k in sorted(params))
    string_to_sign = method + "&" + enc("/") + "&" + enc(query)
    mac = hmac.new((secret + "&").encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def note(kind: str = "alert", phone: str = "13800001101") -> Notification:
    extra = {"kind": kind, "site_name": "凤山村后山滑坡隐患点", "level_zh": "红色", "time_local": "11月29日19:30",
             "action": "请立即转移到安全避险点，不要返回！", "delivery_id": "d0c0ffee0123456789ab", "at": "1780000000.0"}  # fmt: skip
    return Notification(
        "fs-hp01/rain", phone, "【凤山预警】凤山村后山滑坡隐患点红色预警(I级)", "red", "fs-hp01", extra
    )


def aliyun(server: HTTPServer) -> AliyunSms:
    cfg = AliyunSmsConfig(
        endpoint=server.url_for("/"), templates={"alert": "SMS_480001", "default": "SMS_480009"}
    )
    clock = lambda: datetime(2026, 11, 29, 11, 30, 0, tzinfo=UTC)  # noqa: E731
    return AliyunSms(cfg, clock=clock)


def test_documented_signature_example() -> None:
    """The worked example in Aliyun's SMS API signature docs (help.aliyun.com 'HTTP协议及签名', SendSms)."""
    params = {"AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123",
              "PhoneNumbers": "15300000001", "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用",
              "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
              "SignatureVersion": "1.0", "TemplateCode": "SMS_71390007", "TemplateParam": '{"customer":"test"}',
              "Timestamp": "2017-07-12T02:42:19Z", "Version": "2017-05-25"}  # fmt: skip
    assert aliyun_signature("GET", params, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_aliyun_request_shape_and_signature(httpserver: HTTPServer) -> None:
    seen: list[dict[str, str]] = []

    def handler(req: Request) -> Response:
        form = dict(urllib.parse.parse_qsl(req.get_data(as_text=True), keep_blank_values=True))
        seen.append(form)
        return Response(json.dumps({"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0",
                                    "RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990"}),
                        content_type="application/json")  # fmt: skip

    httpserver.expect_request("/", method="POST").respond_with_handler(handler)
    receipt = aliyun(httpserver).send(note())
    assert receipt == "aliyun BizId=900619746936498440^0"
    form = seen[0]
    signature = form.pop("Signature")
    assert signature == independent_signature("POST", form, SECRET)
    assert form["Action"] == "SendSms" and form["Version"] == "2017-05-25" and form["Format"] == "JSON"
    assert form["PhoneNumbers"] == "13800001101" and form["SignName"] == "凤山预警"
    assert form["TemplateCode"] == "SMS_480001" and form["OutId"] == "d0c0ffee0123456789ab"
    assert form["Timestamp"] == "2026-11-29T11:30:00Z" and form["AccessKeyId"] == "LTAI-test-id"
    params = json.loads(form["TemplateParam"])
    assert params == {"site": "凤山村后山滑坡隐患点", "level": "红色", "time": "11月29日19:30",
                      "action": "请立即转移到安全避险点，不要返回！"}  # fmt: skip


def test_aliyun_template_falls_back_to_default_and_cuts_long_params(httpserver: HTTPServer) -> None:
    ch = aliyun(httpserver)
    n = note(kind="clear")
    n.extra["action"] = "很" * 50
    p = ch.request_params(n)
    assert p["TemplateCode"] == "SMS_480009"
    assert len(json.loads(p["TemplateParam"])["action"]) == 35


@pytest.mark.parametrize(
    ("status", "body", "recoverable"),
    [
        (500, "internal error", True),
        (503, "busy", True),
        (429, "slow down", True),
        (400, '{"Code":"SignatureDoesNotMatch"}', False),
        (403, '{"Code":"Forbidden.RAM"}', False),
        (200, '{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发分钟级流控"}', True),
        (200, '{"Code":"isv.MOBILE_NUMBER_ILLEGAL","Message":"非法手机号"}', False),
        (200, '{"Code":"isv.AMOUNT_NOT_ENOUGH","Message":"账户余额不足"}', False),
    ],
)
def test_aliyun_errors(httpserver: HTTPServer, status: int, body: str, recoverable: bool) -> None:
    httpserver.expect_request("/").respond_with_data(body, status=status)
    with pytest.raises(ChannelError) as err:
        aliyun(httpserver).send(note())
    assert err.value.recoverable is recoverable


def test_gateway_unreachable_is_recoverable() -> None:
    cfg = AliyunSmsConfig(endpoint="http://127.0.0.1:9/", templates={"default": "SMS_1"}, timeout_s=0.5)
    with pytest.raises(ChannelError) as err:
        AliyunSms(cfg).send(note())
    assert err.value.recoverable is True


def test_missing_secret_is_a_config_error(monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer) -> None:
    monkeypatch.delenv("ALIYUN_ACCESS_KEY_SECRET")
    with pytest.raises(ChannelError, match="ALIYUN_ACCESS_KEY_SECRET is not set") as err:
        aliyun(httpserver).send(note())
    assert err.value.recoverable is False


def test_webhook_fills_template_and_sends_idempotency_key(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_GW_TOKEN", "Bearer t0k3n")
    httpserver.expect_request(
        "/send",
        method="POST",
        headers={"Authorization": "Bearer t0k3n", "Idempotency-Key": "d0c0ffee0123456789ab"},
    ).respond_with_json({"code": 0, "msgid": "m-1"})
    cfg = WebhookSmsConfig(url=httpserver.url_for("/send"), headers_env={"Authorization": "SMS_GW_TOKEN"},
                           ok_field="code", ok_value="0")  # fmt: skip
    assert "m-1" in WebhookSms(cfg).send(note())
    body = json.loads(httpserver.log[0][0].get_data(as_text=True))
    assert body == {
        "to": "13800001101",
        "text": "【凤山预警】凤山村后山滑坡隐患点红色预警(I级)",
        "id": "d0c0ffee0123456789ab",
    }


def test_webhook_refusal_and_bad_template(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/send").respond_with_json({"code": 17, "msg": "blacklisted"})
    cfg = WebhookSmsConfig(url=httpserver.url_for("/send"), ok_field="code")
    with pytest.raises(ChannelError) as err:
        WebhookSms(cfg).send(note())
    assert err.value.recoverable is False and "code=17" in str(err.value)
    bad = WebhookSmsConfig(url=httpserver.url_for("/send"), body='{"x":"${no_such_field}"}')
    with pytest.raises(ChannelError, match="no_such_field"):
        WebhookSms(bad).send(note())


# ---- through the dispatcher: retry on 5xx, fail over on 4xx -------------------------------------------


@pytest.fixture
def second_server() -> Iterator[HTTPServer]:
    server = HTTPServer()
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def run_blue_alert(
    tmp_path: Path, directory: Directory, channels: dict, settings: DispatchSettings, n: int
) -> Dispatcher:
    state = StateStore(tmp_path / "alerts.sqlite")
    state.open()
    d = Dispatcher(settings, directory, channels, state, _NullSink())
    d.start()
    d.submit(
        [Transition("rain", "fs-hp01", 1_780_000_000.0, Level.NONE, Level.BLUE, AlertState.FIRING, 36.0)]
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        st = d.stats()["channels"]
        if sum(c["sent"] for c in st.values() if c) >= n:
            break
        time.sleep(0.02)
    return d


class _NullSink:
    def put(self, row: str) -> None:
        pass


def settings_for(**kw: object) -> DispatchSettings:
    from hub.alerts.routing import RoutingPolicy

    policy = RoutingPolicy(record_channels={"console": ["alert"]})
    return DispatchSettings(policy=policy, retry_base_s=0.05, **kw)  # type: ignore[arg-type]


def test_dispatcher_retries_5xx_then_delivers(
    httpserver: HTTPServer, tmp_path: Path, fengshan_directory: Directory
) -> None:
    calls = {"n": 0}
    lock = threading.Lock()

    def flaky(req: Request) -> Response:
        with lock:
            calls["n"] += 1
            if calls["n"] <= 2:
                return Response("gateway overloaded", status=502)
        return Response('{"Code":"OK","BizId":"b"}', content_type="application/json")

    httpserver.expect_request("/").respond_with_handler(flaky)
    chans = {"sms": aliyun(httpserver), "console": ConsoleChannel(open("/dev/null", "w"))}  # noqa: SIM115
    d = run_blue_alert(tmp_path, fengshan_directory, chans, settings_for(), 3)
    try:
        st = d.stats()["channels"]["sms"]
        assert st == {"sent": 2, "failed": 0, "retried": 2}  # two officers; the first tries twice more
    finally:
        d.stop()


def test_dispatcher_fails_over_on_4xx(httpserver: HTTPServer, second_server: HTTPServer, tmp_path: Path,
                                      fengshan_directory: Directory) -> None:  # fmt: skip
    httpserver.expect_request("/").respond_with_data('{"Code":"InvalidAccessKeyId.NotFound"}', status=404)
    second_server.expect_request("/send").respond_with_json({"code": 0})
    chans = {
        "sms": aliyun(httpserver),
        "sms_backup": WebhookSms(WebhookSmsConfig(url=second_server.url_for("/send"), ok_field="code")),
        "console": ConsoleChannel(open("/dev/null", "w")),  # noqa: SIM115
    }
    d = run_blue_alert(tmp_path, fengshan_directory, chans, settings_for(failover={"sms": "sms_backup"}), 3)
    try:
        st = d.stats()["channels"]
        assert st["sms"]["failed"] == 2 and st["sms_backup"]["sent"] == 2
        phones = sorted(json.loads(r.get_data(as_text=True))["to"] for r, _ in second_server.log)
        assert phones == ["13800000101", "13800000102"]
    finally:
        d.stop()
