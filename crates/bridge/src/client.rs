//! One face over rumqttc's two clients, MQTT 3.1.1 (`rumqttc`) and MQTT 5
//! (`rumqttc::v5`): the bridge needs the same few things of both (poll an
//! event, acknowledge a PUBLISH, subscribe, publish a dead letter, disconnect,
//! drop the connection), and the rest of the crate does not care which
//! protocol version carried a message.

use rumqttc::v5::mqttbytes::QoS as V5QoS;
use rumqttc::v5::mqttbytes::v5 as v5bytes;
use rumqttc::{ConnectReturnCode, Event, Outgoing, Packet, QoS, SubscribeReasonCode};

use crate::config::Subscription;

/// A PUBLISH received from the external broker.
pub(crate) enum Received {
    V4(rumqttc::Publish),
    V5(v5bytes::Publish),
}

impl Received {
    /// The topic; `None` when an MQTT 5 topic is not UTF-8 (which the
    /// protocol forbids), so no rule can be about it.
    pub(crate) fn topic(&self) -> Option<&str> {
        match self {
            Received::V4(publish) => Some(&publish.topic),
            Received::V5(publish) => std::str::from_utf8(&publish.topic).ok(),
        }
    }

    pub(crate) fn payload(&self) -> &[u8] {
        match self {
            Received::V4(publish) => &publish.payload,
            Received::V5(publish) => &publish.payload,
        }
    }

    /// Whether the broker waits for an acknowledgement.
    pub(crate) fn needs_ack(&self) -> bool {
        match self {
            Received::V4(publish) => publish.qos != QoS::AtMostOnce,
            Received::V5(publish) => publish.qos != V5QoS::AtMostOnce,
        }
    }
}

/// What a poll of the connection brought.
pub(crate) enum NetEvent {
    /// Connected; whether the broker still had our session.
    Connected { session_present: bool },
    /// A message.
    Publish(Received),
    /// The broker refused the subscriptions at these positions.
    SubscriptionsRefused(Vec<usize>),
    /// Our DISCONNECT was written.
    DisconnectSent,
    /// Anything else (acks, pings).
    Other,
}

