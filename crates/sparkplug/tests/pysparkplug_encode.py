"""Encodes Sparkplug B messages with pysparkplug (an independent implementation)
and prints one JSON object per message: topic, payload as hex, and the values we
expect our decoder to read, as JSON (bytes as lists of integers, date-times as
epoch milliseconds). Run by tests/pysparkplug.rs; never imported."""

import datetime
import json
import sys

import pysparkplug as sp

D = sp.DataType
TS = 1_700_000_000_000
WHEN = datetime.datetime.fromtimestamp(TS / 1000, tz=datetime.timezone.utc)

# (name, datatype, value, expected JSON)
CASES = [
    ("i8", D.INT8, -5, -5),
    ("i16", D.INT16, -300, -300),
    ("i32", D.INT32, -70000, -70000),
    ("i64", D.INT64, -5_000_000_000_000, -5_000_000_000_000),
    ("u8", D.UINT8, 200, 200),
    ("u16", D.UINT16, 60000, 60000),
    ("u32", D.UINT32, 4_000_000_000, 4_000_000_000),
    ("u64", D.UINT64, 2**63 + 5, 2**63 + 5),
    ("f", D.FLOAT, 1.5, 1.5),
    ("d", D.DOUBLE, 2.25, 2.25),
    ("b", D.BOOLEAN, True, True),
    ("s", D.STRING, "héllo/wörld", "héllo/wörld"),
    ("t", D.TEXT, "long text", "long text"),
    ("uuid", D.UUID, "123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456-426614174000"),
    ("dt", D.DATETIME, WHEN, TS),
    ("bytes", D.BYTES, b"\x00\x01\xff", [0, 1, 255]),
    ("i8a", D.INT8_ARRAY, (-1, 2, -128), [-1, 2, -128]),
    ("i16a", D.INT16_ARRAY, (-1000, 1000), [-1000, 1000]),
    ("i32a", D.INT32_ARRAY, (-70000, 5), [-70000, 5]),
    ("i64a", D.INT64_ARRAY, (-(2**40), 7), [-(2**40), 7]),
    ("u8a", D.UINT8_ARRAY, (0, 255), [0, 255]),
    ("u16a", D.UINT16_ARRAY, (65535,), [65535]),
    ("u32a", D.UINT32_ARRAY, (4_000_000_000,), [4_000_000_000]),
    ("u64a", D.UINT64_ARRAY, (2**64 - 1,), [2**64 - 1]),
    ("fa", D.FLOAT_ARRAY, (0.5, -2.0), [0.5, -2.0]),
    ("da", D.DOUBLE_ARRAY, (1.25, 3.5), [1.25, 3.5]),
    ("ba", D.BOOLEAN_ARRAY, (True, False, True, True, False, False, False, False, True), [True, False, True, True, False, False, False, False, True]),
    ("sa", D.STRING_ARRAY, ("a", "bc", ""), ["a", "bc", ""]),
    ("dta", D.DATETIME_ARRAY, (WHEN,), [TS]),
]


def emit(topic, payload, expect):
    print(json.dumps({"topic": topic, "payload": payload.encode().hex(), "expect": expect}))


def main():
    birth_metrics = [sp.Metric(timestamp=TS, name="bdSeq", datatype=D.INT64, value=3)]
    for alias, (name, dt, value, _) in enumerate(CASES, start=1):
        birth_metrics.append(sp.Metric(timestamp=TS, name=name, datatype=dt, value=value, alias=alias))
    emit("spBv1.0/plant/NBIRTH/edge1", sp.NBirth(timestamp=TS, seq=0, metrics=tuple(birth_metrics)),
         {name: expected for name, _, _, expected in CASES})

    # Data by alias only: our host must resolve names and types from the birth.
    data = tuple(sp.Metric(timestamp=TS + 1, name=None, datatype=dt, value=value, alias=alias)
                 for alias, (name, dt, value, _) in enumerate(CASES, start=1))
    emit("spBv1.0/plant/NDATA/edge1", sp.NData(timestamp=TS + 1, seq=1, metrics=data),
         {name: expected for name, _, _, expected in CASES})

    dbirth = sp.DBirth(timestamp=TS, seq=2, metrics=(
        sp.Metric(timestamp=TS, name="level", datatype=D.DOUBLE, value=0.5, alias=1000),
        sp.Metric(timestamp=TS, name="null", datatype=D.INT32, value=None, alias=1001, is_null=True),
    ))
    emit("spBv1.0/plant/DBIRTH/edge1/tank", dbirth, {"level": 0.5, "null": None})
    ddata = sp.DData(timestamp=TS + 2, seq=3, metrics=(
        sp.Metric(timestamp=TS + 2, name=None, datatype=D.DOUBLE, value=0.75, alias=1000),
    ))
    emit("spBv1.0/plant/DDATA/edge1/tank", ddata, {"level": 0.75})
    emit("spBv1.0/plant/NDEATH/edge1",
         sp.NDeath(timestamp=TS + 3, bd_seq_metric=sp.Metric(timestamp=TS + 3, name="bdSeq", datatype=D.INT64, value=3)),
         {})


if __name__ == "__main__":
    sys.exit(main())
