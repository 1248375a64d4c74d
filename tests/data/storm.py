"""A Fengshan typhoon storm (48 h, 3 hazard points) as InfluxDB rows following docs/schema.md.

The numbers are shaped after typhoon rain in north Guangdong's mountains: a wet-up day of moderate rain,
then a core of 40–80 mm/h peaks, more than 200 mm in 24 h; deformation that accelerates after the peak;
a gully that floods; a gateway that loses its uplink and sounds its siren itself. Also what a real store
holds and panels must not be fooled by: a bad sentinel and a maintenance reading of rain, a dead gauge,
node batteries under a gateway's origin, a previous storm's ack and evacuation. Deterministic (seeded).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from hub.influx import InfluxClient, line
from hub.reading_lines import notice_line
from tests.data.storm_alerts import alert_rows

STEP_S = 600  # sensors report every 10 min in storm mode
HOURS = 48
# 2025-07-20T00:00:00Z: typhoon season; an arbitrary but fixed start keeps the data reproducible.
DEFAULT_START = 1_752_969_600
PEAK_H = {"fs-hp01": 20.0, "fs-hp02": 19.5, "fs-hp03": 21.0}
PEAK_MM_H = {"fs-hp01": 72.0, "fs-hp02": 80.0, "fs-hp03": 48.0}
RAIN_GAUGES = {"fs-hp01": "fs-hp01-rg1", "fs-hp02": "fs-hp02-rg1", "fs-hp03": "fs-hp03-rg1"}
GATEWAY_OF = {"fs-hp01": "fs-gw01", "fs-hp02": "fs-gw02", "fs-hp03": "fs-gw03"}
OUTAGE_H = (19.0, 21.0)  # fs-gw02 loses its uplink at the height of the flood
# fs-hp03's gauge is dead for two hours after the rain (no rows at all); the rain it missed was nil, so
# storm.rain keeps its zeros and the alert simulation is unchanged. Hourly panels must show no bar there.
GAUGE_DEAD = ("fs-hp03-rg1", 40, 42)  # sensor, first and last hour (exclusive) of the storm
# Readings no rule counts, both within the hour before the 30 h mark the tests look at (seconds in):
BAD_AT = 29 * 3600 + 1500  # fs-hp03's second gauge sends the Modbus sentinel, marked bad
MAINTENANCE_AT = 29 * 3600 + 2100  # a technician pours 50 mm through fs-hp01's gauge in its window
SENTINEL = -3276.8


@dataclass
class Storm:
    """What was loaded: time span and the per-site 10-min rain the alert simulation ran on."""

    start: int
    end: int
    rain: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


def hourly_rate(site: str, h: float) -> float:
    """mm/h at hour h: moderate outer-band rain plus the eyewall core (a Gaussian of 1.3 h)."""
    if h < 2 or h > 33:
        return 0.0
    band = 2.5 + 2.0 * math.sin(h / 3.0) ** 2
    core = PEAK_MM_H[site] * math.exp(-(((h - PEAK_H[site]) / 1.3) ** 2) / 2)
    return band + core


def _reading(
    q: str, sensor: str, site: str, origin: str, value: float, seq: int, t: float, **tags: str
) -> str:
    base = {"sensor": sensor, "site": site, "origin": origin, "source": "sensor", "quality": "good"}
    return line(q, {**base, **tags}, {"value": float(value), "seq": seq}, t)


def _rain(storm: Storm, rng: random.Random) -> None:
    for site, sensor in RAIN_GAUGES.items():
        gw, fell, tipped, series = GATEWAY_OF[site], 0.0, 0.0, []
        for i in range(HOURS * 6):
            t = storm.start + (i + 1) * STEP_S
            fell += hourly_rate(site, (i + 0.5) / 6) / 6 * rng.uniform(0.85, 1.15)
            inc = math.floor((fell - tipped) / 0.5) * 0.5  # 0.5 mm tipping bucket
            tipped += inc
            series.append((t, inc))
            sensor_dead = (
                sensor == GAUGE_DEAD[0] and GAUGE_DEAD[1] <= (t - storm.start) / 3600 < GAUGE_DEAD[2]
            )
            if not sensor_dead:
                storm.lines.append(_reading("rain_mm", sensor, site, gw, inc, i + 1, t))
        storm.rain[site] = series


def _unusable_rain(storm: Storm) -> None:
    """Rain rows the rules drop (quality bad, maintenance): every rain panel and the report must too."""
    storm.lines += [
        _reading(
            "rain_mm",
            "fs-hp03-rg2",
            "fs-hp03",
            "fs-gw03",
            SENTINEL,
            9001,
            storm.start + BAD_AT,
            quality="bad",
        ),  # fmt: skip
        _reading(
            "rain_mm",
            "fs-hp01-rg1",
            "fs-hp01",
            "fs-gw01",
            50.0,
            9002,
            storm.start + MAINTENANCE_AT,
            quality="maintenance",
        ),  # fmt: skip
    ]


def _node_health(storm: Storm) -> None:
    """A LoRa crack meter's cell and link, reported through fs-gw01 (same origin as the gateway's own
    health) a minute after the gateway's: gateway gauges must still show the gateway's 12 V pack."""
    for i in range(HOURS * 6):
        t = storm.start + (i + 1) * STEP_S + 60
        storm.lines += [
            _reading("battery_v", "fs-hp01-cr1", "fs-hp01", "fs-gw01", 3.4, 20000 + i, t),
            _reading("signal_dbm", "fs-hp01-cr1", "fs-hp01", "fs-gw01", -118.0, 20000 + i, t),
        ]


def _ground(storm: Storm, rng: random.Random) -> None:
    cum = {s: 0.0 for s in RAIN_GAUGES}
    disp = crack = tilt = 0.0
    for i in range(HOURS * 6):
        t = storm.start + (i + 1) * STEP_S
        h = (i + 1) / 6
        for s in cum:
            cum[s] += storm.rain[s][i][1]
        # Slope creep at 0.5 mm/d; after the soaked peak the slope accelerates towards ~30 mm/d.
        speedup = 1 - math.exp(-max(0.0, h - 21.0) / 6.0)
        disp += (0.5 + 30.0 * speedup) / 144
        crack += (0.2 + 8.0 * speedup) / 144
        tilt += (0.01 + 0.4 * speedup) / 144
        n = i + 1
        storm.lines += [
            _reading("disp_mm", "fs-hp01-gn1", "fs-hp01", "fs-gw01", disp + rng.gauss(0, 0.3), n, t),
            _reading(
                "crack_mm", "fs-hp01-cr1", "fs-hp01", "fs-gw01", 12.0 + crack + rng.gauss(0, 0.05), n, t
            ),
            _reading(
                "soil_moisture_pct",
                "fs-hp01-sm1",
                "fs-hp01",
                "fs-gw01",
                min(48.0, 24 + cum["fs-hp01"] / 12),
                n,
                t,
            ),
            _reading("tilt_deg", "fs-hp03-tl1", "fs-hp03", "fs-gw03", 0.8 + tilt + rng.gauss(0, 0.002), n, t),
        ]
        rain3h = sum(v for _, v in storm.rain["fs-hp02"][max(0, i - 17) : i + 1])
        level = 0.35 + 0.012 * rain3h + rng.gauss(0, 0.01)
        # During fs-gw02's outage the outbox keeps these; they arrive later with their event time.
        storm.lines.append(_reading("water_level_m", "fs-hp02-wl1", "fs-hp02", "fs-gw02", level, n, t))


def _forecast_and_warnings(storm: Storm, rng: random.Random) -> None:
    for issue_h in range(-6, HOURS, 6):
        issued = storm.start + issue_h * 3600
        stamp = _iso(issued)
        for site in RAIN_GAUGES:
            bias = rng.uniform(0.8, 1.2)
            for k in range(1, 25):  # hourly valid times, end of each hour, for the next 24 h
                valid = issued + k * 3600
                value = round(hourly_rate(site, (valid - storm.start) / 3600 - 0.5) * bias, 1)
                tags = {"sensor": f"qxj@{site}", "site": site, "origin": "qxj", "source": "forecast"}
                storm.lines.append(
                    line("rain_mm", {**tags, "issued": stamp, "quality": "good"}, {"value": value}, valid)
                )
    for i in range(0, HOURS * 2 + 1):
        t = storm.start + i * 1800
        h = i / 2
        level = 0 if h < 10 else 1 if h < 14 else 2 if h < 17 else 3 if h < 26 else 1 if h < 32 else 0
        for site in RAIN_GAUGES:
            tags = {
                "sensor": f"cap@{site}",
                "site": site,
                "origin": "cap",
                "source": "warning",
                "quality": "good",
            }
            storm.lines.append(line("warning_level", tags, {"value": float(level)}, t))
        for feed in ("qxj", "cap"):
            ok = 0.0 if feed == "qxj" and 12 <= h < 13 else 1.0  # one failed forecast fetch
            tags = {"sensor": feed, "origin": feed, "source": "health", "quality": "good"}
            storm.lines.append(line("feed_ok", tags, {"value": ok}, t))


def _gateways(storm: Storm, rng: random.Random) -> None:
    for site, gw in GATEWAY_OF.items():
        depth, dropped = 0, 0
        storm.lines.append(line("gateway_status", {"gateway": gw}, {"online": 1}, storm.start))
        for i in range(HOURS * 12 + 1):
            t = storm.start + i * 300
            h = i / 12
            down = gw == "fs-gw02" and OUTAGE_H[0] <= h < OUTAGE_H[1]
            depth = depth + 9 if down else max(0, depth - 60)
            if down and h > OUTAGE_H[1] - 0.5:
                dropped += 1  # the outbox cap is hit near the end of the outage
            values = {
                "battery_v": 12.7 - (0.9 * max(0.0, h - 18) / 18 if gw == "fs-gw01" else 0.1 * h / 36),
                "signal_dbm": -82 - 10 * math.exp(-(((h - 20) / 3) ** 2)) + rng.gauss(0, 1),
                "outbox_depth": float(depth),
                "outbox_dropped": float(dropped),
                "disk_free_pct": 81.0 - h * 0.05,
                "cpu_temp_c": 46 + rng.gauss(0, 0.7),
            }
            for q, v in values.items():  # edge/health.py sends these with source "health"
                storm.lines.append(_reading(q, f"{gw}-health", site, gw, v, i + 1, t, source="health"))
    down_at = storm.start + int(OUTAGE_H[0] * 3600)
    up_at = storm.start + int(OUTAGE_H[1] * 3600)
    storm.lines += [
        line("gateway_status", {"gateway": "fs-gw02"}, {"online": 0}, down_at),
        line("gateway_status", {"gateway": "fs-gw02"}, {"online": 1}, up_at),
        line(
            "autonomy",
            {"gateway": "fs-gw02", "site": "fs-hp02"},
            {"relay_on": 1, "reason": "hub unreachable; rain_1h 70.5 mm >= 60 (orange)"},
            down_at + 900,
        ),
        line(
            "autonomy",
            {"gateway": "fs-gw02", "site": "fs-hp02"},
            {"relay_on": 0, "reason": "hub reachable again; hub takes over"},
            up_at + 60,
        ),
        line(
            "annotation",
            {"site": "fs-hp02", "kind": "autonomy"},
            {
                "title": "网关本地报警",
                "text": "fs-gw02 lost its uplink and sounded the siren",
                "level_num": 3,
            },
            down_at + 900,
        ),
    ]
    for k in range(4):
        storm.lines.append(
            line(
                "rejected",
                {"origin": "fs-gw02", "reason": "bad_crc"},
                {"n": 1, "detail": f"fs-hp02-wl1 frame crc mismatch #{k}"},
                up_at + 120 + k,
            )
        )
    # What the hub wrote for the Gateways dashboard, through its own line format: fs-gw02 came back
    # from its outage with a new SD card and its clock 3 h behind.
    storm.lines += [
        notice_line(
            "fs-gw02", "new_outbox", "序号重新从1开始：新的存储卡或重装的网关（读数照常接收）", up_at
        ),
        notice_line("fs-gw02", "clock", "凤山村设备fs-gw02时钟慢3小时0分，读数已按实际时间校正", up_at + 1),
    ]
    storm.lines.append(
        line(
            "rejected",
            {"origin": "unknown", "reason": "unknown_sensor"},
            {"n": 1, "detail": "fs-hp09-rg1 not in the village config"},
            storm.start + 7200,
        )
    )


def _iso(t: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(start: int = DEFAULT_START, seed: int = 7) -> Storm:
    rng = random.Random(seed)
    storm = Storm(start=start, end=start + HOURS * 3600)
    _rain(storm, rng)
    _ground(storm, rng)
    _forecast_and_warnings(storm, rng)
    _gateways(storm, rng)
    _unusable_rain(storm)
    _node_health(storm)
    storm.lines += alert_rows(storm.rain, storm.start, rng)
    return storm


def load(client: InfluxClient, start: int = DEFAULT_START) -> Storm:
    """Create the database and write the whole storm in batches, as the hub's store does."""
    storm = build(start)
    client.create_database()
    for k in range(0, len(storm.lines), 5000):
        client.write(storm.lines[k : k + 5000])
    return storm


def iso_to_epoch(stamp: str) -> int:
    import datetime as dt

    return int(dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp())
