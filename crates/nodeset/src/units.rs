//! A small table from OPC UA engineering units (UNECE Recommendation 20 common
//! codes, as OPC UA Part 8 packs them into `EUInformation.UnitId`, or the display
//! name) to DTDL semantic types and units. Units not in the table stay as text in
//! the description, never guessed.

/// (UNECE common code, display names, DTDL semantic type, DTDL unit).
const UNITS: &[(&str, &[&str], &str, &str)] = &[
    ("CEL", &["°C", "degC"], "Temperature", "degreeCelsius"),
    ("KEL", &["K"], "Temperature", "kelvin"),
    ("FAH", &["°F"], "Temperature", "degreeFahrenheit"),
    ("MTR", &["m"], "Length", "metre"),
    ("MMT", &["mm"], "Length", "millimetre"),
    ("CMT", &["cm"], "Length", "centimetre"),
    ("MTS", &["m/s"], "Velocity", "metrePerSecond"),
    ("KMH", &["km/h"], "Velocity", "kilometrePerHour"),
    (
        "RPM",
        &["rpm", "1/min"],
        "AngularVelocity",
        "revolutionPerMinute",
    ),
    ("BAR", &["bar"], "Pressure", "bar"),
    ("PAL", &["Pa"], "Pressure", "pascal"),
    ("KPA", &["kPa"], "Pressure", "kilopascal"),
    ("WTT", &["W"], "Power", "watt"),
    ("KWT", &["kW"], "Power", "kilowatt"),
    ("KWH", &["kWh"], "Energy", "kilowattHour"),
    ("JOU", &["J"], "Energy", "joule"),
    ("VLT", &["V"], "Voltage", "volt"),
    ("AMP", &["A"], "Current", "ampere"),
    ("HTZ", &["Hz"], "Frequency", "hertz"),
    ("KGM", &["kg"], "Mass", "kilogram"),
    ("GRM", &["g"], "Mass", "gram"),
    ("NEW", &["N"], "Force", "newton"),
    ("NU", &["Nm", "N·m"], "Torque", "newtonMetre"),
    ("SEC", &["s"], "TimeSpan", "second"),
    ("C26", &["ms"], "TimeSpan", "millisecond"),
    ("MIN", &["min"], "TimeSpan", "minute"),
    ("HUR", &["h"], "TimeSpan", "hour"),
    ("DD", &["°", "deg"], "Angle", "degreeOfArc"),
    ("LTR", &["l", "L"], "Volume", "litre"),
    ("P1", &["%"], "RelativeHumidity", "percent"),
];

/// The UNECE common code packed into a `UnitId`: up to three ASCII characters,
/// most significant first.
fn common_code(unit_id: i64) -> Option<String> {
    let id = u32::try_from(unit_id).ok()?;
    let code: String = id
        .to_be_bytes()
        .iter()
        .filter(|byte| **byte != 0)
        .map(|byte| char::from(*byte))
        .collect();
    (!code.is_empty() && code.chars().all(|c| c.is_ascii_alphanumeric())).then_some(code)
}

/// DTDL `(semantic type, unit)` for an engineering unit, if the table knows it.
pub fn dtdl_unit(
    unit_id: Option<i64>,
    display_name: Option<&str>,
) -> Option<(&'static str, &'static str)> {
    if let Some(code) = unit_id.and_then(common_code)
        && let Some(row) = UNITS.iter().find(|row| row.0 == code)
    {
        return Some((row.2, row.3));
    }
    let name = display_name?.trim();
    UNITS
        .iter()
        .find(|row| row.1.contains(&name))
        .map(|row| (row.2, row.3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_codes_and_names() {
        // "CEL" packed as OPC UA Part 8 describes: 0x43454C.
        assert_eq!(
            dtdl_unit(Some(0x0043_454C), None),
            Some(("Temperature", "degreeCelsius"))
        );
        assert_eq!(dtdl_unit(None, Some("mm")), Some(("Length", "millimetre")));
        assert_eq!(dtdl_unit(Some(-1), Some("furlong")), None);
    }
}

#[cfg(test)]
mod validator_tests {
    use super::UNITS;
    use serde_json::json;

    /// Every row of the table names a semantic type and unit that the team's DTDL
    /// validator accepts together, so a mapped unit can never make an import fail.
    #[test]
    fn every_unit_is_accepted_by_the_validator() {
        for (code, _, semantic_type, unit) in UNITS {
            let interface = json!({
                "@context": ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"],
                "@id": "dtmi:test:Units;1",
                "@type": "Interface",
                "contents": [{ "@type": ["Telemetry", semantic_type], "name": "value", "schema": "double", "unit": unit }]
            });
            let mut set = model::ModelSet::new();
            if let Err(problems) = set.add_values(&[interface]) {
                panic!("{code} -> {semantic_type}/{unit} refused: {problems}");
            }
        }
    }
}
