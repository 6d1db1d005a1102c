//! One view of MQTT 3.1.1 and 5 for the broker: decoding with `rmqtt-codec`
//! into [`Inbound`] packets, and encoding [`Outbound`] ones for the version the
//! client connected with. Version differences (reason codes, properties) end here.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use rmqtt_codec::error::DecodeError;
use rmqtt_codec::types::{Publish, QoS};
use rmqtt_codec::{v3, v5};
use tokio_util::codec::{Decoder, Encoder};

/// The CONNECT fields the broker uses, from either version.
pub(crate) struct ConnectInfo {
    pub v5: bool,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<Bytes>,
    pub clean_start: bool,
    pub keep_alive_secs: u16,
    /// MQTT 5 session expiry; MQTT 3.1.1 persistent sessions get `u32::MAX`.
    pub session_expiry_secs: u32,
    pub receive_max: u16,
    pub max_packet_size: Option<u32>,
    pub will: Option<Will>,
}

/// A last will.
#[derive(Clone)]
pub(crate) struct Will {
    pub topic: ByteString,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
}

/// A requested subscription.
pub(crate) struct SubscribeRequest {
    pub filter: String,
    pub qos: u8,
    pub no_local: bool,
    pub retain_as_published: bool,
    /// 0 send retained, 1 only for a new subscription, 2 never.
    pub retain_handling: u8,
}

