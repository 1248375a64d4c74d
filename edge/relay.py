"""On-site siren or warning-light relays: GPIO on a Pi, an LCUS USB-serial relay board, or a file."""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)


class RelayError(OSError):
    """The relay could not be switched; the message names the relay."""


class Relay(Protocol):
    """Switches one siren or light circuit. `set` raises RelayError; it is retried by the caller."""

    def set(self, on: bool) -> None: ...

    def close(self) -> None: ...


class _RelayBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileRelayConfig(_RelayBase):
    """A relay whose state is a file holding 1 or 0 (tests, or a sysfs-style GPIO export)."""

    kind: Literal["file"] = Field(description="File-backed relay")
    path: Path = Field(description="File written with 1 (on) or 0 (off)")


class SerialRelayConfig(_RelayBase):
    """An LCUS-type USB relay board (CH340 serial, common in China): frames A0 ch state sum."""

    kind: Literal["serial"] = Field(description="USB-serial relay board")
    port: str = Field(description="Serial device, e.g. /dev/ttyUSB1")
    channel: int = Field(default=1, ge=1, le=8, description="Relay channel on the board")
    baudrate: int = Field(default=9600, description="Serial speed of the board")


class GpioRelayConfig(_RelayBase):
    """A relay module on a Raspberry Pi GPIO pin, driven through gpiozero."""

    kind: Literal["gpio"] = Field(description="GPIO relay")
    pin: int = Field(ge=0, le=40, description="BCM pin number")
    active_high: bool = Field(default=True, description="False for the common low-level-trigger modules")


RelayConfig = Annotated[FileRelayConfig | SerialRelayConfig | GpioRelayConfig, Field(discriminator="kind")]


class FileRelay:
    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, on: bool) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write("1\n" if on else "0\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            raise RelayError(f"relay {self.path}: {exc}") from exc

    def close(self) -> None:
        """Nothing held open."""


def lcus_frame(channel: int, on: bool) -> bytes:
    """Pure: the 4-byte LCUS command (start 0xA0, channel, state, checksum = low byte of the sum)."""
    state = 1 if on else 0
    return bytes([0xA0, channel, state, (0xA0 + channel + state) & 0xFF])


class SerialRelay:
    def __init__(self, cfg: SerialRelayConfig) -> None:
        self.cfg = cfg
        self._serial: Any = None

    def set(self, on: bool) -> None:
        import serial  # pyserial; only needed on gateways with such a board

        try:
            if self._serial is None:
                self._serial = serial.Serial(self.cfg.port, self.cfg.baudrate, timeout=1, write_timeout=1)
            self._serial.write(lcus_frame(self.cfg.channel, on))
            self._serial.flush()
        except (OSError, serial.SerialException) as exc:
            self.close()  # reopen next time: the USB board may have been replugged
            raise RelayError(f"relay {self.cfg.port} channel {self.cfg.channel}: {exc}") from exc

    def close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except OSError as exc:
                log.debug("relay close failed port=%s error=%s", self.cfg.port, exc)
            self._serial = None


class GpioRelay:
    def __init__(self, cfg: GpioRelayConfig) -> None:
        self.cfg = cfg
        self._device: Any = None

    def set(self, on: bool) -> None:
        try:
            if self._device is None:
                from gpiozero import OutputDevice  # lazily: only present on a Pi

                self._device = OutputDevice(
                    self.cfg.pin, active_high=self.cfg.active_high, initial_value=False
                )
            if on:
                self._device.on()
            else:
                self._device.off()
        except Exception as exc:  # gpiozero raises its own hierarchy (BadPinFactory, GPIOPinInUse, ...)
            raise RelayError(f"relay gpio pin {self.cfg.pin}: {exc}") from exc

    def close(self) -> None:
        if self._device is not None:
            self._device.close()
            self._device = None


def build_relay(cfg: FileRelayConfig | SerialRelayConfig | GpioRelayConfig) -> Relay:
    if isinstance(cfg, FileRelayConfig):
        return FileRelay(cfg.path)
    if isinstance(cfg, SerialRelayConfig):
        return SerialRelay(cfg)
    return GpioRelay(cfg)


# gpiozero drives a pin through a pin factory: lgpio on Raspberry Pi OS Bookworm (the only one for a
# Pi 5), RPi.GPIO or pigpio on older systems. GPIOZERO_PIN_FACTORY names one explicitly (native, mock).
PIN_FACTORY_MODULES = ("lgpio", "RPi.GPIO", "pigpio")
GPIO_FIX = (
    "run deploy/install.sh --role edge: it installs python3-gpiozero and python3-lgpio and makes the "
    "venv see the system's packages (--system-site-packages)"
)


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    except Exception:  # present, but refuses this machine (RPi.GPIO off a Pi): the relay will say why
        return True
    return True


def relay_problem(cfg: FileRelayConfig | SerialRelayConfig | GpioRelayConfig) -> str | None:
    """Why this relay's backend cannot be loaded here, naming the missing module and the fix; None when it
    can. The relay imports it only when it first switches, in a storm with the hub out of reach, where a
    missing module means a siren that never sounds: `ews edge --check` asks this instead."""
    if isinstance(cfg, GpioRelayConfig):
        where = f"relay gpio pin {cfg.pin}"
        if not _importable("gpiozero"):
            return f"{where}: Python module gpiozero not found, the siren cannot sound: {GPIO_FIX}"
        if not os.environ.get("GPIOZERO_PIN_FACTORY") and not any(map(_importable, PIN_FACTORY_MODULES)):
            return (
                f"{where}: gpiozero has no pin factory ({', '.join(PIN_FACTORY_MODULES)} not found), the siren "
                f"cannot sound: {GPIO_FIX}"
            )
    elif isinstance(cfg, SerialRelayConfig) and not _importable("serial"):
        return f"relay {cfg.port}: Python module serial (pyserial) not found: reinstall ews into its venv"
    return None
