//! Semantic types (co-types like `Temperature`) and their units: built into
//! DTDL v2, provided by the `quantitativeTypes` extension in DTDL v3. A
//! semantic type names a unit type; a `unit` must belong to that type.

/// Semantic type term and the unit type whose units it takes.
const SEMANTIC_TYPES: &[(&str, &str)] = &[
    ("Acceleration", "AccelerationUnit"),
    ("Angle", "AngleUnit"),
    ("AngularAcceleration", "AngularAccelerationUnit"),
    ("AngularVelocity", "AngularVelocityUnit"),
    ("Area", "AreaUnit"),
    ("Capacitance", "CapacitanceUnit"),
    ("Current", "CurrentUnit"),
    ("DataRate", "DataRateUnit"),
    ("DataSize", "DataSizeUnit"),
    ("Density", "DensityUnit"),
    ("Distance", "LengthUnit"),
    ("ElectricCharge", "ChargeUnit"),
    ("Energy", "EnergyUnit"),
    ("Force", "ForceUnit"),
    ("Frequency", "FrequencyUnit"),
    ("Humidity", "DensityUnit"),
    ("Illuminance", "IlluminanceUnit"),
    ("Inductance", "InductanceUnit"),
    ("Latitude", "AngleUnit"),
    ("Longitude", "AngleUnit"),
    ("Length", "LengthUnit"),
    ("Luminance", "LuminanceUnit"),
    ("Luminosity", "PowerUnit"),
    ("LuminousFlux", "LuminousFluxUnit"),
    ("LuminousIntensity", "LuminousIntensityUnit"),
    ("MagneticFlux", "MagneticFluxUnit"),
    ("MagneticInduction", "MagneticInductionUnit"),
    ("Mass", "MassUnit"),
    ("MassFlowRate", "MassFlowRateUnit"),
    ("Power", "PowerUnit"),
    ("Pressure", "PressureUnit"),
    ("RelativeHumidity", "Unitless"),
    ("Resistance", "ResistanceUnit"),
    ("SoundPressure", "SoundPressureUnit"),
    ("Temperature", "TemperatureUnit"),
    ("Thrust", "ForceUnit"),
    ("TimeSpan", "TimeUnit"),
    ("Torque", "TorqueUnit"),
    ("Velocity", "VelocityUnit"),
    ("Voltage", "VoltageUnit"),
    ("Volume", "VolumeUnit"),
    ("VolumeFlowRate", "VolumeFlowRateUnit"),
];

