"""Loudspeaker broadcast with real espeak-ng (Mandarin voice), real sox, and a real HTTP server on loopback."""

from __future__ import annotations

import array
import io
import math
import re
import shutil
import subprocess
import wave
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from hub.channels import speech
from hub.channels.base import ChannelError, Notification
from hub.channels.broadcast import BroadcastChannel, BroadcastConfig, read_wav, siren, write_wav

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is a Debian dependency")

TEXT = "【凤山预警】10:30 凤山村后山滑坡隐患点发布红色预警，24小时降雨156.5mm，请立即转移！"


def note(text: str = TEXT, level: str = "red", zone: str = "fs-g1") -> Notification:
    return Notification(alert_id="fs-hp01/landslide", recipient=zone, text=text, level=level, site="fs-hp01")


def channel(tmp_path: Path, **kw: object) -> BroadcastChannel:
    cfg = {"kind": "broadcast", "out_dir": tmp_path / "out", "siren_s": 2.0, "repeat": 2, "gap_s": 0.5, **kw}
    return BroadcastConfig.model_validate(cfg).build()


def rms(samples: array.array) -> float:
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


def test_rendered_wav_has_format_duration_siren_and_speech(tmp_path):
    ch = channel(tmp_path)
    path = ch.render(note())
    with wave.open(str(path)) as wf:
        assert (wf.getnchannels(), wf.getsampwidth(), wf.getframerate()) == (1, 2, 22050)
    samples, rate = read_wav(path)
    siren_n, gap_n = 2 * rate, rate // 2
    speech_n = (len(samples) - siren_n - gap_n) // 2 - gap_n
    # siren + gap + 2 × (speech + gap), and the two repeats are identical
    assert len(samples) == siren_n + gap_n + 2 * (speech_n + gap_n)
    first = samples[siren_n + gap_n : siren_n + gap_n + speech_n]
    second = samples[siren_n + 2 * gap_n + speech_n : siren_n + 2 * gap_n + 2 * speech_n]
    assert first == second
    assert 3.0 < speech_n / rate < 30.0  # a sentence of Mandarin, not an empty or runaway render
    assert rms(first) > 500  # speech, not silence
    assert rms(samples[siren_n : siren_n + gap_n]) == 0
    # the siren sweeps between 600 and 1200 Hz: count zero crossings over its whole length
    sir = samples[:siren_n]
    crossings = sum(1 for a, b in zip(sir, sir[1:], strict=False) if (a < 0) != (b < 0))
    mean_hz = crossings / 2 / 2.0
    assert 700 < mean_hz < 1100
    assert rms(sir) > 10000


def test_the_default_voice_speaks_every_syllable_as_mandarin(tmp_path):
    """espeak-ng switches to English ("(en)" in its phoneme trace) where a voice can't speak Chinese text;
    the `cmn` voice does so for its own pinyin tone digits, so the default voice must never switch."""
    voice = BroadcastConfig(kind="broadcast", out_dir=tmp_path).voice
    spoken = speech.normalize(TEXT)
    trace = subprocess.run(
        ["espeak-ng", "-v", voice, "-q", "-x", "--stdin"],
        input=spoken.encode(),
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert "(en)" not in trace
    assert trace.count("_|") >= len(re.findall(r"[\u4e00-\u9fff]", spoken)) - 2  # one syllable per character


def test_render_is_reused_for_the_same_notification(tmp_path):
    ch = channel(tmp_path)
    first = ch.render(note())
    mtime = first.stat().st_mtime_ns
    assert ch.render(note()) == first and first.stat().st_mtime_ns == mtime
    assert ch.render(note(text="解除预警")) != first
    assert not list((tmp_path / "out").glob("*.part"))


def test_speech_is_normalised_before_espeak(tmp_path):
    """Digits would be read in English by the cmn voice; normalised text renders longer Mandarin numbers."""
    ch = channel(tmp_path, siren_s=0, repeat=1, gap_s=0)
    raw = read_wav(ch.render(note(text="30mm")))[0]
    assert len(raw) / 22050 > 0.8  # 三十毫米: four syllables


def clip_dir(tmp_path: Path) -> tuple[Path, array.array, int]:
    """An empty clips directory, and a second of 440 Hz at 16 kHz to record into it."""
    clips = tmp_path / "clips"
    clips.mkdir()
    rate = 16000
    return (
        clips,
        array.array("h", (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(rate))),
        rate,
    )


def test_prerecorded_clip_takes_priority_over_speech(tmp_path):
    clips, tone, rate = clip_dir(tmp_path)
    write_wav(clips / "fs-hp01-red.wav", tone, rate)
    ch = channel(tmp_path, clips_dir=clips)
    samples, out_rate = read_wav(ch.render(note()))
    assert out_rate == rate  # siren generated at the clip's rate
    start = 2 * rate + rate // 2
    assert samples[start : start + rate] == tone
    assert len(samples) == 2 * rate + rate // 2 + 2 * (rate + rate // 2)
    # no clip for yellow at this site and no generic one: speech is used
    assert read_wav(ch.render(note(level="yellow")))[1] == 22050


def test_broken_clip_falls_back_to_speech(tmp_path, caplog):
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "red.wav").write_bytes(b"RIFF not really")
    ch = channel(tmp_path, clips_dir=clips)
    assert read_wav(ch.render(note()))[1] == 22050
    assert "broadcast clip unusable" in caplog.text


def test_local_playback_runs_the_player_on_the_file(tmp_path):
    # sox decodes the whole file to its null output: the same work a player does, without a sound card
    ch = channel(tmp_path, play_command=["sox", "-q", "{wav}", "-n", "stat"])
    receipt = ch.send(note())
    assert receipt.startswith("broadcast:local:fs-hp01_landslide-red-")