/// A packet from a client.
pub(crate) enum Inbound {
    Connect(Box<ConnectInfo>),
    Publish(Box<Publish>),
    PubAck(u16),
    PubRec,
    PubRel(u16),
    PubComp,
    Subscribe {
        packet_id: u16,
        filters: Vec<SubscribeRequest>,
        has_id: bool,
    },
    Unsubscribe {
        packet_id: u16,
        filters: Vec<String>,
    },
    PingReq,
    /// `with_will`: MQTT 5 reason 0x04 asks for the will to be sent anyway.
    Disconnect {
        with_will: bool,
        session_expiry_secs: Option<u32>,
    },
    /// A packet a client must not send (CONNACK, SUBACK, AUTH, a second CONNECT).
    Unexpected(&'static str),
}

/// A packet to a client. Reason codes are MQTT 5's; for MQTT 3.1.1 they are
/// turned into the nearest 3.1.1 answer (or dropped where 3.1.1 has none).
pub(crate) enum Outbound {
    ConnAck {
        session_present: bool,
        reason: u8,
        assigned_client_id: Option<String>,
        /// MQTT 5: the session expiry granted, when less than asked.
        session_expiry_secs: Option<u32>,
        keep_alive_secs: Option<u16>,
        receive_max: u16,
        packet_bytes_max: u32,
    },
    PubAck {
        packet_id: u16,
        reason: u8,
    },
    PubRec {
        packet_id: u16,
        reason: u8,
    },
    PubComp {
        packet_id: u16,
    },
    SubAck {
        packet_id: u16,
        reasons: Vec<u8>,
    },
    UnsubAck {
        packet_id: u16,
        reasons: Vec<u8>,
    },
    PingResp,
    Disconnect {
        reason: u8,
    },
}

/// MQTT 5 reason codes the broker uses.
pub(crate) mod reason {
    pub(crate) const SUCCESS: u8 = 0x00;
    pub(crate) const UNSPECIFIED: u8 = 0x80;
    pub(crate) const MALFORMED: u8 = 0x81;
    pub(crate) const PROTOCOL_ERROR: u8 = 0x82;
    pub(crate) const IMPLEMENTATION_SPECIFIC: u8 = 0x83;
    pub(crate) const CLIENT_ID_NOT_VALID: u8 = 0x85;
    pub(crate) const BAD_USER_OR_PASSWORD: u8 = 0x86;
    pub(crate) const NOT_AUTHORIZED: u8 = 0x87;
    pub(crate) const SERVER_BUSY: u8 = 0x89;
    pub(crate) const SERVER_SHUTTING_DOWN: u8 = 0x8B;
    pub(crate) const KEEP_ALIVE_TIMEOUT: u8 = 0x8D;
    pub(crate) const SESSION_TAKEN_OVER: u8 = 0x8E;
    pub(crate) const TOPIC_FILTER_INVALID: u8 = 0x8F;
    pub(crate) const TOPIC_NAME_INVALID: u8 = 0x90;
    pub(crate) const RECEIVE_MAXIMUM_EXCEEDED: u8 = 0x93;
    pub(crate) const TOPIC_ALIAS_INVALID: u8 = 0x94;
    pub(crate) const PACKET_TOO_LARGE: u8 = 0x95;
    pub(crate) const QUOTA_EXCEEDED: u8 = 0x97;
    pub(crate) const PAYLOAD_FORMAT_INVALID: u8 = 0x99;
    pub(crate) const SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: u8 = 0x9E;
    pub(crate) const SUBSCRIPTION_IDS_NOT_SUPPORTED: u8 = 0xA1;
}

/// The codec of one connection.
pub(crate) enum Codec {
    V3(v3::Codec),
    V5(v5::Codec),
}

/// Why decoding stopped.
pub(crate) enum DecodeFailure {
    TooLarge { size: u32, max: u32 },
    Malformed(String),
}

impl From<DecodeError> for DecodeFailure {
    fn from(error: DecodeError) -> Self {
        match error {
            DecodeError::MaxSizeExceeded { size, max } => DecodeFailure::TooLarge { size, max },
            other => DecodeFailure::Malformed(other.to_string()),
        }
    }
}

/// Which version a connection speaks, read from its first bytes (the CONNECT
/// header) without consuming them. `Ok(None)`: more bytes are needed.
pub(crate) fn detect(
    buf: &mut BytesMut,
    packet_bytes_max: u32,
) -> Result<Option<Codec>, DecodeFailure> {
    let version = rmqtt_codec::version::VersionCodec.decode(buf)?;
    Ok(version.map(|v| match v {
        rmqtt_codec::version::ProtocolVersion::MQTT3 => Codec::V3(v3::Codec::new(packet_bytes_max)),
        rmqtt_codec::version::ProtocolVersion::MQTT5 => {
            Codec::V5(v5::Codec::new(packet_bytes_max, 0))
        }
    }))
}

fn nz(id: u16) -> NonZeroU16 {
    // Packet ids the broker sends are never 0 (see `next_packet_id`); ids echoed
    // back come from decoded packets, which the codec checked to be non-zero.
    NonZeroU16::new(id).unwrap_or(NonZeroU16::MIN)
}

fn qos_u8(qos: QoS) -> u8 {
    match qos {
        QoS::AtMostOnce => 0,
        QoS::AtLeastOnce => 1,
        QoS::ExactlyOnce => 2,
    }
}

pub(crate) fn qos_of(level: u8) -> QoS {
    match level {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

impl Codec {
    pub(crate) fn is_v5(&self) -> bool {
        matches!(self, Codec::V5(_))
    }

    /// The next complete packet in `buf`, if any.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Inbound>, DecodeFailure> {
        match self {
            Codec::V3(codec) => Ok(codec.decode(buf)?.map(|(packet, _)| from_v3(packet))),
            Codec::V5(codec) => Ok(codec.decode(buf)?.map(|(packet, _)| from_v5(packet))),
        }
    }

    /// Appends `packet` to `out`.
    pub(crate) fn encode(&mut self, packet: Outbound, out: &mut BytesMut) {
        let result = match self {
            Codec::V3(codec) => match to_v3(packet) {
                Some(packet) => codec.encode(packet, out),
                None => Ok(()),
            },
            Codec::V5(codec) => codec.encode(to_v5(packet), out),
        };
        if let Err(error) = result {
            // Only packets the broker builds reach here; a failure is a broker
            // bug, logged rather than sent half-written.
            tracing::error!(%error, "could not encode an MQTT packet");
        }
    }

    /// Appends a PUBLISH of a delivery to `out`.
    pub(crate) fn encode_publish(&mut self, publish: Publish, out: &mut BytesMut) {
        let result = match self {
            Codec::V3(codec) => codec.encode(v3::Packet::Publish(Box::new(publish)), out),
            Codec::V5(codec) => codec.encode(v5::Packet::Publish(Box::new(publish)), out),
        };
        if let Err(error) = result {
            tracing::error!(%error, "could not encode a PUBLISH");
        }
    }
}

fn from_v3(packet: v3::Packet) -> Inbound {
    match packet {
        v3::Packet::Connect(connect) => {
            let connect = *connect;
            Inbound::Connect(Box::new(ConnectInfo {
                v5: false,
                client_id: connect.client_id.to_string(),
                username: connect.username.map(|u| u.to_string()),
                password: connect.password,
                clean_start: connect.clean_session,
                keep_alive_secs: connect.keep_alive,
                session_expiry_secs: if connect.clean_session { 0 } else { u32::MAX },
                receive_max: u16::MAX,
                max_packet_size: None,
                will: connect.last_will.map(|w| Will {
                    topic: w.topic,
                    payload: w.message,
                    qos: qos_u8(w.qos),
                    retain: w.retain,
                }),
            }))
        }
        v3::Packet::Publish(publish) => Inbound::Publish(publish),
        v3::Packet::PublishAck { packet_id } => Inbound::PubAck(packet_id.get()),
        v3::Packet::PublishReceived { .. } => Inbound::PubRec,
        v3::Packet::PublishRelease { packet_id } => Inbound::PubRel(packet_id.get()),
        v3::Packet::PublishComplete { .. } => Inbound::PubComp,
        v3::Packet::Subscribe {
            packet_id,
            topic_filters,
        } => Inbound::Subscribe {
            packet_id: packet_id.get(),
            filters: topic_filters
                .into_iter()
                .map(|(filter, qos)| SubscribeRequest {
                    filter: filter.to_string(),
                    qos: qos_u8(qos),
                    no_local: false,
                    retain_as_published: false,
                    retain_handling: 0,
                })
                .collect(),
            has_id: false,
        },
        v3::Packet::Unsubscribe {
            packet_id,
            topic_filters,
        } => Inbound::Unsubscribe {
            packet_id: packet_id.get(),
            filters: topic_filters.into_iter().map(|f| f.to_string()).collect(),
        },
        v3::Packet::PingRequest => Inbound::PingReq,
        v3::Packet::Disconnect => Inbound::Disconnect {
            with_will: false,
            session_expiry_secs: None,
        },
        v3::Packet::ConnectAck(_) => Inbound::Unexpected("CONNACK"),
        v3::Packet::SubscribeAck { .. } => Inbound::Unexpected("SUBACK"),
        v3::Packet::UnsubscribeAck { .. } => Inbound::Unexpected("UNSUBACK"),
        v3::Packet::PingResponse => Inbound::Unexpected("PINGRESP"),
    }
}

fn from_v5(packet: v5::Packet) -> Inbound {
    match packet {
        v5::Packet::Connect(connect) => {
            let connect = *connect;
            Inbound::Connect(Box::new(ConnectInfo {
                v5: true,
                client_id: connect.client_id.to_string(),
                username: connect.username.map(|u| u.to_string()),
                password: connect.password,
                clean_start: connect.clean_start,
                keep_alive_secs: connect.keep_alive,
                session_expiry_secs: connect.session_expiry_interval_secs,
                receive_max: connect.receive_max.map_or(u16::MAX, NonZeroU16::get),
                max_packet_size: connect.max_packet_size.map(NonZeroU32::get),
                will: connect.last_will.map(|w| Will {
                    topic: w.topic,
                    payload: w.message,
                    qos: qos_u8(w.qos),
                    retain: w.retain,
                }),
            }))
        }
        v5::Packet::Publish(publish) => Inbound::Publish(publish),
        v5::Packet::PublishAck(ack) => Inbound::PubAck(ack.packet_id.get()),
        v5::Packet::PublishReceived(_) => Inbound::PubRec,
        v5::Packet::PublishRelease(ack) => Inbound::PubRel(ack.packet_id.get()),
        v5::Packet::PublishComplete(_) => Inbound::PubComp,
        v5::Packet::Subscribe(subscribe) => Inbound::Subscribe {
            packet_id: subscribe.packet_id.get(),
            has_id: subscribe.id.is_some(),
            filters: subscribe
                .topic_filters
                .into_iter()
                .map(|(filter, options)| SubscribeRequest {
                    filter: filter.to_string(),
                    qos: qos_u8(options.qos),
                    no_local: options.no_local,
                    retain_as_published: options.retain_as_published,
                    retain_handling: match options.retain_handling {
                        v5::RetainHandling::AtSubscribe => 0,
                        v5::RetainHandling::AtSubscribeNew => 1,
                        v5::RetainHandling::NoAtSubscribe => 2,
                    },
                })
                .collect(),
        },
        v5::Packet::Unsubscribe(unsubscribe) => Inbound::Unsubscribe {
            packet_id: unsubscribe.packet_id.get(),
            filters: unsubscribe
                .topic_filters
                .into_iter()
                .map(|f| f.to_string())
                .collect(),
        },
        v5::Packet::PingRequest => Inbound::PingReq,
        v5::Packet::Disconnect(disconnect) => Inbound::Disconnect {
            with_will: u8::from(disconnect.reason_code) == 0x04,
            session_expiry_secs: disconnect.session_expiry_interval_secs,
        },
        v5::Packet::ConnectAck(_) => Inbound::Unexpected("CONNACK"),
        v5::Packet::SubscribeAck(_) => Inbound::Unexpected("SUBACK"),
        v5::Packet::UnsubscribeAck(_) => Inbound::Unexpected("UNSUBACK"),
        v5::Packet::PingResponse => Inbound::Unexpected("PINGRESP"),
        v5::Packet::Auth(_) => Inbound::Unexpected("AUTH (no enhanced authentication is offered)"),
    }
}

fn to_v3(packet: Outbound) -> Option<v3::Packet> {
    Some(match packet {
        Outbound::ConnAck {
            session_present,
            reason,
            ..
        } => v3::Packet::ConnectAck(v3::ConnectAck {
            session_present,
            return_code: match reason {
                reason::SUCCESS => v3::ConnectAckReason::ConnectionAccepted,
                reason::CLIENT_ID_NOT_VALID => v3::ConnectAckReason::IdentifierRejected,
                reason::BAD_USER_OR_PASSWORD => v3::ConnectAckReason::BadUserNameOrPassword,
                reason::NOT_AUTHORIZED => v3::ConnectAckReason::NotAuthorized,
                _ => v3::ConnectAckReason::ServiceUnavailable,
            },
        }),
        // MQTT 3.1.1 acknowledgements carry no reason: a refusal is a PUBACK too.
        Outbound::PubAck { packet_id, .. } => v3::Packet::PublishAck {
            packet_id: nz(packet_id),
        },
        Outbound::PubRec { packet_id, .. } => v3::Packet::PublishReceived {
            packet_id: nz(packet_id),
        },
        Outbound::PubComp { packet_id } => v3::Packet::PublishComplete {
            packet_id: nz(packet_id),
        },
        Outbound::SubAck { packet_id, reasons } => v3::Packet::SubscribeAck {
            packet_id: nz(packet_id),
            status: reasons
                .into_iter()
                .map(|r| {
                    if r <= 2 {
                        v3::SubscribeReturnCode::Success(qos_of(r))
                    } else {
                        v3::SubscribeReturnCode::Failure
                    }
                })
                .collect(),
        },
        Outbound::UnsubAck { packet_id, .. } => v3::Packet::UnsubscribeAck {
            packet_id: nz(packet_id),
        },
        Outbound::PingResp => v3::Packet::PingResponse,
        // MQTT 3.1.1 has no server DISCONNECT: the connection is just closed.
        Outbound::Disconnect { .. } => return None,
    })
}

fn to_v5(packet: Outbound) -> v5::Packet {
    match packet {
        Outbound::ConnAck {
            session_present,
            reason,
            assigned_client_id,
            session_expiry_secs,
            keep_alive_secs,
            receive_max,
            packet_bytes_max,
        } => v5::Packet::ConnectAck(Box::new(v5::ConnectAck {
            session_present,
            reason_code: v5::ConnectAckReason::try_from(reason)
                .unwrap_or(v5::ConnectAckReason::UnspecifiedError),
            session_expiry_interval_secs: session_expiry_secs,
            receive_max: NonZeroU16::new(receive_max).unwrap_or(NonZeroU16::MIN),
            max_qos: QoS::AtLeastOnce,
            max_packet_size: Some(packet_bytes_max),
            assigned_client_id: assigned_client_id.map(ByteString::from),
            topic_alias_max: 0,
            retain_available: true,
            wildcard_subscription_available: true,
            subscription_identifiers_available: false,
            shared_subscription_available: false,
            server_keepalive_sec: keep_alive_secs,
            response_info: None,
            server_reference: None,
            auth_method: None,
            auth_data: None,
            reason_string: None,
            user_properties: Vec::new(),
        })),
        Outbound::PubAck { packet_id, reason } => v5::Packet::PublishAck(v5::PublishAck {
            packet_id: nz(packet_id),
            reason_code: v5::PublishAckReason::try_from(reason)
                .unwrap_or(v5::PublishAckReason::UnspecifiedError),
            properties: Vec::new(),
            reason_string: None,
        }),
        Outbound::PubRec { packet_id, reason } => v5::Packet::PublishReceived(v5::PublishAck {
            packet_id: nz(packet_id),
            reason_code: v5::PublishAckReason::try_from(reason)
                .unwrap_or(v5::PublishAckReason::UnspecifiedError),
            properties: Vec::new(),
            reason_string: None,
        }),
        Outbound::PubComp { packet_id } => v5::Packet::PublishComplete(v5::PublishAck2 {
            packet_id: nz(packet_id),
            reason_code: v5::PublishAck2Reason::Success,
            properties: Vec::new(),
            reason_string: None,
        }),
        Outbound::SubAck { packet_id, reasons } => v5::Packet::SubscribeAck(v5::SubscribeAck {
            packet_id: nz(packet_id),
            properties: Vec::new(),
            reason_string: None,
            status: reasons
                .into_iter()
                .map(|r| {
                    v5::SubscribeAckReason::try_from(r)
                        .unwrap_or(v5::SubscribeAckReason::UnspecifiedError)
                })
                .collect(),
        }),
        Outbound::UnsubAck { packet_id, reasons } => {
            v5::Packet::UnsubscribeAck(v5::UnsubscribeAck {
                packet_id: nz(packet_id),
                properties: Vec::new(),
                reason_string: None,
                status: reasons
                    .into_iter()
                    .map(|r| {
                        v5::UnsubscribeAckReason::try_from(r)
                            .unwrap_or(v5::UnsubscribeAckReason::UnspecifiedError)
                    })
                    .collect(),
            })
        }
        Outbound::PingResp => v5::Packet::PingResponse,
        Outbound::Disconnect { reason } => v5::Packet::Disconnect(v5::Disconnect {
            reason_code: v5::DisconnectReasonCode::try_from(reason)
                .unwrap_or(v5::DisconnectReasonCode::UnspecifiedError),
            session_expiry_interval_secs: None,
            server_reference: None,
            reason_string: None,
            user_properties: Vec::new(),
        }),
    }
}
