//! The DTDL v3 interface generated from a birth passes the `model` crate's DTDL
//! parser, for a birth holding every datatype, templates and data sets.

use prost::Message;
use sparkplug::pb::{self, payload as wire};
use sparkplug::{DataType, Event, Host, HostConfig};

fn m(name: &str, dt: DataType, v: wire::metric::Value) -> wire::Metric {
    wire::Metric {
        name: Some(name.into()),
        datatype: Some(dt.code()),
        value: Some(v),
        ..Default::default()
    }
}

#[test]
fn interface_from_a_birth_parses_as_dtdl_v3() {
    use wire::metric::Value as V;
    let mut metrics = vec![m("bdSeq", DataType::Int64, V::LongValue(0))];
    for code in 1..=34u32 {
        let dt = DataType::from_code(code).unwrap();
        let name = format!("Folder/{} value", dt.name());
        let mut metric = m(&name, dt, V::IntValue(0));
        metric.value = None;
        metric.is_null = Some(true);
        match dt {
            DataType::DataSet => {
                metric.value = Some(V::DatasetValue(wire::DataSet {
                    num_of_columns: Some(2),
                    columns: vec!["when".into(), "2nd col".into()],
                    types: vec![DataType::DateTime.code(), DataType::Float.code()],
                    rows: vec![],
                }));
                metric.is_null = None;
            }
            DataType::Template => {
                metric.value = Some(V::TemplateValue(wire::Template {
                    template_ref: Some("Motor".into()),
                    metrics: vec![
                        m("rpm", DataType::Float, V::FloatValue(1.0)),
                        m("on/off", DataType::Boolean, V::BooleanValue(true)),
                    ],
                    ..Default::default()
                }));
                metric.is_null = None;
            }
            _ => {}
        }
        metrics.push(metric);
    }
    metrics.push(m("folder value", DataType::Int32, V::IntValue(1))); // collides after sanitizing
    let bytes = pb::Payload {
        seq: Some(0),
        timestamp: Some(1),
        metrics,
        ..Default::default()
    }
    .encode_to_vec();
    let mut host = Host::new(HostConfig::new("h"));
    let out = host.handle("spBv1.0/My Group/NBIRTH/edge.1", &bytes, 1);
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    let Event::Birth {
        source, metrics, ..
    } = &out.events[0]
    else {
        panic!("{out:?}")
    };
    let interface = sparkplug::dtdl::interface(source, 1, metrics);
    let contents = interface["contents"].as_array().unwrap();
    // Every datatype except PropertySet, PropertySetList and Unknown has a schema.
    assert_eq!(contents.len(), 34 - 2 + 1, "{interface:#}");
    let ids = model::ModelSet::new().add_values(std::slice::from_ref(&interface));
    assert!(ids.is_ok(), "{ids:?}\n{interface:#}");
}