def test_missing_player_is_not_recoverable_and_failing_player_is(tmp_path):
    with pytest.raises(ChannelError) as err:
        channel(tmp_path, play_command=["no-such-player-xyz"]).send(note())
    assert not err.value.recoverable
    with pytest.raises(ChannelError) as err:
        channel(tmp_path, play_command=["sox", "-q", "{wav}", "-t", "alsa", "no-such-device"]).send(note())
    assert err.value.recoverable


def test_push_to_ip_broadcast_controller(tmp_path, httpserver: HTTPServer, monkeypatch):
    monkeypatch.setenv("FS_BROADCAST_TOKEN", "s3cret")
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response('{"task": 17}', status=200)

    httpserver.expect_request("/api/play", method="POST").respond_with_handler(handler)
    ch = channel(
        tmp_path,
        output="http",
        controller_url=httpserver.url_for("/api/play"),
        controller_token_env="FS_BROADCAST_TOKEN",
    )
    receipt = ch.send(note(zone="fs-g2"))
    assert receipt == 'broadcast:http:fs-g2:200:{"task": 17}'
    (req,) = seen
    assert (
        req.args["zone"] == "fs-g2"
        and req.args["level"] == "red"
        and req.args["alert"] == "fs-hp01/landslide"
    )
    assert req.headers["Authorization"] == "Bearer s3cret"
    assert req.headers["Content-Type"] == "audio/wav"
    with wave.open(io.BytesIO(req.get_data())) as wf:
        assert wf.getnchannels() == 1 and wf.getnframes() > 5 * wf.getframerate()


@pytest.mark.parametrize(
    ("status", "recoverable"), [(500, True), (503, True), (429, True), (400, False), (401, False)]
)
def test_controller_errors(tmp_path, httpserver: HTTPServer, status, recoverable):
    httpserver.expect_request("/api/play").respond_with_data("nope", status=status)
    ch = channel(tmp_path, output="http", controller_url=httpserver.url_for("/api/play"))
    with pytest.raises(ChannelError) as err:
        ch.send(note())
    assert err.value.recoverable is recoverable and str(status) in str(err.value)


def test_unreachable_controller_is_recoverable(tmp_path):
    ch = channel(
        tmp_path, output="http", controller_url="http://127.0.0.1:9/api/play", controller_timeout_s=2
    )
    with pytest.raises(ChannelError) as err:
        ch.send(note())
    assert err.value.recoverable


def test_missing_token_env_is_a_clear_non_recoverable_error(tmp_path, monkeypatch):
    monkeypatch.delenv("FS_NO_TOKEN", raising=False)
    ch = channel(
        tmp_path, output="http", controller_url="http://127.0.0.1:9/", controller_token_env="FS_NO_TOKEN"
    )
    with pytest.raises(ChannelError, match="FS_NO_TOKEN") as err:
        ch.send(note())
    assert not err.value.recoverable


def test_config_validation(tmp_path):
    with pytest.raises(ValueError, match="controller_url"):
        BroadcastConfig.model_validate({"kind": "broadcast", "out_dir": tmp_path, "output": "http"})
    with pytest.raises(ValueError):
        BroadcastConfig.model_validate({"kind": "broadcast", "out_dir": tmp_path, "volume": 2})


def test_siren_is_faded_in_and_out():
    cfg = BroadcastConfig(kind="broadcast", out_dir=Path("/nonexistent"), siren_s=1.0)
    s = siren(cfg, 8000)
    assert len(s) == 8000 and s[0] == 0 and abs(s[-1]) < 100 and max(s) > 20000


def crossings_hz(samples: array.array, rate: int) -> float:
    return (
        sum(1 for a, b in zip(samples, samples[1:], strict=False) if (a < 0) != (b < 0))
        / 2
        / (len(samples) / rate)
    )


def test_all_clear_never_plays_a_level_clip_or_wails(tmp_path):
    """The all-clear keeps the level it ends (red): red.wav ("请立即转移！") and the wail must not announce it."""
    clips, tone, rate = clip_dir(tmp_path)
    write_wav(clips / "red.wav", tone, rate)
    write_wav(clips / "fs-hp01-red.wav", tone, rate)
    ch = channel(tmp_path, clips_dir=clips)
    text = "【凤山预警】凤山村后山滑坡隐患点预警已解除（最高红色），11:30。请继续留意天气，注意安全。"
    clear = Notification("fs-hp01/landslide", "fs-g1", text, "red", "fs-hp01", extra={"kind": "clear"})
    samples, out_rate = read_wav(ch.render(clear))
    assert out_rate == 22050  # spoken, not the red clip
    lead = samples[: 2 * out_rate]  # a steady tone at the middle pitch: both halves at ~900 Hz
    assert 850 < crossings_hz(lead[:out_rate], out_rate) < 950
    assert 850 < crossings_hz(lead[out_rate:], out_rate) < 950
    wail = read_wav(ch.render(note(text="红色预警")))[0][:rate]  # a warning still wails: its pitch moves
    assert abs(crossings_hz(wail[: rate // 2], rate) - crossings_hz(wail[rate // 2 :], rate)) > 100
    write_wav(clips / "clear.wav", tone, rate)  # a recorded all-clear is used
    again = Notification("fs-hp02/flood", "fs-g2", text, "red", "fs-hp02", extra={"kind": "clear"})
    assert read_wav(ch.render(again))[1] == rate
    down = Notification("fs-hp01/landslide", "fs-g1", "预警由红色降为橙色", "orange", "fs-hp01",
                        extra={"kind": "down"})  # fmt: skip
    write_wav(clips / "orange.wav", tone, rate)
    assert read_wav(ch.render(down))[1] == 22050  # a step down is always spoken
