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

/// Semantic types the v3 quantitativeTypes extension adds to the v2 set.
const SEMANTIC_TYPES_V3: &[(&str, &str)] = &[
    ("ApparentEnergy", "ApparentEnergyUnit"),
    ("ApparentPower", "ApparentPowerUnit"),
    ("Concentration", "Unitless"),
    ("Irradiance", "IrradianceUnit"),
    ("ReactiveEnergy", "ReactiveEnergyUnit"),
    ("ReactivePower", "ReactivePowerUnit"),
];

/// Units the v3 quantitativeTypes extension adds, by unit type. Found by
/// asking Microsoft's parser about candidate names (see the crate's
/// differential tests); units it knows but nobody guessed are missing.
const UNITS_V3: &[(&str, &[&str])] = &[
    (
        "ApparentEnergyUnit",
        &["voltAmpereHour", "kilovoltAmpereHour", "megavoltAmpereHour"],
    ),
    (
        "ApparentPowerUnit",
        &["voltAmpere", "kilovoltAmpere", "megavoltAmpere"],
    ),
    ("CurrentUnit", &["kiloampere"]),
    (
        "DensityUnit",
        &["microgramPerCubicMetre", "milligramPerCubicMetre"],
    ),
    (
        "EnergyUnit",
        &[
            "britishThermalUnit",
            "wattHour",
            "megawattHour",
            "gigawattHour",
        ],
    ),
    ("FrequencyUnit", &["millihertz"]),
    ("IrradianceUnit", &["wattPerSquareMetre"]),
    ("MagneticInductionUnit", &["gauss"]),
    ("PressureUnit", &["hectopascal"]),
    (
        "ReactiveEnergyUnit",
        &[
            "voltAmpereReactiveHour",
            "kilovoltAmpereReactiveHour",
            "megavoltAmpereReactiveHour",
        ],
    ),
    (
        "ReactivePowerUnit",
        &[
            "voltAmpereReactive",
            "kilovoltAmpereReactive",
            "megavoltAmpereReactive",
        ],
    ),
    (
        "Unitless",
        &["partsPerMillion", "partsPerBillion", "partsPerTrillion"],
    ),
    (
        "VolumeFlowRateUnit",
        &[
            "cubicMetrePerSecond",
            "cubicMetrePerHour",
            "cubicFootPerMinute",
            "gallonPerMinute",
            "litrePerMinute",
        ],
    ),
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

/// The name inside the DTMI form of a semantic type (`kind` = "class") or
/// unit (`kind` = "unit"): `dtmi:standard:class:Temperature;2` in DTDL v2,
/// `dtmi:dtdl:extension:quantitativeTypes:v1:class:Temperature` in v3.
fn strip_standard<'t>(text: &'t str, kind: &str, version: u32) -> Option<&'t str> {
    if version == 2 {
        let rest = text
            .strip_prefix("dtmi:standard:")?
            .strip_prefix(kind)?
            .strip_prefix(':')?;
        let (name, ver) = rest.rsplit_once(';')?;
        (ver == "2").then_some(name)
    } else {
        text.strip_prefix("dtmi:dtdl:extension:quantitativeTypes:v1:")?
            .strip_prefix(kind)?
            .strip_prefix(':')
            .filter(|name| !name.contains([':', ';']))
    }
}

/// Whether semantic types may be applied to elements of this class.
pub(crate) fn applies_to(class: crate::metamodel::Class, version: u32) -> bool {
    use crate::metamodel::Class;
    match class {
        Class::Property | Class::Telemetry => true,
        Class::CommandRequest | Class::CommandResponse | Class::Field | Class::MapValue => {
            version >= 3
        }
        _ => false,
    }
}

fn semantic_types(version: u32) -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    let extra: &[(&str, &str)] = if version >= 3 { SEMANTIC_TYPES_V3 } else { &[] };
    SEMANTIC_TYPES.iter().chain(extra)
}

fn unit_tables(
    version: u32,
) -> impl Iterator<Item = &'static (&'static str, &'static [&'static str])> {
    let extra: &[(&str, &[&str])] = if version >= 3 { UNITS_V3 } else { &[] };
    UNITS.iter().chain(extra)
}

/// The semantic type named by a term or `dtmi:standard:class:<Type>;2`.
pub(crate) fn lookup_type(text: &str, version: u32) -> Option<&'static str> {
    let name = strip_standard(text, "class", version).unwrap_or(text);
    semantic_types(version)
        .find(|(t, _)| *t == name)
        .map(|(t, _)| *t)
}

/// The unit named by a term or `dtmi:standard:unit:<unit>;2`.
pub(crate) fn lookup_unit(text: &str, version: u32) -> Option<&'static str> {
    let name = strip_standard(text, "unit", version).unwrap_or(text);
    unit_tables(version)
        .flat_map(|(_, units)| units.iter())
        .find(|u| **u == name)
        .copied()
}

/// Whether `text` is a word of the semantic vocabulary: a semantic type, a
/// unit or a unit type.
pub(crate) fn is_term(text: &str, version: u32) -> bool {
    lookup_type(text, version).is_some()
        || lookup_unit(text, version).is_some()
        || unit_tables(version).any(|(unit_type, _)| *unit_type == text)
}

/// Whether `unit` is a unit of the semantic type `semantic_type`.
pub(crate) fn unit_fits(semantic_type: &str, unit: &str, version: u32) -> bool {
    let Some((_, unit_type)) = semantic_types(version).find(|(t, _)| *t == semantic_type) else {
        return false;
    };
    unit_tables(version)
        .filter(|(t, _)| t == unit_type)
        .any(|(_, units)| units.contains(&unit))
}
