"""What the panels and the report both draw: level and delivery labels, critical rainfall, sensor limits."""

from __future__ import annotations

from dataclasses import dataclass

LEVELS: tuple[str, ...] = ("blue", "yellow", "orange", "red")
LEVEL_ZH: dict[str, str] = {"blue": "蓝色 IV", "yellow": "黄色 III", "orange": "橙色 II", "red": "红色 I"}
# Delivery channels and states (the `delivery` measurement's tags) as officers read them.
CHANNEL_ZH: dict[str, str] = {
    "sms": "短信",
    "broadcast": "广播",
    "drone": "无人机",
    "cap": "CAP",
    "console": "控制台",
    "mqtt": "MQTT",
}
STATE_ZH: dict[str, str] = {"sent": "已发送", "failed": "失败", "retry": "重试", "suppressed": "已抑制"}
# Grafana's named colours; "green" stands for "no warning" on the base step.
LEVEL_COLOR: dict[str, str] = {
    "none": "green",
    "blue": "blue",
    "yellow": "yellow",
    "orange": "orange",
    "red": "red",
}
# The same colours for matplotlib (printed report), chosen to stay distinct on a grey-scale printout too.
LEVEL_RGB: dict[str, str] = {
    "none": "#4caf50",
    "blue": "#1f6fd1",
    "yellow": "#f2c200",
    "orange": "#f07c00",
    "red": "#d01c1c",
}


@dataclass(frozen=True, slots=True)
class Limits:
    """Lower bounds (inclusive) of the blue, yellow, orange and red levels for one quantity."""

    key: str
    title: str
    unit: str
    blue: float
    yellow: float
    orange: float
    red: float

    def steps(self) -> list[tuple[str, float]]:
        return [("blue", self.blue), ("yellow", self.yellow), ("orange", self.orange), ("red", self.red)]

    def level_of(self, value: float) -> str:
        level = "none"
        for name, bound in self.steps():
            if value >= bound:
                level = name
        return level


# Flash-flood critical rainfall (临界雨量) for the Fengshan gully, mm accumulated over the window.
RAIN_WINDOWS: dict[str, Limits] = {
    "1h": Limits("1h", "1小时雨量", "mm", 35, 45, 60, 80),
    "3h": Limits("3h", "3小时雨量", "mm", 55, 75, 100, 120),
    "6h": Limits("6h", "6小时雨量", "mm", 70, 95, 120, 150),
    "24h": Limits("24h", "24小时雨量", "mm", 100, 130, 160, 200),
}
WINDOW_HOURS: dict[str, int] = {"1h": 1, "3h": 3, "6h": 6, "24h": 24}

# Default sensor limits; keep them in step with the deployed rules (deploy/fengshan rules YAML).
# Velocities are per day, the unit monitoring practice in China uses for slope deformation.
SENSOR_LIMITS: dict[str, Limits] = {
    "disp_rate": Limits("disp_rate", "位移速率", "mm/d", 2, 5, 10, 20),
    "crack_rate": Limits("crack_rate", "裂缝速率", "mm/d", 1, 3, 5, 10),
    "tilt_rate": Limits("tilt_rate", "倾角速率", "°/d", 0.05, 0.1, 0.2, 0.5),
    # Improved tangent angle (改进切线角): 45° is the constant-velocity stage, 80–85° acceleration.
    "tangent": Limits("tangent", "改进切线角", "°", 45, 80, 85, 89),
    "water_level": Limits("water_level", "水位", "m", 1.5, 2.0, 2.5, 3.0),
    "soil_moisture": Limits("soil_moisture", "土壤含水率", "%", 35, 40, 45, 50),
}
# Constant-velocity-stage displacement rate (mm/d) that normalises the tangent angle, per site.
DEFAULT_V0_MM_PER_DAY = 1.0
