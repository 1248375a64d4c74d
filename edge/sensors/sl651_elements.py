"""SL 651-2014 Appendix C: element identifiers (code, ASCII name, Chinese name, unit), function codes, classes."""

from __future__ import annotations

from typing import NamedTuple


class Element(NamedTuple):
    code: int  # identifier byte in HEX/BCD frames
    ident: str  # identifier in ASCII frames
    name: str  # name as the standard gives it
    unit: str


_TABLE = (
    (0x01, "AC", "断面面积", "m²"),
    (0x02, "AI", "瞬时气温", "°C"),
    (0x03, "C", "瞬时水温", "°C"),
    (0x04, "DRxnn", "时间步长码", ""),
    (0x05, "DT", "时段长", "HH.mm"),
    (0x06, "ED", "日蒸发量", "mm"),
    (0x07, "EJ", "当前蒸发", "mm"),
    (0x08, "FL", "气压", "hPa"),
    (0x09, "GH", "闸坝、水库闸门开启高度", "m"),
    (0x0A, "GN", "输水设备、闸门(组)编号", ""),
    (0x0B, "GS", "输水设备类别", ""),
    (0x0C, "GT", "水库、闸坝闸门开启孔数", ""),
    (0x0D, "GTP", "地温", "°C"),
    (0x0E, "H", "地下水瞬时埋深", "m"),
    (0x0F, "HW", "波浪高度", "m"),
    (0x10, "M10", "10厘米处土壤含水量", "%"),
    (0x11, "M20", "20厘米处土壤含水量", "%"),
    (0x12, "M30", "30厘米处土壤含水量", "%"),
    (0x13, "M40", "40厘米处土壤含水量", "%"),
    (0x14, "M50", "50厘米处土壤含水量", "%"),
    (0x15, "M60", "60厘米处土壤含水量", "%"),
    (0x16, "M80", "80厘米处土壤含水量", "%"),
    (0x17, "M100", "100厘米处土壤含水量", "%"),
    (0x18, "MST", "湿度", "%"),
    (0x19, "NS", "开机台数", ""),
    (0x1A, "P1", "1小时时段降水量", "mm"),
    (0x1B, "P2", "2小时时段降水量", "mm"),
    (0x1C, "P3", "3小时时段降水量", "mm"),
    (0x1D, "P6", "6小时时段降水量", "mm"),
    (0x1E, "P12", "12小时时段降水量", "mm"),
    (0x1F, "PD", "日降水量", "mm"),
    (0x20, "PJ", "当前降水量", "mm"),
    (0x21, "PN01", "1分钟时段降水量", "mm"),
    (0x22, "PN05", "5分钟时段降水量", "mm"),
    (0x23, "PN10", "10分钟时段降水量", "mm"),
    (0x24, "PN30", "30分钟时段降水量", "mm"),
    (0x25, "PR", "暴雨量", "mm"),
    (0x26, "PT", "降水量累计值", "mm"),
    (0x27, "Q", "瞬时流量、抽水流量", "m³/s"),
    *((0x28 + i, f"Q{i + 1}", f"取(排)水口流量{i + 1}", "m³/s") for i in range(8)),
    (0x30, "QA", "总出库流量、过闸总流量", "m³/s"),
    (0x31, "QZ", "输水设备流量、过闸(组)流量", "m³/s"),
    (0x32, "SW", "输沙量", "万吨"),
    (0x33, "UC", "风向", ""),
    (0x34, "UE", "风力(级)", ""),
    (0x35, "US", "风速", "m/s"),
    (0x36, "VA", "断面平均流速", "m/s"),
    (0x37, "VJ", "当前瞬时流速", "m/s"),
    (0x38, "VT", "电源电压", "V"),
    (0x39, "Z", "瞬时河道水位、潮位", "m"),
    (0x3A, "ZB", "库(闸、站)下水位", "m"),
    (0x3B, "ZU", "库(闸、站)上水位", "m"),
    *((0x3C + i, f"Z{i + 1}", f"取(排)水口水位{i + 1}", "m") for i in range(8)),
    (0x44, "SQ", "含沙量", "kg/m³"),
    (0x45, "ZT", "遥测站状态及报警信息", ""),
    (0x46, "pH", "pH值", ""),
    (0x47, "DO", "溶解氧", "mg/L"),
    (0x48, "COND", "电导率", "μS/cm"),
    (0x49, "TURB", "浊度", "度"),
    (0xF4, "DRP", "1小时内每5分钟时段雨量", "mm"),
    *((0xF5 + i, f"DRZ{i + 1}", f"1小时内5分钟间隔相对水位{i + 1}", "m") for i in range(8)),
)

ELEMENTS: dict[int, Element] = {code: Element(code, ident, name, unit) for code, ident, name, unit in _TABLE}
BY_IDENT: dict[str, Element] = {e.ident: e for e in ELEMENTS.values()}

FUNCTIONS: dict[int, str] = {
    0x2F: "链路维持报",
    0x30: "测试报",
    0x31: "均匀时段水文信息报",
    0x32: "遥测站定时报",
    0x33: "遥测站加报报",
    0x34: "遥测站小时报",
    0x35: "遥测站人工置数报",
    0x36: "遥测站图片报",
    0x37: "中心站查询遥测站实时数据",
    0x38: "中心站查询遥测站时段数据",
    0x3A: "中心站查询遥测站指定要素数据",
}

# Station class codes (遥测站分类码), ASCII letters sent as one byte in HEX frames.
STATION_CLASSES: dict[str, str] = {
    "P": "降水",
    "H": "河道",
    "K": "水库(湖泊)",
    "Z": "闸坝",
    "D": "泵站",
    "T": "潮汐",
    "M": "墒情",
    "G": "地下水",
    "Q": "水质",
    "I": "取水口",
    "O": "排水口",
}

# Control characters (6.2 报文帧控制字符)
SOH_ASCII, STX, SYN, ETX, ETB, ENQ, EOT, ACK, NAK, ESC = (
    0x01,
    0x02,
    0x16,
    0x03,
    0x17,
    0x05,
    0x04,
    0x06,
    0x15,
    0x1B,
)
ENDINGS = {ETX: "ETX", ETB: "ETB", ENQ: "ENQ", EOT: "EOT", ACK: "ACK", NAK: "NAK", ESC: "ESC"}
