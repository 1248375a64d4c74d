"""A simulated LoRa field node behind a UART module: frames readings, retries until acked, loses packets on cue."""

from __future__ import annotations

import time

import serial  # type: ignore[import-untyped]

from edge.sensors.lora_frame import (
    ACK,
    DATA,
    LoraFrame,
    LoraFrameError,
    Record,
    Scanner,
    encode,
    encode_payload,
)


class LoraNodeSim:
    """What the gateway's module would print when this node transmits; the other pty end is the gateway."""

    def __init__(
        self, port: str, node: int, *, baudrate: int = 9600, ack_timeout: float = 0.4, attempts: int = 5
    ):
        self.serial = serial.Serial(port, baudrate=baudrate, timeout=0.05)
        self.node, self.ack_timeout, self.attempts = node, ack_timeout, attempts
        self.seq, self.first = 0, True
        self.lose_next = 0  # transmissions that never reach the gateway (collision, fade)
        self.lose_acks = 0  # acks that never reach the node: it retransmits
        self.corrupt_next = 0  # transmissions that arrive with a flipped bit
        self.rssi_byte: int | None = None  # set to append an E22-style RSSI byte after each frame
        self.received = b""  # raw bytes the gateway wrote (incl. a fixed-mode prefix)
        self._scanner = Scanner()

    def reboot(self) -> None:
        self.seq, self.first = 0, True

    def send(self, records: list[Record], age_s: int = 0) -> int:
        """Transmit until acked; returns the number of transmissions, 0 if never acked."""
        frame = LoraFrame(DATA, self.node, self.seq, encode_payload(age_s, records), first=self.first)
        raw = encode(frame)
        for attempt in range(1, self.attempts + 1):
            self._transmit(raw)
            if self._await_ack(frame.seq):
                self.seq, self.first = (self.seq + 1) & 0xFFFF, False
                return attempt
        return 0

    def _transmit(self, raw: bytes) -> None:
        if self.lose_next > 0:
            self.lose_next -= 1
            return
        if self.corrupt_next > 0:
            self.corrupt_next -= 1
            raw = raw[:-3] + bytes([raw[-3] ^ 0x10]) + raw[-2:]
        if self.rssi_byte is not None:
            raw += bytes([self.rssi_byte])
        self.serial.write(raw)

    def _await_ack(self, seq: int) -> bool:
        deadline = time.monotonic() + self.ack_timeout
        while time.monotonic() < deadline:
            data = self.serial.read(256)
            self.received += data
            for item in self._scanner.feed(data):
                if isinstance(item, LoraFrameError):
                    continue
                frame, _ = item
                if frame.type == ACK and frame.node == self.node and frame.seq == seq:
                    if self.lose_acks > 0:
                        self.lose_acks -= 1
                        continue
                    return True
        return False

    def close(self) -> None:
        self.serial.close()