/// The request side (cheap to clone, shared by both tasks).
#[derive(Clone)]
pub(crate) enum Client {
    V4(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

impl Client {
    /// Acknowledges `received` (nothing for QoS 0); waits only for room in
    /// the request queue.
    pub(crate) async fn ack(&self, received: &Received) -> bool {
        match (self, received) {
            (Client::V4(client), Received::V4(publish)) => client.ack(publish).await.is_ok(),
            (Client::V5(client), Received::V5(publish)) => client.ack(publish).await.is_ok(),
            // A client only ever receives its own version's packets.
            _ => false,
        }
    }

    /// Queues a QoS 0 publish; `false` when the request queue is full.
    pub(crate) fn try_publish(&self, topic: &str, payload: String) -> bool {
        match self {
            Client::V4(client) => client
                .try_publish(topic, QoS::AtMostOnce, false, payload)
                .is_ok(),
            Client::V5(client) => client
                .try_publish(topic, V5QoS::AtMostOnce, false, payload)
                .is_ok(),
        }
    }

    /// Queues one SUBSCRIBE with every subscription.
    pub(crate) fn try_subscribe(&self, subscriptions: &[Subscription]) -> Result<(), String> {
        match self {
            Client::V4(client) => client
                .try_subscribe_many(subscriptions.iter().map(|s| {
                    rumqttc::SubscribeFilter::new(
                        s.filter.clone(),
                        if s.qos == 0 {
                            QoS::AtMostOnce
                        } else {
                            QoS::AtLeastOnce
                        },
                    )
                }))
                .map_err(|e| e.to_string()),
            Client::V5(client) => client
                .try_subscribe_many(subscriptions.iter().map(|s| {
                    v5bytes::Filter::new(
                        s.filter.clone(),
                        if s.qos == 0 {
                            V5QoS::AtMostOnce
                        } else {
                            V5QoS::AtLeastOnce
                        },
                    )
                }))
                .map_err(|e| e.to_string()),
        }
    }

    /// Queues a DISCONNECT; `false` when the request queue is full.
    pub(crate) fn try_disconnect(&self) -> bool {
        match self {
            Client::V4(client) => client.try_disconnect().is_ok(),
            Client::V5(client) => client.try_disconnect().is_ok(),
        }
    }
}

/// The connection side, owned by the network task.
/// Both event loops are boxed: the connection is created once and lives as
/// long as the bridge, and the two differ much in size.
pub(crate) enum Connection {
    V4(Box<rumqttc::EventLoop>),
    V5(Box<rumqttc::v5::EventLoop>),
}

impl Connection {
    /// Sets the TCP options: Nagle off, the connect timeout.
    pub(crate) fn configure_network(&mut self, connect_timeout_secs: u64) {
        let configure = |mut options: rumqttc::NetworkOptions| {
            options.set_connection_timeout(connect_timeout_secs);
            // Acknowledgements are tiny packets sent one by one; with Nagle's
            // algorithm each waits for the broker's delayed ACK (tens of ms),
            // which capped QoS 1 at a few hundred messages a second.
            options.set_tcp_nodelay(true);
            options
        };
        match self {
            Connection::V4(eventloop) => {
                let options = configure(eventloop.network_options());
                eventloop.set_network_options(options);
            }
            Connection::V5(eventloop) => {
                let options = configure(eventloop.options.network_options());
                eventloop.options.set_network_options(options);
            }
        }
    }

    /// The next event; an error is described for operators. Continuing to
    /// poll after an error reconnects.
    pub(crate) async fn poll(&mut self) -> Result<NetEvent, String> {
        match self {
            Connection::V4(eventloop) => match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(connack))) => Ok(NetEvent::Connected {
                    session_present: connack.session_present,
                }),
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    Ok(NetEvent::Publish(Received::V4(publish)))
                }
                Ok(Event::Incoming(Packet::SubAck(suback))) => Ok(NetEvent::SubscriptionsRefused(
                    suback
                        .return_codes
                        .iter()
                        .enumerate()
                        .filter(|(_, code)| **code == SubscribeReasonCode::Failure)
                        .map(|(i, _)| i)
                        .collect(),
                )),
                Ok(Event::Outgoing(Outgoing::Disconnect)) => Ok(NetEvent::DisconnectSent),
                Ok(_) => Ok(NetEvent::Other),
                Err(rumqttc::ConnectionError::ConnectionRefused(code)) => {
                    Err(refused(refusal_v4(code)))
                }
                Err(error) => Err(error.to_string()),
            },
            Connection::V5(eventloop) => match eventloop.poll().await {
                Ok(rumqttc::v5::Event::Incoming(v5bytes::Packet::ConnAck(connack))) => {
                    Ok(NetEvent::Connected {
                        session_present: connack.session_present,
                    })
                }
                Ok(rumqttc::v5::Event::Incoming(v5bytes::Packet::Publish(publish))) => {
                    Ok(NetEvent::Publish(Received::V5(publish)))
                }
                Ok(rumqttc::v5::Event::Incoming(v5bytes::Packet::SubAck(suback))) => {
                    Ok(NetEvent::SubscriptionsRefused(
                        suback
                            .return_codes
                            .iter()
                            .enumerate()
                            .filter(|(_, code)| {
                                !matches!(code, v5bytes::SubscribeReasonCode::Success(_))
                            })
                            .map(|(i, _)| i)
                            .collect(),
                    ))
                }
                Ok(rumqttc::v5::Event::Outgoing(Outgoing::Disconnect)) => {
                    Ok(NetEvent::DisconnectSent)
                }
                Ok(_) => Ok(NetEvent::Other),
                Err(rumqttc::v5::ConnectionError::ConnectionRefused(code)) => {
                    Err(refused(refusal_v5(code)))
                }
                Err(error) => Err(error.to_string()),
            },
        }
    }

    /// Drops the network connection (the next poll reconnects).
    pub(crate) fn clean(&mut self) {
        match self {
            Connection::V4(eventloop) => eventloop.clean(),
            Connection::V5(eventloop) => eventloop.clean(),
        }
    }
}

pub(crate) fn refused(why: &str) -> String {
    format!("the broker refused the connection: {why}")
}

fn refusal_v4(code: ConnectReturnCode) -> &'static str {
    match code {
        ConnectReturnCode::BadUserNamePassword => "bad user name or password",
        ConnectReturnCode::NotAuthorized => "not authorized",
        ConnectReturnCode::BadClientId => "client id rejected",
        ConnectReturnCode::ServiceUnavailable => "service unavailable",
        ConnectReturnCode::RefusedProtocolVersion => "MQTT 3.1.1 not supported",
        ConnectReturnCode::Success => "success code in a refusal",
    }
}

fn refusal_v5(code: v5bytes::ConnectReturnCode) -> &'static str {
    use v5bytes::ConnectReturnCode as Code;
    match code {
        Code::BadUserNamePassword => "bad user name or password",
        Code::NotAuthorized => "not authorized",
        Code::Banned => "banned",
        Code::BadClientId | Code::ClientIdentifierNotValid => "client id rejected",
        Code::RefusedProtocolVersion | Code::UnsupportedProtocolVersion => {
            "MQTT 5 not supported (set protocol = \"3.1.1\")"
        }
        Code::ServiceUnavailable | Code::ServerUnavailable => "service unavailable",
        Code::ServerBusy => "server busy",
        Code::QuotaExceeded => "quota exceeded",
        Code::ConnectionRateExceeded => "connection rate exceeded",
        Code::BadAuthenticationMethod => "bad authentication method",
        Code::UseAnotherServer | Code::ServerMoved => "use another server",
        Code::PacketTooLarge => "packet too large",
        Code::MalformedPacket | Code::ProtocolError => "protocol error",
        _ => "unspecified reason",
    }
}
