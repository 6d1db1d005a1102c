//! Feeds arbitrary bytes to the server's frame decoder (`proto::decode_client`)
//! with the default frame limit: it must answer with a message or an error, never
//! panic or take more than the frame's size in memory; a decoded message must
//! survive a second encode/decode unchanged (compared as bytes, since a float field
//! may hold NaN, which never equals itself), and every value in it must convert to
//! JSON or say it cannot.

#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;

/// The server's default `live_frame_bytes_max`.
const FRAME_BYTES_MAX: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = proto::decode_client(data, FRAME_BYTES_MAX) else {
        return;
    };
    let bytes = message.encode_to_vec();
    let again = proto::decode_client(&bytes, usize::MAX).expect("a re-encoded message decodes");
    assert_eq!(again.encode_to_vec(), bytes, "encode(decode(encode(m))) == encode(m)");
    if let Some(proto::client_message::Body::PatchTwin(patch)) = &message.body
        && let Some(value) = &patch.value
    {
        let _ = value.to_json();
    }
});
