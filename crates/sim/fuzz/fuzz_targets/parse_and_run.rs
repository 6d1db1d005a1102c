//! Fuzz target: any bytes as an OpenSCENARIO document. Parsing must return a
//! scenario or an error, never panic; a parsed scenario runs a bounded stretch
//! without a road network. Run: `cd crates/sim/fuzz && cargo +nightly fuzz run parse_and_run`.

#![no_main]

use libfuzzer_sys::fuzz_target;

/// Catalog text offered to every `CatalogLocations` directory, so catalog
/// references are exercised too.
const CATALOG: &str = r#"<OpenSCENARIO><FileHeader revMajor="1" revMinor="2"/><Catalog name="C">
<Vehicle name="car" vehicleCategory="car"><ParameterDeclarations><ParameterDeclaration name="S" parameterType="double" value="50"/></ParameterDeclarations>
<BoundingBox><Center x="1" y="0" z="1"/><Dimensions width="2" length="4" height="1.5"/></BoundingBox>
<Performance maxSpeed="$S" maxAcceleration="5" maxDeceleration="9"/></Vehicle></Catalog></OpenSCENARIO>"#;

struct Fixed;

impl sim::Resolver for Fixed {
    fn read(&self, _path: &str) -> Result<String, String> {
        Ok(CATALOG.to_string())
    }
    fn list(&self, _directory: &str) -> Result<Vec<String>, String> {
        Ok(vec!["c.xosc".to_string()])
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(scenario) = sim::Scenario::parse(text, "fuzz.xosc", &Fixed)
        && let Ok(mut runner) = sim::Runner::new(scenario, None, 0.1)
    {
        let _ = runner.run_to_end(2.0);
    }
});