/// Unit type and its units.
const UNITS: &[(&str, &[&str])] = &[
    (
        "AccelerationUnit",
        &[
            "metrePerSecondSquared",
            "centimetrePerSecondSquared",
            "gForce",
        ],
    ),
    (
        "AngleUnit",
        &[
            "radian",
            "degreeOfArc",
            "minuteOfArc",
            "secondOfArc",
            "turn",
        ],
    ),
    ("AngularAccelerationUnit", &["radianPerSecondSquared"]),
    (
        "AngularVelocityUnit",
        &[
            "radianPerSecond",
            "degreePerSecond",
            "revolutionPerSecond",
            "revolutionPerMinute",
        ],
    ),
    (
        "AreaUnit",
        &[
            "squareMetre",
            "squareCentimetre",
            "squareMillimetre",
            "squareKilometre",
            "hectare",
            "squareFoot",
            "squareInch",
            "acre",
        ],
    ),
    (
        "CapacitanceUnit",
        &[
            "farad",
            "millifarad",
            "microfarad",
            "nanofarad",
            "picofarad",
        ],
    ),
    ("ChargeUnit", &["coulomb"]),
    ("CurrentUnit", &["ampere", "microampere", "milliampere"]),
    (
        "DataRateUnit",
        &[
            "bitPerSecond",
            "kibibitPerSecond",
            "mebibitPerSecond",
            "gibibitPerSecond",
            "tebibitPerSecond",
            "exbibitPerSecond",
            "zebibitPerSecond",
            "yobibitPerSecond",
            "bytePerSecond",
            "kibibytePerSecond",
            "mebibytePerSecond",
            "gibibytePerSecond",
            "tebibytePerSecond",
            "exbibytePerSecond",
            "zebibytePerSecond",
            "yobibytePerSecond",
        ],
    ),
    (
        "DataSizeUnit",
        &[
            "bit", "kibibit", "mebibit", "gibibit", "tebibit", "exbibit", "zebibit", "yobibit",
            "byte", "kibibyte", "mebibyte", "gibibyte", "tebibyte", "exbibyte", "zebibyte",
            "yobibyte",
        ],
    ),
    (
        "DensityUnit",
        &["kilogramPerCubicMetre", "gramPerCubicMetre"],
    ),
    (
        "EnergyUnit",
        &[
            "joule",
            "kilojoule",
            "megajoule",
            "gigajoule",
            "electronvolt",
            "megaelectronvolt",
            "kilowattHour",
        ],
    ),
    ("ForceUnit", &["newton", "pound", "ounce", "ton"]),
    (
        "FrequencyUnit",
        &["hertz", "kilohertz", "megahertz", "gigahertz"],
    ),
    ("IlluminanceUnit", &["lux", "footcandle"]),
    ("InductanceUnit", &["henry", "millihenry", "microhenry"]),
    (
        "LengthUnit",
        &[
            "metre",
            "centimetre",
            "millimetre",
            "micrometre",
            "nanometre",
            "kilometre",
            "foot",
            "inch",
            "mile",
            "nauticalMile",
            "astronomicalUnit",
        ],
    ),
    ("LuminanceUnit", &["candelaPerSquareMetre"]),
    ("LuminousFluxUnit", &["lumen"]),
    ("LuminousIntensityUnit", &["candela"]),
    ("MagneticFluxUnit", &["weber", "maxwell"]),
    ("MagneticInductionUnit", &["tesla"]),
    (
        "MassUnit",
        &[
            "kilogram",
            "gram",
            "milligram",
            "microgram",
            "tonne",
            "slug",
        ],
    ),
    (
        "MassFlowRateUnit",
        &[
            "gramPerSecond",
            "kilogramPerSecond",
            "gramPerHour",
            "kilogramPerHour",
        ],
    ),
    (
        "PowerUnit",
        &[
            "watt",
            "microwatt",
            "milliwatt",
            "kilowatt",
            "megawatt",
            "gigawatt",
            "horsepower",
            "kilowattHourPerYear",
        ],
    ),
    (
        "PressureUnit",
        &[
            "pascal",
            "kilopascal",
            "bar",
            "millibar",
            "millimetresOfMercury",
            "poundPerSquareInch",
            "inchesOfMercury",
            "inchesOfWater",
        ],
    ),
    ("ResistanceUnit", &["ohm", "milliohm", "kiloohm", "megaohm"]),
    ("SoundPressureUnit", &["decibel", "bel"]),
    (
        "TemperatureUnit",
        &["kelvin", "degreeCelsius", "degreeFahrenheit"],
    ),
    (
        "TimeUnit",
        &[
            "second",
            "millisecond",
            "microsecond",
            "nanosecond",
            "minute",
            "hour",
            "day",
            "year",
        ],
    ),
    ("TorqueUnit", &["newtonMetre"]),
    ("Unitless", &["unity", "percent"]),
    (
        "VelocityUnit",
        &[
            "metrePerSecond",
            "centimetrePerSecond",
            "kilometrePerSecond",
            "metrePerHour",
            "kilometrePerHour",
            "milePerHour",
            "milePerSecond",
            "knot",
        ],
    ),
    (
        "VoltageUnit",
        &["volt", "millivolt", "microvolt", "kilovolt", "megavolt"],
    ),
    (
        "VolumeUnit",
        &[
            "cubicMetre",
            "cubicCentimetre",
            "litre",
            "millilitre",
            "cubicFoot",
            "cubicInch",
            "fluidOunce",
            "gallon",
        ],
    ),
    (
        "VolumeFlowRateUnit",
        &[
            "litrePerSecond",
            "millilitrePerSecond",
            "litrePerHour",
            "millilitrePerHour",
        ],
    ),
];

/// Version suffix of `dtmi:standard:` identifiers in each DTDL version.
fn standard_version(version: u32) -> &'static str {
    if version == 2 { "2" } else { "4" }
}

fn strip_standard<'t>(text: &'t str, kind: &str, version: u32) -> Option<&'t str> {
    let rest = text
        .strip_prefix("dtmi:standard:")?
        .strip_prefix(kind)?
        .strip_prefix(':')?;
    let (name, ver) = rest.rsplit_once(';')?;
    (ver == standard_version(version)).then_some(name)
}

/// The semantic type named by a term or `dtmi:standard:class:<Type>;2`.
pub(crate) fn lookup_type(text: &str, version: u32) -> Option<&'static str> {
    let name = strip_standard(text, "class", version).unwrap_or(text);
    SEMANTIC_TYPES
        .iter()
        .find(|(t, _)| *t == name)
        .map(|(t, _)| *t)
}

/// The unit named by a term or `dtmi:standard:unit:<unit>;2`.
pub(crate) fn lookup_unit(text: &str, version: u32) -> Option<&'static str> {
    let name = strip_standard(text, "unit", version).unwrap_or(text);
    UNITS
        .iter()
        .flat_map(|(_, units)| units.iter())
        .find(|u| **u == name)
        .copied()
}

/// Whether `unit` is a unit of the semantic type `semantic_type`.
pub(crate) fn unit_fits(semantic_type: &str, unit: &str, _version: u32) -> bool {
    let Some((_, unit_type)) = SEMANTIC_TYPES.iter().find(|(t, _)| *t == semantic_type) else {
        return false;
    };
    UNITS
        .iter()
        .find(|(t, _)| t == unit_type)
        .is_some_and(|(_, units)| units.contains(&unit))
}
