"""Loudspeaker broadcast: a siren lead-in and a repeated Chinese announcement as WAV, played or pushed."""

from __future__ import annotations

import array
import hashlib
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path
from typing import Literal

import requests
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.channels import speech
from hub.channels.base import ChannelError, Notification

log = logging.getLogger(__name__)


class BroadcastConfig(BaseModel):
    """Village loudspeakers (大喇叭): local sound card, or an IP broadcast controller over HTTP."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["broadcast"] = Field(description="Channel kind")
    output: Literal["local", "http"] = Field(
        default="local", description="Play on this machine, or POST to a controller"
    )
    out_dir: Path = Field(
        description="Folder for rendered announcements (kept as a record of what was played)"
    )
    clips_dir: Path | None = Field(
        default=None,
        description="Pre-recorded mono 16-bit WAV clips named <site>-<level>.wav or <level>.wav; they win over speech",
    )
    # espeak-ng 1.51's `cmn` voice reads the tone digits of its own pinyin dictionary as English numbers
    # ("shan one"); `cmn-latn-pinyin` is the same Mandarin voice with the tones spoken as tones.
    voice: str = Field(default="cmn-latn-pinyin", description="espeak-ng Mandarin voice")
    speed_wpm: int = Field(default=140, ge=80, le=300, description="Speech rate, words per minute")
    espeak_command: str = Field(default="espeak-ng", description="espeak-ng executable")
    repeat: int = Field(default=3, ge=1, le=10, description="How many times the announcement is repeated")
    siren_s: float = Field(default=4.0, ge=0, le=60, description="Length of the siren lead-in; 0 for none")
    siren_low_hz: float = Field(default=600.0, gt=50, description="Lowest siren pitch")
    siren_high_hz: float = Field(default=1200.0, gt=50, description="Highest siren pitch")
    siren_cycle_s: float = Field(default=1.5, gt=0.1, description="Seconds per rise-and-fall of the wail")
    siren_volume: float = Field(
        default=0.7, gt=0, le=1.0, description="Siren amplitude, fraction of full scale"
    )
    gap_s: float = Field(default=1.0, ge=0, le=10, description="Silence between siren and each repeat")
    play_command: list[str] = Field(
        default=["aplay", "-q"],
        description="Local player; {wav} is replaced by the file, else the path is appended",
    )
    play_timeout_s: float = Field(default=600.0, gt=0, description="Longest a local playback may take")
    controller_url: str | None = Field(
        default=None, description="IP broadcast controller endpoint receiving audio/wav"
    )
    controller_token_env: str | None = Field(
        default=None, description="Environment variable holding the bearer token"
    )
    zone_param: str = Field(
        default="zone", description="Query parameter naming the speaker zone (the recipient)"
    )
    controller_timeout_s: float = Field(default=60.0, gt=0, description="HTTP timeout for the upload")

    @model_validator(mode="after")
    def _http_needs_url(self) -> BroadcastConfig:
        if self.output == "http" and not self.controller_url:
            raise ValueError("broadcast output 'http' needs controller_url")
        return self

    def build(self) -> BroadcastChannel:
        return BroadcastChannel(self)


class BroadcastChannel:
    """send() renders (or reuses) the WAV for a notification and delivers it to one speaker zone."""

    def __init__(self, config: BroadcastConfig) -> None:
        self.config = config

    def send(self, n: Notification) -> str:
        path = self.render(n)
        if self.config.output == "local":
            return self._play(path)
        return self._push(path, n)

    # -- rendering --------------------------------------------------------------------------------

    def render(self, n: Notification) -> Path:
        """The announcement WAV for `n`; rendering is skipped when the same text was rendered before."""
        digest = hashlib.sha1(f"{n.level}|{n.site}|{n.text}|{self.config!r}".encode()).hexdigest()[:12]
        name = re.sub(r"[^\w.-]+", "_", f"{n.alert_id}-{n.level}-{digest}") + ".wav"
        target = self.config.out_dir / name
        if target.exists():
            return target
        self.config.out_dir.mkdir(parents=True, exist_ok=True)
        body, rate = self._clip(n) or self._speak(n.text)
        gap = array.array("h", bytes(2 * int(self.config.gap_s * rate)))
        # Only a warning wails; a step down or all-clear opens with a steady tone (the all-clear signal).
        pcm = siren(self.config, rate, steady=n.extra.get("kind", "alert") != "alert") + gap
        for _ in range(self.config.repeat):
            pcm += body + gap
        fd, tmp = tempfile.mkstemp(dir=self.config.out_dir, suffix=".part")
        os.close(fd)
        write_wav(Path(tmp), pcm, rate)
        os.replace(tmp, target)  # a half-written file is never played
        log.info("broadcast rendered alert=%s file=%s seconds=%.1f", n.alert_id, target, len(pcm) / rate)
        return target

    def _clip(self, n: Notification) -> tuple[array.array, int] | None:
        if self.config.clips_dir is None:
            return None
        kind = n.extra.get("kind", "alert")
        if kind == "alert":
            names = [n.extra.get("clip", ""), f"{n.site}-{n.level}", n.level]
        elif kind == "clear":  # never a level's clip: red.wav says "evacuate now"
            names = [f"{n.site}-clear", "clear"]
        else:
            return None  # a step down names both levels: only speech says that

        for name in filter(None, names):
            path = self.config.clips_dir / f"{name}.wav"
            if path.is_file():
                try:
                    return read_wav(path)
                except (wave.Error, ValueError, OSError) as exc:
                    log.warning("broadcast clip unusable file=%s error=%s; using speech", path, exc)
        return None

    def _speak(self, text: str) -> tuple[array.array, int]:
        spoken = speech.normalize(text)
        exe = shutil.which(self.config.espeak_command)
        if exe is None:
            raise ChannelError(f"broadcast: {self.config.espeak_command} not installed", recoverable=False)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "speech.wav"
            cmd = [exe, "-v", self.config.voice, "-s", str(self.config.speed_wpm), "-w", str(out), "--stdin"]
            try:
                proc = subprocess.run(cmd, input=spoken.encode("utf-8"), capture_output=True, timeout=120)
            except subprocess.TimeoutExpired as exc:
                raise ChannelError("broadcast: espeak-ng timed out", recoverable=True) from exc
            if proc.returncode != 0 or not out.exists():
                err = proc.stderr.decode("utf-8", "replace").strip()
                raise ChannelError(f"broadcast: espeak-ng failed: {err}", recoverable=False)
            return read_wav(out)

    # -- delivery ---------------------------------------------------------------------------------

    def _play(self, path: Path) -> str:
        if any("{wav}" in arg for arg in self.config.play_command):
            cmd = [arg.replace("{wav}", str(path)) for arg in self.config.play_command]
        else:
            cmd = [*self.config.play_command, str(path)]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=self.config.play_timeout_s)
        except FileNotFoundError as exc:
            raise ChannelError(f"broadcast: player {cmd[0]} not installed", recoverable=False) from exc
        except subprocess.TimeoutExpired as exc:
            raise ChannelError(f"broadcast: playback of {path.name} timed out", recoverable=True) from exc
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip()[:200]
            # A busy or unplugged sound device is usually temporary.
            raise ChannelError(f"broadcast: {cmd[0]} exit {proc.returncode}: {err}", recoverable=True)
        return f"broadcast:local:{path.name}"

    def _push(self, path: Path, n: Notification) -> str:
        assert self.config.controller_url is not None
        headers = {"Content-Type": "audio/wav"}
        if self.config.controller_token_env:
            token = os.environ.get(self.config.controller_token_env)
            if not token:
                raise ChannelError(
                    f"broadcast: environment variable {self.config.controller_token_env} is not set",
                    recoverable=False,
                )
            headers["Authorization"] = f"Bearer {token}"
        params = {self.config.zone_param: n.recipient, "alert": n.alert_id, "level": n.level}
        try:
            resp = requests.post(
                self.config.controller_url,
                params=params,
                data=path.read_bytes(),
                headers=headers,
                timeout=self.config.controller_timeout_s,
            )
        except requests.RequestException as exc:
            raise ChannelError(f"broadcast controller unreachable: {exc}", recoverable=True) from exc
        if resp.status_code >= 500 or resp.status_code in (408, 429):
            raise ChannelError(f"broadcast controller HTTP {resp.status_code}", recoverable=True)
        if resp.status_code >= 400:
            raise ChannelError(
                f"broadcast controller refused HTTP {resp.status_code}: {resp.text[:200]}", recoverable=False
            )
        return f"broadcast:http:{n.recipient}:{resp.status_code}:{resp.text.strip()[:80]}"


def siren(config: BroadcastConfig, rate: int, *, steady: bool = False) -> array.array:
    """A wailing tone sweeping between the low and high pitch (steady: held at the middle pitch), faded
    in and out to avoid clicks."""
    count = int(config.siren_s * rate)
    amp = 32767 * config.siren_volume
    mid = (config.siren_low_hz + config.siren_high_hz) / 2
    half = 0.0 if steady else (config.siren_high_hz - config.siren_low_hz) / 2
    fade = max(1, int(0.05 * rate))
    out = array.array("h", bytes(2 * count))
    phase = 0.0
    for i in range(count):
        freq = mid - half * math.cos(2 * math.pi * i / (config.siren_cycle_s * rate))
        phase += 2 * math.pi * freq / rate
        env = min(1.0, i / fade, (count - 1 - i) / fade)
        out[i] = int(amp * env * math.sin(phase))
    return out


def read_wav(path: Path) -> tuple[array.array, int]:
    """Mono 16-bit PCM samples and the sample rate; anything else raises ValueError naming the file."""
    with wave.open(str(path), "rb") as wf:
        if wf.getnchannels() != 1 or wf.getsampwidth() != 2:
            raise ValueError(
                f"{path}: need mono 16-bit PCM, got {wf.getnchannels()} ch {8 * wf.getsampwidth()} bit"
            )
        rate = wf.getframerate()
        samples = array.array("h", wf.readframes(wf.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples, rate


def write_wav(path: Path, samples: array.array, rate: int) -> None:
    data = array.array("h", samples)
    if sys.byteorder == "big":
        data.byteswap()
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes(data.tobytes())
